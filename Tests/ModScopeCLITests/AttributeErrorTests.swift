import ArrayFiles
import Foundation
import Testing

/// Bad input to `modscope attribute`: one clear sentence on stderr, exit code 2, and no output file.
@Suite(.serialized) struct AttributeErrorTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let mlp = root.appendingPathComponent("examples/digits/mlp.onnx").path
    static let data = root.appendingPathComponent("examples/digits/data.npy").path
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-cli-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func attribute(_ extra: [String], data: String = AttributeErrorTests.data, model: String = AttributeErrorTests.mlp) throws -> (CommandResult, String) {
        let out = folder.appendingPathComponent("out.npy").path
        let result = try ModScopeBinary.run(["attribute", "--model", model, "--data", data, "--out", out, "--quiet"] + extra)
        return (result, out)
    }

    func expectRejected(_ result: CommandResult, _ out: String, containing fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 2, "exit status \(result.status): \(result.standardError)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(result.standardError.contains(fragment), "stderr: \(result.standardError)", sourceLocation: sourceLocation)
        }
        #expect(result.standardError.hasPrefix("error: "), sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: out), "no output file", sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: out + ".partial"), "no partial file", sourceLocation: sourceLocation)
    }

    @Test func unknownLayerSuggestsCloseNames() throws {
        let (result, out) = try attribute(["--layer", "relu_2"])
        expectRejected(result, out, containing: ["--layer 'relu_2' is not a tensor, node or module path of the model; nearest:", "'relu_1'", "modscope inspect"])
    }

    @Test func layerNotOnTheOutputsPath() throws {
        let (result, out) = try attribute(["--layer", "relu_1", "--output", "linear"])
        expectRejected(result, out, containing: ["--layer 'relu_1' does not feed --output 'linear'"])
    }

    @Test func targetOutOfRange() throws {
        let (result, out) = try attribute(["--layer", "relu", "--target", "10"])
        expectRejected(result, out, containing: ["--target 10 is out of range", "has 10 units (0–9)"])
    }

    @Test func labelsLengthMismatch() throws {
        let labels = folder.appendingPathComponent("labels.npy").path
        try NPYWriter.write([Int32](repeating: 1, count: 5), shape: [5], to: labels)
        let (result, out) = try attribute(["--layer", "relu", "--target", "labels", "--labels", labels])
        expectRejected(result, out, containing: ["has 5 labels but --data", "has 1797 samples"])
    }

    @Test func nonFiniteData() throws {
        var values = [Float](repeating: 0.5, count: 130 * 64)
        values[100 * 64 + 7] = .nan
        let data = folder.appendingPathComponent("nan.npy").path
        try NPYWriter.write(values, shape: [130, 64], to: data)
        let (result, out) = try attribute(["--layer", "relu"], data: data)
        expectRejected(result, out, containing: ["sample 100 of the data contains NaN or infinity"])
    }

    @Test func emptyData() throws {
        let data = folder.appendingPathComponent("empty.npy").path
        try NPYWriter.write([Float](), shape: [0, 64], to: data)
        let (result, out) = try attribute(["--layer", "relu"], data: data)
        expectRejected(result, out, containing: ["holds no samples"])
    }

    @Test func dataShapeMismatch() throws {
        let images = Self.root.appendingPathComponent("examples/digits/images.npy").path
        let (result, out) = try attribute(["--layer", "relu"], data: images)
        expectRejected(result, out, containing: ["the data has samples of shape 1×8×8 but model input", "expects 64 per sample"])
    }

    @Test func staticBatchModel() throws {
        let model = Self.root.appendingPathComponent("Tests/ONNXTests/Fixtures/models/mlp_static.onnx").path
        let (result, out) = try attribute(["--layer", "/relu1/Relu_output_0"], model: model)
        expectRejected(result, out, containing: ["has a fixed batch size of 3", "re-export it with a dynamic batch dimension"])
    }

    @Test func truncatedModel() throws {
        let model = Self.root.appendingPathComponent("Tests/ONNXTests/Fixtures/models/truncated.onnx").path
        let (result, out) = try attribute(["--layer", "x"], model: model)
        expectRejected(result, out, containing: ["is not a valid ONNX file"])
    }

    @Test func notAnOnnxFile() throws {
        let model = Self.root.appendingPathComponent("Tests/ONNXTests/Fixtures/models/not_onnx.onnx").path
        let (result, out) = try attribute(["--layer", "x"], model: model)
        expectRejected(result, out, containing: ["not_onnx.onnx' is not a valid ONNX file", "re-export it"])
    }

    @Test func missingExternalDataFile() throws {
        let model = folder.appendingPathComponent("mlp_external.onnx").path
        try FileManager.default.copyItem(
            atPath: Self.root.appendingPathComponent("Tests/ONNXTests/Fixtures/models/mlp_external.onnx").path, toPath: model)
        let (result, out) = try attribute(["--layer", "relu"], model: model)
        expectRejected(result, out, containing: ["external data file 'mlp_external.onnx.data'", "keep the data file next to the .onnx file"])
    }

    @Test func unsupportedOperator() throws {
        let model = Self.root.appendingPathComponent("Tests/ONNXTests/Fixtures/models/unsupported_op.onnx").path
        let data = folder.appendingPathComponent("eight.npy").path
        try NPYWriter.write([Float](repeating: 0.1, count: 16), shape: [2, 8], to: data)
        let (result, out) = try attribute(["--layer", "/fc1/Gemm_output_0"], data: data, model: model)
        expectRejected(result, out, containing: ["operator Atan (opset", "is not supported"])
    }

    @Test func successWritesTheMatrix() throws {
        let (result, out) = try attribute(["--layer", "relu", "--method", "grad-x-act"])
        #expect(result.status == 0, "\(result.standardError)")
        let reader = try NPYReader(path: out)
        #expect(reader.shape == [1797, 64])
    }
}

/// Usage errors (a missing option, a value of the wrong type) exit 2 as DESIGN.md says, not ArgumentParser's 64.
@Suite struct UsageErrorTests {
    @Test func missingRequiredOptionExitsTwo() throws {
        let result = try ModScopeBinary.run(["attribute", "--model", "model.onnx"])
        #expect(result.status == 2)
        #expect(result.standardError.contains("Missing"))
    }

    @Test func malformedValueExitsTwo() throws {
        let result = try ModScopeBinary.run(["bicluster", "--matrix", "a.npy", "--k", "3", "--out", "o", "--restarts", "many"])
        #expect(result.status == 2)
    }

    @Test func helpExitsZero() throws {
        #expect(try ModScopeBinary.run(["run", "--help"]).status == 0)
    }
}
