import Foundation

/// Softmax and log-softmax over the middle axis of a tensor viewed as (outer, length, inner).
///
/// ONNX opset ≥ 13 normalises over one axis: outer = ∏ dims before it, inner = ∏ dims after it. Before
/// opset 13 the input is coerced to 2-D at `axis` and normalised over the whole flattened tail: callers pass
/// length = ∏ dims from `axis`, inner = 1. Numerically stable (the maximum is subtracted first).
public enum Softmax {
    public static func forward(_ x: Tensor, outer: Int, length: Int, inner: Int, logarithm: Bool) -> Tensor {
        x.storage.withUnsafeBufferPointer { source in
            Tensor(shape: x.shape) { out in
                for o in 0..<outer {
                    for i in 0..<inner {
                        let base = o * length * inner + i
                        var maximum = -Float.infinity
                        for k in 0..<length { maximum = max(maximum, source[base + k * inner]) }
                        var sum: Float = 0
                        for k in 0..<length { sum += expf(source[base + k * inner] - maximum) }
                        if logarithm {
                            let logSum = logf(sum) + maximum
                            for k in 0..<length { out[base + k * inner] = source[base + k * inner] - logSum }
                        } else {
                            for k in 0..<length { out[base + k * inner] = expf(source[base + k * inner] - maximum) / sum }
                        }
                    }
                }
            }
        }
    }

    /// VJP, recomputed from the input x in Float64: softmax dX = y ⊙ (g − Σ g⊙y); log-softmax dX = g − y ⊙ Σ g
    /// (y the probabilities).
    ///
    /// Float64 matters: with a saturated softmax (one probability ≈ 1) the difference g − Σ g⊙y cancels, and in
    /// Float32 the gradient loses about three digits (3e-4 relative, measured on a scikit-learn MLP). Recomputing
    /// the probabilities from x in Float64 keeps the result within 1e-6 of a Float64 reference.
    public static func backward(
        input x: Tensor, gradient g: Tensor, outer: Int, length: Int, inner: Int, logarithm: Bool
    ) -> Tensor {
        var probabilities = [Double](repeating: 0, count: length)
        return x.storage.withUnsafeBufferPointer { xs in
            g.storage.withUnsafeBufferPointer { gs in
                Tensor(shape: x.shape) { out in
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let base = o * length * inner + i
                            var maximum = -Double.infinity
                            for k in 0..<length { maximum = max(maximum, Double(xs[base + k * inner])) }
                            var sum = 0.0
                            for k in 0..<length {
                                probabilities[k] = exp(Double(xs[base + k * inner]) - maximum)
                                sum += probabilities[k]
                            }
                            var dot = 0.0
                            for k in 0..<length {
                                probabilities[k] /= sum
                                dot += Double(gs[base + k * inner]) * (logarithm ? 1 : probabilities[k])
                            }
                            for k in 0..<length {
                                let at = base + k * inner
                                out[at] = logarithm
                                    ? Float(Double(gs[at]) - probabilities[k] * dot)
                                    : Float(probabilities[k] * (Double(gs[at]) - dot))
                            }
                        }
                    }
                }
            }
        }
    }
}
