/// 2-D convolution (ONNX Conv, NCHW) as batched im2col + one GEMM per group.
///
/// Forward: for each group g, `Y_g = W_g · cols_g` where `cols_g` is (C/g·kh·kw) × (N·OH·OW): the whole batch
/// goes through a single `cblas_sgemm`, never one GEMM per sample. Backward: `dcols = W_gᵀ · dY_g`, scattered
/// back with col2im (padded cells dropped); `dW_g = dY_g · cols_gᵀ`; `dB = Σ_{n,h,w} dY`.
public struct Convolution2D: Sendable, Equatable {
    public var kernelHeight: Int, kernelWidth: Int
    public var strideHeight: Int, strideWidth: Int
    public var dilationHeight: Int, dilationWidth: Int
    public var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    public var groups: Int

    public init(
        kernel: (Int, Int), strides: (Int, Int) = (1, 1), dilations: (Int, Int) = (1, 1),
        pads: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0), groups: Int = 1
    ) {
        (kernelHeight, kernelWidth) = kernel
        (strideHeight, strideWidth) = strides
        (dilationHeight, dilationWidth) = dilations
        (padTop, padLeft, padBottom, padRight) = pads
        self.groups = groups
    }

    /// Output spatial size, or nil when the kernel does not fit.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int)? {
        let effectiveH = (kernelHeight - 1) * dilationHeight + 1
        let effectiveW = (kernelWidth - 1) * dilationWidth + 1
        let h = (height + padTop + padBottom - effectiveH) / strideHeight + 1
        let w = (width + padLeft + padRight - effectiveW) / strideWidth + 1
        guard height + padTop + padBottom >= effectiveH, width + padLeft + padRight >= effectiveW, h > 0, w > 0 else {
            return nil
        }
        return (h, w)
    }

    struct Geometry {
        var batch, channels, height, width, outChannels, outHeight, outWidth: Int
        var groupChannels: Int { channels }
        var columnsPerSample: Int { outHeight * outWidth }
    }

    /// Fills `cols` ((cg·kh·kw) × (N·OH·OW)) for input channels [c0, c0+cg).
    private func im2col(
        _ x: UnsafeBufferPointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
        firstChannel c0: Int, groupChannels cg: Int, outHeight: Int, outWidth: Int,
        into cols: UnsafeMutableBufferPointer<Float>
    ) {
        let plane = height * width
        let outPlane = outHeight * outWidth
        let rowLength = batch * outPlane
        for c in 0..<cg {
            for ki in 0..<kernelHeight {
                for kj in 0..<kernelWidth {
                    let row = (c * kernelHeight + ki) * kernelWidth + kj
                    var dst = row * rowLength
                    for n in 0..<batch {
                        let src = (n * channels + c0 + c) * plane
                        for oh in 0..<outHeight {
                            let ih = oh * strideHeight - padTop + ki * dilationHeight
                            if ih < 0 || ih >= height {
                                for ow in 0..<outWidth { cols[dst + ow] = 0 }
                            } else {
                                // Output columns whose tap lies inside the row: [first, last); zeros around.
                                let offset = kj * dilationWidth - padLeft
                                let first = min(outWidth, max(0, (-offset + strideWidth - 1) / strideWidth))
                                // Floor, not truncation: a tap right of the row (width − 1 − offset < 0, a
                                // kernel wider than the padded row at stride > 1) covers no column at all.
                                let span = width - 1 - offset
                                let last = span < 0 ? first : max(first, min(outWidth, span / strideWidth + 1))
                                for ow in 0..<first { cols[dst + ow] = 0 }
                                let rowBase = src + ih * width + offset
                                // Indices are in range by construction: wrapping arithmetic skips overflow checks.
                                if strideWidth == 1 {
                                    for ow in first..<last { cols[dst &+ ow] = x[rowBase &+ ow] }
                                } else {
                                    for ow in first..<last { cols[dst &+ ow] = x[rowBase &+ ow &* strideWidth] }
                                }
                                for ow in last..<outWidth { cols[dst + ow] = 0 }
                            }
                            dst += outWidth
                        }
                    }
                }
            }
        }
    }

    /// Scatter-adds `cols` back into `dx` (the adjoint of `im2col`).
    private func col2im(
        _ cols: UnsafeBufferPointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
        firstChannel c0: Int, groupChannels cg: Int, outHeight: Int, outWidth: Int,
        into dx: UnsafeMutableBufferPointer<Float>
    ) {
        let plane = height * width
        let outPlane = outHeight * outWidth
        let rowLength = batch * outPlane
        for c in 0..<cg {
            for ki in 0..<kernelHeight {
                for kj in 0..<kernelWidth {
                    let row = (c * kernelHeight + ki) * kernelWidth + kj
                    var src = row * rowLength
                    for n in 0..<batch {
                        let dst = (n * channels + c0 + c) * plane
                        for oh in 0..<outHeight {
                            let ih = oh * strideHeight - padTop + ki * dilationHeight
                            if ih >= 0 && ih < height {
                                let rowBase = dst + ih * width
                                for ow in 0..<outWidth {
                                    let iw = ow * strideWidth - padLeft + kj * dilationWidth
                                    if iw >= 0 && iw < width { dx[rowBase + iw] += cols[src + ow] }
                                }
                            }
                            src += outWidth
                        }
                    }
                }
            }
        }
    }

    /// `Y = conv(X, W) + B` for X (N, C, H, W), W (M, C/groups, kh, kw), B (M).
    public func forward(input: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let m = weight.shape[0]
        guard let (oh, ow) = outputSize(height: h, width: w) else { preconditionFailure("conv kernel does not fit") }
        let cg = c / groups, mg = m / groups
        let k = cg * kernelHeight * kernelWidth
        let columns = n * oh * ow
        let outPlane = oh * ow
        // Every element of these buffers is written before it is read.
        var cols = [Float](unsafeUninitializedCapacity: k * columns) { _, count in count = k * columns }
        var product = [Float](unsafeUninitializedCapacity: mg * columns) { _, count in count = mg * columns }
        var output = [Float](unsafeUninitializedCapacity: n * m * outPlane) { _, count in count = n * m * outPlane }
        input.storage.withUnsafeBufferPointer { x in
            weight.storage.withUnsafeBufferPointer { wt in
                cols.withUnsafeMutableBufferPointer { colsBuffer in
                    product.withUnsafeMutableBufferPointer { y in
                        output.withUnsafeMutableBufferPointer { out in
                            for g in 0..<groups {
                                im2col(
                                    x, batch: n, channels: c, height: h, width: w, firstChannel: g * cg,
                                    groupChannels: cg, outHeight: oh, outWidth: ow, into: colsBuffer)
                                BLAS.gemm(
                                    transposeA: false, transposeB: false, m: mg, n: columns, k: k,
                                    a: wt.baseAddress! + g * mg * k, lda: k,
                                    b: UnsafePointer(colsBuffer.baseAddress!), ldb: columns,
                                    c: y.baseAddress!, ldc: columns)
                                // (mg, N·OHW) → (N, M, OHW), adding the bias.
                                for oc in 0..<mg {
                                    let channel = g * mg + oc
                                    let b = bias?.storage[channel] ?? 0
                                    for sample in 0..<n {
                                        let src = oc &* columns &+ sample &* outPlane
                                        let dst = (sample &* m &+ channel) &* outPlane
                                        for p in 0..<outPlane { out[dst &+ p] = y[src &+ p] + b }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [n, m, oh, ow], storage: output)
    }

    /// Vector-Jacobian products of `forward` for the requested operands.
    public func backward(
        input: Tensor, weight: Tensor, outputGradient dy: Tensor,
        needInput: Bool, needWeight: Bool, needBias: Bool
    ) -> (input: Tensor?, weight: Tensor?, bias: Tensor?) {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let m = weight.shape[0]
        let (oh, ow) = (dy.shape[2], dy.shape[3])
        let cg = c / groups, mg = m / groups
        let k = cg * kernelHeight * kernelWidth
        let outPlane = oh * ow
        let columns = n * outPlane
        var dx: [Float]? = needInput ? [Float](repeating: 0, count: input.count) : nil
        var dw: [Float]? = needWeight ? [Float](repeating: 0, count: weight.count) : nil
        var db: [Float]? = nil
        if needBias {
            var sums = [Float](repeating: 0, count: m)
            dy.storage.withUnsafeBufferPointer { g in
                for sample in 0..<n {
                    for channel in 0..<m {
                        let base = (sample * m + channel) * outPlane
                        var s: Float = 0
                        for p in 0..<outPlane { s += g[base + p] }
                        sums[channel] += s
                    }
                }
            }
            db = sums
        }
        if !needInput && !needWeight { return (nil, nil, db.map { Tensor(shape: [m], storage: $0) }) }
        var dyGroup = [Float](repeating: 0, count: mg * columns)
        var cols = [Float](repeating: 0, count: k * columns)
        input.storage.withUnsafeBufferPointer { x in
            weight.storage.withUnsafeBufferPointer { wt in
                dy.storage.withUnsafeBufferPointer { g in
                    dyGroup.withUnsafeMutableBufferPointer { dyg in
                        cols.withUnsafeMutableBufferPointer { colsBuffer in
                            for group in 0..<groups {
                                // (N, M, OHW) → (mg, N·OHW) for this group.
                                for oc in 0..<mg {
                                    let channel = group * mg + oc
                                    for sample in 0..<n {
                                        let src = (sample * m + channel) * outPlane
                                        let dst = oc * columns + sample * outPlane
                                        for p in 0..<outPlane { dyg[dst + p] = g[src + p] }
                                    }
                                }
                                if needWeight {
                                    im2col(
                                        x, batch: n, channels: c, height: h, width: w, firstChannel: group * cg,
                                        groupChannels: cg, outHeight: oh, outWidth: ow, into: colsBuffer)
                                    dw!.withUnsafeMutableBufferPointer { dwb in
                                        BLAS.gemm(
                                            transposeA: false, transposeB: true, m: mg, n: k, k: columns,
                                            a: UnsafePointer(dyg.baseAddress!), lda: columns,
                                            b: UnsafePointer(colsBuffer.baseAddress!), ldb: columns,
                                            c: dwb.baseAddress! + group * mg * k, ldc: k)
                                    }
                                }
                                if needInput {
                                    BLAS.gemm(
                                        transposeA: true, transposeB: false, m: k, n: columns, k: mg,
                                        a: wt.baseAddress! + group * mg * k, lda: k,
                                        b: UnsafePointer(dyg.baseAddress!), ldb: columns,
                                        c: colsBuffer.baseAddress!, ldc: columns)
                                    dx!.withUnsafeMutableBufferPointer { dxb in
                                        col2im(
                                            UnsafeBufferPointer(colsBuffer), batch: n, channels: c, height: h,
                                            width: w, firstChannel: group * cg, groupChannels: cg, outHeight: oh,
                                            outWidth: ow, into: dxb)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (
            dx.map { Tensor(shape: input.shape, storage: $0) },
            dw.map { Tensor(shape: weight.shape, storage: $0) },
            db.map { Tensor(shape: [m], storage: $0) }
        )
    }
}
