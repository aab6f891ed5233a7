import Foundation
import Testing
import TensorCore
@testable import ONNX

/// Bad models and bad data give one clear sentence naming the problem and what to do; tests pin the wording.
@Suite struct LoadErrorTests {
    static let fixtures = try! EngineFixtures.load()

    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch let error as ONNXError { return error.message } catch { return "unexpected \(error)" }
        return "no error"
    }

    @Test func truncatedFile() {
        let text = message { _ = try ONNXModel.load(path: EngineFixtures.path("models/truncated.onnx")) }
        #expect(text.contains("truncated.onnx' is not a valid ONNX file"))
        #expect(text.contains("re-export it"))
    }

    @Test func notAnOnnxFile() {
        let text = message { _ = try ONNXModel.load(path: EngineFixtures.path("models/not_onnx.onnx")) }
        #expect(text.contains("not_onnx.onnx' is not a valid ONNX"))
    }

    @Test func missingFile() {
        let text = message { _ = try ONNXModel.load(path: "/nonexistent/model.onnx") }
        #expect(text == "model file '/nonexistent/model.onnx' does not exist; pass the path of an .onnx file with --model")
    }

    @Test func unsupportedOperatorFailsAtPlanTimeNamingOpNodeAndOpset() throws {
        let model = try ONNXModel.load(path: EngineFixtures.path("models/unsupported_op.onnx"))
        let text = message { _ = try model.plan(targets: [try model.defaultOutput()]) }
        #expect(text.hasPrefix("operator Atan (opset "))
        #expect(text.contains("in node '"))
        #expect(text.contains("is not supported; supported operators: \(OperatorRegistry.supportedList())"))
    }

    @Test func staticBatchModelRejectsAnotherBatchSize() throws {
        let model = try ONNXModel.load(path: EngineFixtures.path("models/mlp_static.onnx"))
        let text = message { try model.validate(sampleShape: [64]) }
        #expect(text.contains("has a fixed batch size of 3"))
        #expect(text.contains("re-export it with a dynamic batch dimension"))
    }

    @Test func dataShapeMismatch() throws {
        let model = try ONNXModel.load(path: EngineFixtures.path("models/mlp_dynamo.onnx"))
        let text = message { try model.validate(sampleShape: [8, 8]) }
        #expect(text == "the data has samples of shape 8×8 but model input 'x' expects 64 per sample; reshape the data (N, 64) or pick the matching model")
    }

    @Test func missingExternalDataFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-external-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("mlp_external.onnx")
        try FileManager.default.copyItem(atPath: EngineFixtures.path("models/mlp_external.onnx"), toPath: copy.path)
        let text = message { _ = try ONNXModel.load(path: copy.path) }
        #expect(text.contains("external data file 'mlp_external.onnx.data'"))
        #expect(text.contains("keep the data file next to the .onnx file"))
    }

    @Test func unknownLayerSuggestsCloseNames() throws {
        let model = try ONNXModel.load(path: EngineFixtures.path("models/mlp_legacy.onnx"))
        let text = message { _ = try model.resolveTensor("/fc1/Relu_output_0", flag: "--layer") }
        #expect(text.hasPrefix("--layer '/fc1/Relu_output_0' is not a tensor or node of the model; did you mean "))
        #expect(text.contains("'/relu1/Relu_output_0'"))
        #expect(text.hasSuffix("Run `modscope inspect` to list them"))
        #expect(try model.resolveTensor("/fc1/Gemm", flag: "--layer") == "/fc1/Gemm_output_0")
    }

    @Test func sklearnDefaultOutputIsTheProbabilityTensorBeforeZipMap() throws {
        let model = try ONNXModel.load(path: EngineFixtures.path("models/sklearn_mlp.onnx"))
        #expect(try model.defaultOutput() == "out_activations_result")
        // The label branch (ArgMax, ArrayFeatureExtractor) and ZipMap are pruned: the plan runs.
        #expect(throws: Never.self) { _ = try model.plan(targets: ["out_activations_result"]) }
    }
}
