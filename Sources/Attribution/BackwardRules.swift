import Autodiff
import TensorCore

/// Replacement backward rules, plugged into the engine's per-node override hook.
enum BackwardRules {
    /// DeepLIFT's rules (Shrikumar et al. 2017, §3.5) for a batch laid out as [x rows; baseline rows]: the product
    /// rule of `averagedProductContext` first, then the rescale rule (§3.5.1)
    /// at every node whose registry traits say `.rescale` (Captum's SUPPORTED_NON_LINEAR minus Softmax, which
    /// keeps its ordinary gradient, plus the elementwise nonlinearities listed in docs/methods.md).
    ///
    /// Elementwise f: m_in = g·Δout/Δin, falling back to the ordinary gradient f′(in)·g where |Δin| < ε.
    /// Both halves get multipliers computed from the same Δ = x half − baseline half, so the baseline half
    /// carries the same multipliers as the input half when every nonlinearity downstream is rescaled.
    /// MaxPool (Captum's rule): with M = max(o_x, o_b), U = unpool(g_x·(M − o_b), argmax_x) +
    /// unpool(g_b·(o_x − M), argmax_b), m_in = U/Δin (ordinary gradient where |Δin| < ε). Unlike Captum 0.9.0,
    /// every rule sees the multipliers of the op after it (textbook chaining, no captum#1104 hook-order quirk),
    /// and overlapping windows add their contributions instead of overwriting them.
    /// SiLU/Swish exported as Mul(x, Sigmoid(x)) is one elementwise unit y = x·σ(x): its multiplier is
    /// Δy/Δx (fallback y′ = σ + x·σ(1 − σ)), given to x at the Mul; the Sigmoid on the σ branch receives nothing
    /// from this Mul. Rescaling the Sigmoid alone and treating the product as linear breaks completeness
    /// (the product of two varying tensors is not linear). Pow with a constant exponent is elementwise in its
    /// base and rescaled likewise; with a varying exponent it keeps the ordinary gradient.
    static func deepLift(epsilon: Float, graph: Graph) -> BackwardRule {
        let silu = siluUnits(in: graph)
        return { node, context in
            if let xIndex = silu[node.name] {
                let x = try context.floatInput(xIndex), s = try context.floatInput(1 - xIndex)
                let slope = s.zipMap(x) { s, x in s + x * s * (1 - s) }
                var result: [Tensor?] = [nil, nil]
                result[xIndex] = rescale(input: x, output: try context.floatOutput(0), slope: slope, gradient: try context.outputGradient(), epsilon: epsilon)
                return result
            }
            if let op = node.op, let averaged = try averagedProductContext(node, context) { return try op.backward(averaged) }
            switch node.traits.deepLift {
            case .rescale:
                guard let op = node.op as? any ElementwiseFunction else {
                    throw GraphError("DeepLIFT: node '\(node.name)' (\(node.opType)) is registered for the rescale rule but its operator reports no elementwise derivative")
                }
                let input = try context.floatInput(0), output = try context.floatOutput(0)
                var result = [Tensor?](repeating: nil, count: context.inputs.count)  // Clip's bounds get none
                result[0] = rescale(input: input, output: output, slope: op.derivative(input: input, output: output), gradient: try context.outputGradient(), epsilon: epsilon)
                return result
            case .custom:
                if let op = node.op as? PoolOperator, op.kind == .max { return [try maxPoolRule(op, context, epsilon: epsilon)] }
                if let op = node.op as? PowOperator, context.needsGradient.count > 1, !context.needsGradient[1] {
                    let base = try context.floatInput(0), output = try context.floatOutput(0)
                    guard base.shape == output.shape else { return nil }
                    let slope = try op.baseSlope(context.inputs)
                    return [rescale(input: base, output: output, slope: slope, gradient: try context.outputGradient(), epsilon: epsilon), nil]
                }
                return nil
            default:
                return nil
            }
        }
    }

    /// m = g·Δout/Δin per element over the [x rows; baseline rows] halves, the same multiplier for both
    /// halves; the ordinary gradient slope·g where |Δin| < ε.
    static func rescale(input: Tensor, output: Tensor, slope: Tensor, gradient g: Tensor, epsilon: Float) -> Tensor {
        let half = input.count / 2
        var result = [Float](repeating: 0, count: input.count)
        for i in 0..<half {
            let deltaIn = input.storage[i] - input.storage[half + i]
            let deltaOut = output.storage[i] - output.storage[half + i]
            if abs(deltaIn) < epsilon {
                result[i] = slope.storage[i] * g.storage[i]
                result[half + i] = slope.storage[half + i] * g.storage[half + i]
            } else {
                let ratio = deltaOut / deltaIn
                result[i] = g.storage[i] * ratio
                result[half + i] = g.storage[half + i] * ratio
            }
        }
        return Tensor(shape: input.shape, storage: result)
    }

