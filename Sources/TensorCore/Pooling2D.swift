/// 2-D max and average pooling over NCHW tensors with ONNX semantics (onnxruntime's behaviour where the
/// spec leaves room: with `ceil_mode` a window that would start inside the right/bottom padding is dropped;
/// the include-pad divisor counts cells up to the end of the padding, not beyond).
public struct Pooling2D: Sendable, Equatable {
    public var kernelHeight: Int, kernelWidth: Int
    public var strideHeight: Int, strideWidth: Int
    public var dilationHeight: Int, dilationWidth: Int
    public var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    public var ceilMode: Bool

    public init(
        kernel: (Int, Int), strides: (Int, Int), dilations: (Int, Int) = (1, 1),
        pads: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0), ceilMode: Bool = false
    ) {
        (kernelHeight, kernelWidth) = kernel
        (strideHeight, strideWidth) = strides
        (dilationHeight, dilationWidth) = dilations
        (padTop, padLeft, padBottom, padRight) = pads
        self.ceilMode = ceilMode
    }

    private static func outputLength(
        _ size: Int, kernel: Int, stride: Int, dilation: Int, begin: Int, end: Int, ceil: Bool
    ) -> Int {
        let effective = (kernel - 1) * dilation + 1
        let span = size + begin + end - effective
        if span < 0 { return 0 }
        var length = (ceil ? (span + stride - 1) / stride : span / stride) + 1
        // A window must start inside the input or the left padding (PyTorch/onnxruntime rule).
        if ceil && (length - 1) * stride >= size + begin { length -= 1 }
        return length
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        (
            Pooling2D.outputLength(
                height, kernel: kernelHeight, stride: strideHeight, dilation: dilationHeight,
                begin: padTop, end: padBottom, ceil: ceilMode),
            Pooling2D.outputLength(
                width, kernel: kernelWidth, stride: strideWidth, dilation: dilationWidth,
                begin: padLeft, end: padRight, ceil: ceilMode)
        )
    }

    /// Max pooling. Returns the output and, per output cell, the flat index (h·W + w) of the first maximum
    /// in its window within the input plane (padding never wins).
    public func maxPool(_ input: Tensor) -> (output: Tensor, argmax: [Int32]) {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = outputSize(height: h, width: w)
        let (kh, kw) = (kernelHeight, kernelWidth)
        // Kernel taps per output row/column as flat tables; −1 marks a tap in the padding (never taken).
        var rowTaps = [Int](repeating: -1, count: oh * kh), columnTaps = [Int](repeating: -1, count: ow * kw)
        for i in 0..<oh {
            for k in 0..<kh {
                let ih = i * strideHeight - padTop + k * dilationHeight
                if ih >= 0 && ih < h { rowTaps[i * kh + k] = ih * w }
            }
        }
        for j in 0..<ow {
            for k in 0..<kw {
                let iw = j * strideWidth - padLeft + k * dilationWidth
                if iw >= 0 && iw < w { columnTaps[j * kw + k] = iw }
            }
        }
        var argmax = [Int32](repeating: -1, count: n * c * oh * ow)
        var output = [Float](repeating: 0, count: n * c * oh * ow)
        if kh == 2 && kw == 2 && strideHeight == 2 && strideWidth == 2 && dilationHeight == 1 && dilationWidth == 1
            && padTop == 0 && padLeft == 0 && 2 * oh <= h && 2 * ow <= w
        {
            maxPool2x2(input, height: h, width: w, outHeight: oh, outWidth: ow, output: &output, argmax: &argmax)
            return (Tensor(shape: [n, c, oh, ow], storage: output), argmax)
        }
        input.storage.withUnsafeBufferPointer { x in
            argmax.withUnsafeMutableBufferPointer { indices in
                output.withUnsafeMutableBufferPointer { out in
                    rowTaps.withUnsafeBufferPointer { rows in
                        columnTaps.withUnsafeBufferPointer { columns in
                            var o = 0
                            for plane in 0..<(n * c) {
                                let base = plane * h * w
                                for i in 0..<oh {
                                    for j in 0..<ow {
                                        var best = -Float.infinity
                                        var bestIndex = -1
                                        for ki in 0..<kh {
                                            let rowOffset = rows[i * kh + ki]
                                            if rowOffset < 0 { continue }
                                            for kj in 0..<kw {
                                                let column = columns[j * kw + kj]
                                                if column < 0 { continue }
                                                let v = x[base + rowOffset + column]
                                                // First maximum wins; NaN propagates as in onnxruntime.
                                                if v > best || bestIndex < 0 || v.isNaN {
                                                    best = v
                                                    bestIndex = rowOffset + column
                                                }
                                            }
                                        }
                                        out[o] = best
                                        indices[o] = Int32(bestIndex)
                                        o += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (Tensor(shape: [n, c, oh, ow], storage: output), argmax)
    }

    /// The common 2×2, stride-2, unpadded window, unrolled (same first-maximum and NaN rules).
    private func maxPool2x2(
        _ input: Tensor, height h: Int, width w: Int, outHeight oh: Int, outWidth ow: Int,
        output: inout [Float], argmax: inout [Int32]
    ) {
        let planes = input.count / (h * w)
        input.storage.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { out in
                argmax.withUnsafeMutableBufferPointer { indices in
                    var o = 0
                    for plane in 0..<planes {
                        let base = plane * h * w
                        for i in 0..<oh {
                            let top = 2 * i * w
                            for j in 0..<ow {
                                let a = top + 2 * j
                                var best = x[base + a], index = a
                                @inline(__always) func consider(_ candidate: Int) {
                                    let v = x[base + candidate]
                                    if v > best || (v.isNaN && !best.isNaN) {
                                        best = v
                                        index = candidate
                                    }
                                }
                                consider(a + 1)
                                consider(a + w)
                                consider(a + w + 1)
                                out[o] = best
                                indices[o] = Int32(index)
                                o += 1
                            }
                        }
                    }
                }
            }
        }
    }

    /// Routes `gradient[o]` to the arg-max position of window o (scatter-add): the adjoint of `maxPool`.
    public static func unpool(_ gradient: Tensor, argmax: [Int32], inputShape: [Int]) -> Tensor {
        let planeIn = inputShape[2] * inputShape[3]
        let planeOut = gradient.shape[2] * gradient.shape[3]
        var dx = [Float](repeating: 0, count: inputShape.reduce(1, *))
        gradient.storage.withUnsafeBufferPointer { g in
            dx.withUnsafeMutableBufferPointer { d in
                for plane in 0..<(inputShape[0] * inputShape[1]) {
                    for p in 0..<planeOut {
                        let o = plane * planeOut + p
                        let index = Int(argmax[o])
                        if index >= 0 { d[plane * planeIn + index] += g[o] }
                    }
                }
            }
        }
        return Tensor(shape: inputShape, storage: dx)
    }

    /// The divisor of each average-pool window along one axis: (start clipped, end clipped, padded length).
    private func window(_ o: Int, size: Int, kernel: Int, stride: Int, begin: Int, end: Int) -> (Int, Int, Int) {
        let start = o * stride - begin
        let paddedEnd = min(start + kernel, size + end)
        return (max(start, 0), min(paddedEnd, size), paddedEnd - start)
    }

    /// Average pooling. `countIncludePad` divides by the window size up to the end of the padding;
    /// otherwise by the number of real input cells in the window.
    public func averagePool(_ input: Tensor, countIncludePad: Bool) -> Tensor {
        precondition(dilationHeight == 1 && dilationWidth == 1, "dilated average pooling is not supported")
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = outputSize(height: h, width: w)
        return input.storage.withUnsafeBufferPointer { x in
            Tensor(shape: [n, c, oh, ow]) { out in
                for plane in 0..<(n * c) {
                    let base = plane * h * w
                    for i in 0..<oh {
                        let (h0, h1, hp) = window(i, size: h, kernel: kernelHeight, stride: strideHeight, begin: padTop, end: padBottom)
                        for j in 0..<ow {
                            let (w0, w1, wp) = window(j, size: w, kernel: kernelWidth, stride: strideWidth, begin: padLeft, end: padRight)
                            var sum: Float = 0
                            for ih in h0..<max(h0, h1) {
                                for iw in w0..<max(w0, w1) { sum += x[base + ih * w + iw] }
                            }
                            let divisor = countIncludePad ? hp * wp : max(0, h1 - h0) * max(0, w1 - w0)
                            out[(plane * oh + i) * ow + j] = divisor > 0 ? sum / Float(divisor) : 0
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `averagePool`.
    public func averagePoolBackward(_ gradient: Tensor, inputShape: [Int], countIncludePad: Bool) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow) = (gradient.shape[2], gradient.shape[3])
        var dx = [Float](repeating: 0, count: n * c * h * w)
        gradient.storage.withUnsafeBufferPointer { g in
            dx.withUnsafeMutableBufferPointer { d in
                for plane in 0..<(n * c) {
                    let base = plane * h * w
                    for i in 0..<oh {
                        let (h0, h1, hp) = window(i, size: h, kernel: kernelHeight, stride: strideHeight, begin: padTop, end: padBottom)
                        for j in 0..<ow {
                            let (w0, w1, wp) = window(j, size: w, kernel: kernelWidth, stride: strideWidth, begin: padLeft, end: padRight)
                            let divisor = countIncludePad ? hp * wp : max(0, h1 - h0) * max(0, w1 - w0)
                            if divisor == 0 { continue }
                            let share = g[(plane * oh + i) * ow + j] / Float(divisor)
                            for ih in h0..<max(h0, h1) {
                                for iw in w0..<max(w0, w1) { d[base + ih * w + iw] += share }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: inputShape, storage: dx)
    }
}
