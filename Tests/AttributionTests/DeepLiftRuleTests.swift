import Autodiff
import Foundation
import Testing
import TensorCore
@testable import Attribution

/// DeepLIFT's rules for the activations Captum 0.9.0 has no rule for (docs/methods.md): completeness
/// Σ attributions = F(x) − F(x′) on small hand-built graphs with GELU, SiLU (Mul(x, Sigmoid(x))) and HardSwish.
@Suite struct DeepLiftRuleTests {
    enum Activation: String, CaseIterable, Sendable { case gelu, geluTanh, silu, hardSwish, erfPow }

    static func weights(_ shape: [Int], seed: UInt64) -> Value {
        var state = seed
        return .float(Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23) * 1.5
        }))
    }

    /// Nodes computing `name` = activation(`input`).
    static func activation(_ kind: Activation, _ input: String, _ name: String) -> [Graph.Node] {
        func node(_ op: any Operator, _ opType: String, _ inputs: [String], _ output: String) -> Graph.Node {
            Graph.Node(name: output, opType: opType, opsetVersion: 20, inputs: inputs, outputs: [output], op: op)
        }
        switch kind {
        case .gelu: return [node(UnaryOperator(.gelu(tanhApproximation: false)), "Gelu", [input], name)]
        case .geluTanh: return [node(UnaryOperator(.gelu(tanhApproximation: true)), "Gelu", [input], name)]
        case .hardSwish: return [node(UnaryOperator(.hardSwish), "HardSwish", [input], name)]
        case .silu:
            return [
                node(ActivationOperator(.sigmoid), "Sigmoid", [input], name + "_sigmoid"),
                node(BinaryOperator(.multiply), "Mul", [input, name + "_sigmoid"], name),
            ]
        case .erfPow:  // erf(x)² : Pow with a constant exponent is rescaled in its base
            return [node(UnaryOperator(.erf), "Erf", [input], name + "_erf"), node(PowOperator(), "Pow", [name + "_erf", "two"], name)]
        }
    }

    /// x(4) → Gemm → h1 → act → Gemm → h2 → act → Gemm → out(3).
    static func graph(_ kind: Activation) -> Graph {
        var nodes: [Graph.Node] = []
        var previous = "x"
        for layer in 0..<3 {
            let name = layer == 2 ? "out" : "h\(layer + 1)"
            nodes.append(Graph.Node(
                name: name, opType: "Gemm", opsetVersion: 20, inputs: [previous, "w\(layer)", "b\(layer)"], outputs: [name],
                op: GemmOperator()))
            previous = name
            if layer < 2 {
                nodes += activation(kind, name, "a\(layer + 1)")
                previous = "a\(layer + 1)"
            }
        }
        let widths = [4, 6, 5, 3]
        var constants: [String: Value] = ["two": .float(Tensor(scalar: 2))]
        for layer in 0..<3 {
            constants["w\(layer)"] = weights([widths[layer], widths[layer + 1]], seed: UInt64(11 + layer))
            constants["b\(layer)"] = weights([widths[layer + 1]], seed: UInt64(21 + layer))
        }
        return Graph(nodes: nodes, inputs: [Graph.Input(name: "x", dimensions: [nil, 4])], outputs: ["out"], constants: constants, floatOutputs: ["out"])
    }

    static func samples(seed: UInt64) -> Tensor {
        guard case .float(let t) = weights([5, 4], seed: seed) else { fatalError("weights are float") }
        return t.map { $0 * 2 }
    }

    @Test(arguments: Activation.allCases)
    func completenessHolds(kind: Activation) throws {
        let graph = Self.graph(kind)
        let attributor = try LayerAttributor(
            graph: graph, input: "x", layer: "h1", output: "out", sampleShape: [4],
            configuration: AttributionConfiguration(method: .deeplift))
        let (x, xb) = (Self.samples(seed: 5), Self.samples(seed: 6))
        let result = try attributor.attribute(samples: x, baselines: xb, targets: nil)
        let out = try attributor.endpointPlan.forward(feeds: ["x": .float(Tensor.concatenateRows([x, xb]))]).tensor("out")
        for i in 0..<5 {
            let t = result.targets[i]
            let difference = out.storage[i * 3 + t] - out.storage[(5 + i) * 3 + t]
            #expect(abs(result.delta![i]) <= 1e-4 * max(abs(difference), 1e-2), "\(kind) sample \(i): delta \(result.delta![i]) for ΔF \(difference)")
        }
    }

    /// SiLU is complete under the unit rule and, without it, under the product rule on Mul(x, σ(x)) with the
    /// Sigmoid rescaled; rescaling the Sigmoid alone and passing the product's ordinary gradient misses
    /// completeness by far more than the tolerance.
    @Test func siluUnitIsDetectedAndNeeded() throws {
        let graph = Self.graph(.silu)
        #expect(BackwardRules.siluUnits(in: graph) == ["a1": 0, "a2": 0])
        let plan = try ExecutionPlan(graph: graph, targets: ["out", "h1"])
        let (x, xb) = (Self.samples(seed: 5), Self.samples(seed: 6))
        let both = try plan.forward(feeds: ["x": .float(Tensor.concatenateRows([x, xb]))])
        let seed = Tensor(shape: [10, 3], storage: (0..<30).map { $0 % 3 == 0 ? 1 : 0 })
        let unit = BackwardRules.deepLift(epsilon: 1e-10, graph: graph)
        let sigmoidOnly = BackwardRules.deepLift(epsilon: 1e-10, graph: Graph(nodes: [], inputs: [], outputs: [], constants: [:], floatOutputs: []))
        let h = try both.tensor("h1"), out = try both.tensor("out")
        func worstDelta(_ rule: @escaping BackwardRule) throws -> Float {
            let m = try both.gradients(seeds: ["out": seed], withRespectTo: ["h1"], rule: rule)["h1"]!
            return (0..<5).map { i in
                let sum = (0..<6).reduce(Float(0)) { $0 + (h.storage[i * 6 + $1] - h.storage[(5 + i) * 6 + $1]) * m.storage[i * 6 + $1] }
                return abs(sum - (out.storage[i * 3] - out.storage[(5 + i) * 3]))
            }.max()!
        }
        let naive: BackwardRule = { node, context in node.opType == "Mul" ? nil : try sigmoidOnly(node, context) }
        #expect(try worstDelta(unit) < 1e-4)
        #expect(try worstDelta(sigmoidOnly) < 1e-4)
        #expect(try worstDelta(naive) > 1e-2)
    }
}
