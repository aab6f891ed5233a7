import ArrayFiles
import Foundation
import Testing
import TensorCore
@testable import Attribution
@testable import ONNX

/// Captum 0.9.0 reference attributions made by scripts/make_attribution_fixtures.py.
struct CaptumCase: Decodable, Sendable, CustomTestStringConvertible {
    var id: String
    var model: String
    var input_name: String
    var layer: String
    var output: String
    var method: String
    var steps: Int?
    var quadrature: String?
    var baseline: String?
    var granularity: String
    var input: String
    var target: String
    var expected: String
    var delta: String?
    var reference: String

    var testDescription: String { id + (reference == "textbook" ? " (textbook)" : "") }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func path(_ relative: String) -> String { folder.appendingPathComponent(relative).path }

    static let all: [CaptumCase] = {
        struct Manifest: Decodable { var cases: [CaptumCase] }
        let data = try! Data(contentsOf: folder.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data).cases
    }()

    static func tensor(_ relative: String) throws -> Tensor {
        let reader = try NPYReader(path: path(relative))
        return Tensor(shape: reader.shape, storage: try reader.readAllFloats())
    }
}

@Suite struct CaptumParityTests {
    /// Cases where Captum 0.9.0 is known to be wrong and ModScope implements the textbook rule instead: the
    /// hook-order quirk on Conv→ReLU→MaxPool (captum#1104). The textbook reference of the same inputs is tested.
    static func isDeliberateDifference(_ c: CaptumCase) -> Bool {
        guard c.method == "deeplift", c.reference == "captum" else { return false }
        return CaptumCase.all.contains { $0.reference == "textbook" && $0.id == c.id + "_textbook" }
    }

    static let comparable = CaptumCase.all.filter { !isDeliberateDifference($0) }

    @Test(arguments: comparable)
    func matchesCaptum(_ c: CaptumCase) throws {
        let model = try ONNXModel.load(path: CaptumCase.path(c.model))
        let samples = try CaptumCase.tensor(c.input)
        let sampleShape = Array(samples.shape.dropFirst())
        let configuration = AttributionConfiguration(
            method: try #require(AttributionMethod(rawValue: c.method)), steps: c.steps ?? 50,
            quadrature: c.quadrature.flatMap(Quadrature.init(rawValue:)) ?? .gaussLegendre,
            granularity: Granularity(rawValue: c.granularity))
        let attributor = try LayerAttributor(
            graph: model.graph, input: c.input_name, layer: c.layer, output: c.output, sampleShape: sampleShape,
            configuration: configuration)
        let baselines: Tensor
        if let baseline = c.baseline {
            let one = try CaptumCase.tensor(baseline)
            baselines = Tensor.concatenateRows([Tensor](repeating: one.reshaped([1] + sampleShape), count: samples.shape[0]))
        } else {
            baselines = Tensor(zeros: samples.shape)
        }
        let targets = try NPYReader(path: CaptumCase.path(c.target)).integerValues()
        let result = try attributor.attribute(samples: samples, baselines: baselines, targets: targets)
        let expected = try CaptumCase.tensor(c.expected)
        let ours = Tensor(shape: expected.shape, storage: result.attributions)
        #expect(result.attributions.count == expected.count)
        var worst: Float = 0
        for i in 0..<min(ours.count, expected.count) { worst = max(worst, abs(ours.storage[i] - expected.storage[i])) }
        let scale = max(expected.maxAbsolute, 1e-12)
        #expect(worst <= 1e-4 * scale, "\(c.id): max |ours − Captum| = \(worst), max |Captum| = \(scale)")
        if let deltaFile = c.delta, c.reference == "captum", let delta = result.delta {
            // Completeness errors agree up to float32 rounding of the sums.
            let expectedDelta = try CaptumCase.tensor(deltaFile)
            for i in 0..<delta.count {
                #expect(abs(delta[i] - expectedDelta.storage[i]) <= 1e-4 * max(scale, 1), "\(c.id) delta[\(i)]")
            }
        }
    }
}
