import Autodiff
import Foundation
import Testing
import TensorCore
@testable import Attribution
@testable import ONNX

/// Axioms the methods must satisfy whatever Captum does: completeness and guided-ReLU sign.
@Suite struct PropertyTests {
    static func attributor(
        _ model: String, layer: String, method: AttributionMethod, quadrature: Quadrature = .gaussLegendre, output: String? = nil
    ) throws -> (LayerAttributor, Tensor) {
        let onnx = try ONNXModel.load(path: CaptumCase.path("models/\(model).onnx"))
        let samples = try CaptumCase.tensor(model.hasPrefix("acnn") ? "data/acnn_input.npy" : model.hasPrefix("sigtanh") ? "data/sigtanh_input.npy" : "data/mlp_input.npy")
        let attributor = try LayerAttributor(
            graph: onnx.graph, input: try onnx.input.name, layer: layer, output: try output ?? onnx.defaultOutput(),
            sampleShape: Array(samples.shape.dropFirst()),
            configuration: AttributionConfiguration(method: method, quadrature: quadrature))
        return (attributor, samples)
    }

    /// A random baseline makes completeness non-trivial (every unit moves).
    static func randomBaseline(like samples: Tensor, seed: UInt64) -> Tensor {
        var state = seed
        return Tensor(shape: samples.shape, storage: (0..<samples.count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23) * 0.5
        })
    }

    /// sigtanh ends in LogSoftmax, which keeps its ordinary gradient: completeness holds for its logits
    /// (`--output` the last Gemm), the tensor the docs tell users to explain.
    @Test(arguments: [
        ("mlp_dynamo", "linear", nil), ("mlp_legacy", "/relu1/Relu_output_0", nil), ("sigtanh_dynamo", "sigmoid", "linear_2"),
        ("acnn_dynamo", "conv2d_1", nil),
    ])
    func deepLiftSumsToTheOutputDifference(model: String, layer: String, output: String?) throws {
        let (attributor, samples) = try Self.attributor(model, layer: layer, method: .deeplift, output: output)
        let baselines = Self.randomBaseline(like: samples, seed: 3)
        let result = try attributor.attribute(samples: samples, baselines: baselines, targets: nil)
        let endpoints = try attributor.endpointPlan.forward(feeds: [attributor.inputName: .float(Tensor.concatenateRows([samples, baselines]))])
        let out = try endpoints.tensor(attributor.output)
        let n = samples.shape[0]
        for i in 0..<n {
            let t = result.targets[i]
            let difference = out.storage[i * attributor.outputWidth + t] - out.storage[(n + i) * attributor.outputWidth + t]
            #expect(abs(result.delta![i]) <= 1e-4 * max(abs(difference), 1e-3), "\(model) sample \(i): delta \(result.delta![i]) for ΔF \(difference)")
        }
    }

    @Test func trapezoidConductanceIsCompleteBeforeLinearOps() throws {
        // relu2 feeds only the last Linear: the telescoping sum is exact with both endpoints (trapezoid).
        let (attributor, samples) = try Self.attributor("mlp_legacy", layer: "/relu2/Relu_output_0", method: .conductance, quadrature: .riemannTrapezoid)
        let result = try attributor.attribute(samples: samples, baselines: Self.randomBaseline(like: samples, seed: 5), targets: nil)
        let scale = result.attributions.map(abs).max()!
        for delta in result.delta! { #expect(abs(delta) <= 1e-4 * scale) }
    }

    @Test func guidedBackpropPassesNoNegativeGradientThroughRelu() throws {
        let (attributor, samples) = try Self.attributor("mlp_legacy", layer: "/fc1/Gemm_output_0", method: .guidedBackprop)
        let execution = try attributor.endpointPlan.forward(feeds: [attributor.inputName: .float(samples)])
        let out = try execution.tensor(attributor.output)
        var seed = Tensor(zeros: out.shape)
        for i in 0..<samples.shape[0] { seed.storage[i * attributor.outputWidth + (i % attributor.outputWidth)] = 1 }
        let recorder = ReluRecorder()
        let checking: BackwardRule = { node, context in
            let result = try BackwardRules.guidedRelu(node, context)
            if let gradient = result?.first ?? nil { recorder.record(gradient) }
            return result
        }
        _ = try execution.gradients(seeds: [attributor.output: seed], withRespectTo: [attributor.layer], rule: checking)
        #expect(recorder.visits == 2, "both Relus above fc1 are visited")
        #expect(recorder.minimum >= 0)
        // The plain gradient does carry negative values through the same Relus: the rule matters.
        let plain = try execution.gradients(seeds: [attributor.output: seed], withRespectTo: ["/relu1/Relu_output_0"])
        #expect(plain["/relu1/Relu_output_0"]!.storage.contains { $0 < 0 })
    }

    final class ReluRecorder: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var visits = 0
        private(set) var minimum = Float.infinity
        func record(_ gradient: Tensor) {
            lock.withLock {
                visits += 1
                minimum = min(minimum, gradient.storage.min() ?? 0)
            }
        }
    }
}
