import Foundation
import Testing
@testable import Attribution
@testable import ModScope

/// `modscope attribute` writes the same bytes whatever --batch-size and --threads.
@Suite(.serialized) struct AttributeDeterminismTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/digits")

    func run(method: AttributionMethod, model: String, data: String, layer: String, batchSize: Int, threads: Int) throws -> Data {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-det-\(getpid())-\(batchSize)-\(threads).npy").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let request = AttributionRequest(
            modelPath: Self.examples.appendingPathComponent(model).path, dataPath: Self.examples.appendingPathComponent(data).path,
            layer: layer, configuration: AttributionConfiguration(method: method, steps: 20))
        var runner = AttributeCommandRunner(request: request, outputPath: out, deltaPath: nil, batchSize: batchSize, threads: threads, quiet: true)
        try runner.run()
        return try Data(contentsOf: URL(fileURLWithPath: out))
    }

    @Test(arguments: [AttributionMethod.conductance, .deeplift, .integratedGradients, .gradient])
    func mlpBytesIndependentOfBatchSizeAndThreads(method: AttributionMethod) throws {
        let reference = try run(method: method, model: "mlp.onnx", data: "data.npy", layer: "relu", batchSize: 64, threads: 1)
        #expect(try run(method: method, model: "mlp.onnx", data: "data.npy", layer: "relu", batchSize: 1000, threads: 2) == reference)
        #expect(try run(method: method, model: "mlp.onnx", data: "data.npy", layer: "relu", batchSize: 200, threads: 3) == reference)
    }

    @Test func cnnBytesIndependentOfBatchSizeAndThreads() throws {
        let reference = try run(method: .conductance, model: "cnn.onnx", data: "images.npy", layer: "relu", batchSize: 64, threads: 1)
        #expect(try run(method: .conductance, model: "cnn.onnx", data: "images.npy", layer: "relu", batchSize: 2048, threads: 2) == reference)
    }
}
