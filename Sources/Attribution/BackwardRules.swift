import Autodiff
import TensorCore

/// Replacement backward rules, plugged into the engine's per-node override hook.
enum BackwardRules {
    /// DeepLIFT rescale rule (Shrikumar et al. 2017, §3.5.1) for a batch laid out as [x rows; baseline rows],
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
    static func deepLift(epsilon: Float) -> BackwardRule {
        return { node, context in
            if node.traits.deepLift == .rescale {
                guard let op = node.op as? any ElementwiseFunction else {
                    throw GraphError("DeepLIFT: node '\(node.name)' (\(node.opType)) is registered for the rescale rule but its operator reports no elementwise derivative")
                }
                let input = try context.floatInput(0), output = try context.floatOutput(0)
                let g = try context.outputGradient()
                let half = input.count / 2
                let slope = op.derivative(input: input, output: output)
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
                return [Tensor(shape: input.shape, storage: result)]
            }
            if node.traits.deepLift == .custom, let op = node.op as? PoolOperator, op.kind == .max {
                return [try maxPoolRule(op, context, epsilon: epsilon)]
            }
            return nil
        }
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
