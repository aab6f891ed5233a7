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

    /// VJP given the forward output y: softmax dX = y ⊙ (g − Σ g⊙y); log-softmax dX = g − exp(y) ⊙ Σ g.
    public static func backward(
        output y: Tensor, gradient g: Tensor, outer: Int, length: Int, inner: Int, logarithm: Bool
    ) -> Tensor {
        y.storage.withUnsafeBufferPointer { ys in
            g.storage.withUnsafeBufferPointer { gs in
                Tensor(shape: y.shape) { out in
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let base = o * length * inner + i
                            var dot: Float = 0
                            if logarithm {
                                for k in 0..<length { dot += gs[base + k * inner] }
                                for k in 0..<length {
                                    let at = base + k * inner
                                    out[at] = gs[at] - expf(ys[at]) * dot
                                }
                            } else {
                                for k in 0..<length { dot += gs[base + k * inner] * ys[base + k * inner] }
                                for k in 0..<length {
                                    let at = base + k * inner
                                    out[at] = ys[at] * (gs[at] - dot)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
