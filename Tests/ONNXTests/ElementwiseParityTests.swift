import ArrayFiles
import Autodiff
import Foundation
import Testing
import TensorCore
@testable import ONNX

/// The elementwise, comparison, logic and normalisation operators against onnxruntime on one hand-built
/// opset-20 model (scripts/make_operator_fixtures.py): every graph output within 1e-5·max(1, max |ref|).
@Suite struct ElementwiseParityTests {
    @Test func everyOutputMatchesOnnxRuntime() throws {
        let model = try ONNXModel.load(path: EngineFixtures.path("models/elementwise_ops.onnx"))
        let reference = try NPZArchive(path: EngineFixtures.path("reference/elementwise_ops.npz"))
        let xReader = try reference.reader(forKey: "x")
        let x = Tensor(shape: xReader.shape, storage: try xReader.readAllFloats())
        let plan = try model.plan(targets: model.graph.outputs)
        let execution = try plan.forward(feeds: ["x": .float(x)])
        #expect(model.graph.outputs.count == 26)
        for name in model.graph.outputs {
            let expected = try reference.reader(forKey: name)
            let values = try expected.readAllFloats()
            let actual = try execution.tensor(name)
            #expect(actual.shape == expected.shape, "\(name)")
            let scale = max(1, values.map { abs($0) }.max() ?? 0)
            let worst = zip(actual.storage, values).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5 * scale, "\(name): worst error \(worst) (scale \(scale))")
        }
    }

    /// The model's Gelu, LayerNormalization and Where nodes carry their registry traits.
    @Test func traitsComeFromTheRegistry() throws {
        let model = try ONNXModel.load(path: EngineFixtures.path("models/elementwise_ops.onnx"))
        let traits = Dictionary(model.graph.nodes.map { ($0.opType, $0.traits) }, uniquingKeysWith: { a, _ in a })
        #expect(traits["Gelu"] == .rescale)
        #expect(traits["LayerNormalization"] == .gradient)
        #expect(traits["Equal"]?.differentiable == false)
        #expect(traits["Where"]?.differentiable == true)
        #expect(traits["Neg"]?.affine == true)
    }

    /// A VJP-less op (Floor) between the layer and the output is refused naming the node.
    @Test func floorOnTheGradientPathIsRefused() throws {
        let model = try ONNXModel.load(path: EngineFixtures.path("models/elementwise_ops.onnx"))
        let plan = try model.plan(targets: ["inv_floor", "imod"])
        let execution = try plan.forward(feeds: ["x": .float(Tensor(repeating: 0.25, shape: [1, 2, 6]))])
        do {
            try execution.checkGradientPath(seeds: ["inv_floor"], withRespectTo: ["x"])
            Issue.record("Floor on the gradient path must be refused")
        } catch let error as GraphError {
            #expect(error.message.contains("(Floor) lies on the gradient path from 'inv_floor'"))
        }
        // x → Mul → Cast to INT64 → Mod → Cast to float: the integer stretch carries no gradient, so no refusal.
        try execution.checkGradientPath(seeds: ["imod"], withRespectTo: ["x"])
    }
}
