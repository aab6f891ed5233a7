import Testing
@testable import TensorCore

/// `Convolution2D` against a direct seven-loop convolution (and its hand-derived input gradient), on
/// geometries where im2col's column bounds are easy to get wrong: kernels wider than the padded row at
/// stride 2 (MobileNetV3 / MNASNet 5×5 stride-2 convolutions on 2×2 maps), dilation, asymmetric pads, groups.
@Suite struct Convolution2DTests {
    struct Case: CustomStringConvertible, Sendable {
        var channels: Int, height: Int, width: Int, outChannels: Int
        var kernel: (Int, Int), strides: (Int, Int), dilations: (Int, Int)
        var pads: (top: Int, left: Int, bottom: Int, right: Int), groups: Int
        var description: String { "C\(channels) \(height)×\(width) k\(kernel) s\(strides) d\(dilations) p\(pads) g\(groups)" }
    }

    static let cases: [Case] = [
        Case(channels: 2, height: 2, width: 2, outChannels: 2, kernel: (5, 5), strides: (2, 2), dilations: (1, 1),
             pads: (2, 2, 2, 2), groups: 2),
        Case(channels: 1, height: 1, width: 1, outChannels: 1, kernel: (5, 5), strides: (2, 2), dilations: (1, 1),
             pads: (2, 2, 2, 2), groups: 1),
        Case(channels: 3, height: 3, width: 4, outChannels: 4, kernel: (3, 5), strides: (3, 2), dilations: (1, 1),
             pads: (1, 2, 0, 3), groups: 1),
        Case(channels: 2, height: 5, width: 5, outChannels: 2, kernel: (3, 3), strides: (2, 2), dilations: (2, 2),
             pads: (2, 2, 2, 2), groups: 1),
        Case(channels: 4, height: 4, width: 3, outChannels: 4, kernel: (1, 1), strides: (1, 2), dilations: (1, 1),
             pads: (0, 0, 0, 0), groups: 4),
    ]

    /// Deterministic values in [-1, 1) (a linear congruential sequence; exact in Float).
    static func values(_ count: Int, seed: UInt32) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 23) - 1
        }
    }

    /// Calls `body(n, m, oh, ow, c, ki, kj, inputIndex)` for every in-bounds tap of the direct convolution.
    static func forEachTap(
        _ conv: Convolution2D, batch: Int, _ shape: Case, out: (Int, Int),
        _ body: (_ n: Int, _ m: Int, _ oh: Int, _ ow: Int, _ c: Int, _ ki: Int, _ kj: Int, _ x: Int) -> Void
    ) {
        let cg = shape.channels / shape.groups, mg = shape.outChannels / shape.groups
        for n in 0..<batch {
            for m in 0..<shape.outChannels {
                for oh in 0..<out.0 {
                    for ow in 0..<out.1 {
                        for c in 0..<cg {
                            for ki in 0..<conv.kernelHeight {
                                for kj in 0..<conv.kernelWidth {
                                    let ih = oh * conv.strideHeight - conv.padTop + ki * conv.dilationHeight
                                    let iw = ow * conv.strideWidth - conv.padLeft + kj * conv.dilationWidth
                                    guard ih >= 0, ih < shape.height, iw >= 0, iw < shape.width else { continue }
                                    let channel = (m / mg) * cg + c
                                    let x = ((n * shape.channels + channel) * shape.height + ih) * shape.width + iw
                                    body(n, m, oh, ow, c, ki, kj, x)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test(arguments: cases) func forwardAndInputGradientMatchDirectConvolution(_ shape: Case) throws {
        let conv = Convolution2D(
            kernel: shape.kernel, strides: shape.strides, dilations: shape.dilations, pads: shape.pads,
            groups: shape.groups)
        let out = try #require(conv.outputSize(height: shape.height, width: shape.width))
        let batch = 2
        let cg = shape.channels / shape.groups
        let input = Tensor(shape: [batch, shape.channels, shape.height, shape.width],
                           storage: Self.values(batch * shape.channels * shape.height * shape.width, seed: 1))
        let weight = Tensor(shape: [shape.outChannels, cg, shape.kernel.0, shape.kernel.1],
                            storage: Self.values(shape.outChannels * cg * shape.kernel.0 * shape.kernel.1, seed: 2))
        let outputCount = batch * shape.outChannels * out.height * out.width
        let dy = Self.values(outputCount, seed: 3)
        var expected = [Double](repeating: 0, count: outputCount)
        var expectedDx = [Double](repeating: 0, count: input.count)
        Self.forEachTap(conv, batch: batch, shape, out: (out.height, out.width)) { n, m, oh, ow, c, ki, kj, x in
            let y = ((n * shape.outChannels + m) * out.height + oh) * out.width + ow
            let w = ((m * cg + c) * shape.kernel.0 + ki) * shape.kernel.1 + kj
            expected[y] += Double(input.storage[x]) * Double(weight.storage[w])
            expectedDx[x] += Double(dy[y]) * Double(weight.storage[w])
        }
        let y = conv.forward(input: input, weight: weight, bias: nil)
        #expect(y.shape == [batch, shape.outChannels, out.height, out.width])
        for (got, want) in zip(y.storage, expected) { #expect(abs(Double(got) - want) < 1e-5) }
        let gradients = conv.backward(
            input: input, weight: weight, outputGradient: Tensor(shape: y.shape, storage: dy),
            needInput: true, needWeight: false, needBias: false)
        let dx = try #require(gradients.input)
        for (got, want) in zip(dx.storage, expectedDx) { #expect(abs(Double(got) - want) < 1e-5) }
    }
}
