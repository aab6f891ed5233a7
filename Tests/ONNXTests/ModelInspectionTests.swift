import Testing
@testable import ONNX

/// `modscope inspect` marks the layers in which the default output is affine (conductance telescopes there).
@Suite struct ModelInspectionTests {
    @Test func affineSuffixIsMarkedOnlyAfterTheLastNonlinearity() throws {
        let model = try ONNXModel.load(path: EngineFixtures.path("models/mlp_dynamo.onnx"))
        let inspection = ModelInspection(model: model)
        let affine = Set(inspection.tensors.filter { $0.attributable && $0.affineSuffix }.map(\.tensor))
        // Gemm-ReLU-Gemm-ReLU-Gemm: only the last ReLU (relu_1) and the output itself.
        #expect(affine == ["relu_1", "output"] || affine == ["relu_1"], "\(affine)")
        #expect(!affine.contains("linear_1") && !affine.contains("relu"))
        let line = try #require(inspection.text.split(separator: "\n").first { $0.contains(" relu_1 ") })
        #expect(line.hasSuffix("affine"))
        #expect(inspection.text.contains("conductance there telescopes to 2 evaluations"))
    }

    @Test func noHiddenLayerIsAffineInFrontOfASoftmax() throws {
        let model = try ONNXModel.load(path: EngineFixtures.path("models/sklearn_mlp.onnx"))
        let inspection = ModelInspection(model: model)
        // Only the explained output itself (trivially affine in itself); every hidden layer is behind a Softmax.
        let affine = inspection.tensors.filter { $0.attributable && $0.affineSuffix }.map(\.tensor)
        #expect(affine.allSatisfy { $0 == inspection.defaultOutput }, "\(affine)")
        #expect(inspection.tensors.contains { $0.attributable && !$0.affineSuffix })
    }
}