    /// The product rule. An op the registry marks `bilinear` (Mul, MatMul, two-operand Einsum) of two tensors
    /// that both vary with the layer:
    /// Δ(a·b) = ā·Δb + Δa·b̄ exactly, with ā, b̄ the means of the input and baseline halves (the Shapley
    /// split of the product's two factors). Its multipliers are therefore the ordinary VJP evaluated at the
    /// averaged operands, which keeps completeness through squeeze-excitation gates, gated FFNs (SwiGLU),
    /// GELU exported as x·Φ(x) and the Q·Kᵀ and attention·V products of attention. Returns the context with
    /// both halves of each operand replaced by their mean, or nil when the rule does not apply (a constant
    /// factor: the ordinary gradient is already exact).
    static func averagedProductContext(_ node: Graph.Node, _ context: BackwardContext) throws -> BackwardContext? {
        guard node.traits.bilinear, context.inputs.count == 2,
            context.needsGradient.count == 2, context.needsGradient[0], context.needsGradient[1]
        else { return nil }
        let averaged: [Value?] = try (0..<2).map { .float(averageHalves(try context.floatInput($0))) }
        return BackwardContext(inputs: averaged, outputs: context.outputs, outputGradients: context.outputGradients, needsGradient: context.needsGradient)
    }

    /// Both halves of a [x rows; baseline rows] tensor replaced by their elementwise mean.
    static func averageHalves(_ t: Tensor) -> Tensor {
        let half = t.count / 2
        var storage = t.storage
        for i in 0..<half {
            let mean = (t.storage[i] + t.storage[half + i]) * 0.5
            storage[i] = mean
            storage[half + i] = mean
        }
        return Tensor(shape: t.shape, storage: storage)
    }

    /// Mul nodes computing x·Sigmoid(x) (SiLU/Swish as torch exports it), by name → the position of x.
    static func siluUnits(in graph: Graph) -> [String: Int] {
        let producers = graph.producers
        var units: [String: Int] = [:]
        for node in graph.nodes where node.inputs.count == 2 {
            guard let mul = node.op as? BinaryOperator, mul.operation == .multiply else { continue }
            for xIndex in 0..<2 {
                let (x, s) = (node.inputs[xIndex], node.inputs[1 - xIndex])
                guard x != s, let p = producers[s], let sigmoid = graph.nodes[p].op as? ActivationOperator,
                    sigmoid.kind == .sigmoid, graph.nodes[p].inputs.first == x
                else { continue }
                units[node.name] = xIndex
            }
        }
        return units
    }

    private static func maxPoolRule(_ op: PoolOperator, _ context: BackwardContext, epsilon: Float) throws -> Tensor {
        let input = try context.floatInput(0), output = try context.floatOutput(0)
        let g = try context.outputGradient()
        let pool = try op.pooling(for: input)
        let (_, argmax) = pool.maxPool(input)
        let outHalf = output.count / 2, inHalf = input.count / 2
        var weighted = [Float](repeating: 0, count: output.count)
        for i in 0..<outHalf {
            let (ox, ob) = (output.storage[i], output.storage[outHalf + i])
            let m = max(ox, ob)
            weighted[i] = g.storage[i] * (m - ob)
            weighted[outHalf + i] = g.storage[outHalf + i] * (ox - m)
        }
        let unpooled = Pooling2D.unpool(Tensor(shape: output.shape, storage: weighted), argmax: argmax, inputShape: input.shape)
        let plain = Pooling2D.unpool(g, argmax: argmax, inputShape: input.shape)
        var result = [Float](repeating: 0, count: input.count)
        for i in 0..<inHalf {
            let deltaIn = input.storage[i] - input.storage[inHalf + i]
            let u = unpooled.storage[i] + unpooled.storage[inHalf + i]
            if abs(deltaIn) < epsilon {
                result[i] = plain.storage[i]
                result[inHalf + i] = plain.storage[inHalf + i]
            } else {
                result[i] = u / deltaIn
                result[inHalf + i] = u / deltaIn
            }
        }
        return Tensor(shape: input.shape, storage: result)
    }

    /// Guided backpropagation's ReLU (Springenberg et al. 2015; Captum GuidedBackprop): only positive gradients
    /// pass, and only where the forward input was positive: g_in = max(g·[x > 0], 0). Applied to every Relu
    /// between the layer and the output (ONNX cannot tell nn.ReLU from F.relu; Captum hooks only the former).
    static let guidedRelu: BackwardRule = { node, context in
        guard node.opType == "Relu" else { return nil }
        let x = try context.floatInput(0)
        return [try context.outputGradient().zipMap(x) { g, input in input > 0 && g > 0 ? g : 0 }]
    }
}
