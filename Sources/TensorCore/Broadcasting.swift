/// NumPy/ONNX multidirectional broadcasting and its adjoint (summing a gradient back to an operand's shape).
///
/// Broadcasting aligns shapes at their trailing dimensions; a dimension of 1 (or a missing leading one)
/// stretches to the other operand's size. `reduceSum(_:toShape:)` is the one place that undoes broadcasting in
/// backward passes.
public enum Broadcasting {
    /// The broadcast result shape, or nil when the shapes are incompatible.
    public static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 { result[i] = da } else if da == 1 { result[i] = db } else { return nil }
        }
        return result
    }

    /// Element strides of `shape` when viewed as `outShape` (0 along broadcast dimensions).
    static func stridesBroadcast(_ shape: [Int], to outShape: [Int]) -> [Int] {
        let own = Tensor.strides(of: shape)
        let offset = outShape.count - shape.count
        return (0..<outShape.count).map { i in
            i < offset ? 0 : (shape[i - offset] == 1 && outShape[i] != 1 ? 0 : own[i - offset])
        }
    }

    /// Calls `body(outOffset, aOffset, bOffset, count, aStep, bStep)` for each innermost run of the output,
    /// in row-major order. `aStep`/`bStep` are the operands' strides along the last output axis (0 when broadcast).
    @inline(__always)
    static func forEachRun(
        outShape: [Int], aStrides: [Int], bStrides: [Int],
        _ body: (_ out: Int, _ a: Int, _ b: Int, _ count: Int, _ aStep: Int, _ bStep: Int) -> Void
    ) {
        let rank = outShape.count
        if rank == 0 { body(0, 0, 0, 1, 0, 0); return }
        let inner = outShape[rank - 1]
        let total = outShape.reduce(1, *)
        if total == 0 { return }
        var index = [Int](repeating: 0, count: rank - 1)
        var aOffset = 0, bOffset = 0, out = 0
        while out < total {
            body(out, aOffset, bOffset, inner, aStrides[rank - 1], bStrides[rank - 1])
            out += inner
            // Advance the odometer over the outer dimensions.
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                aOffset += aStrides[axis]
                bOffset += bStrides[axis]
                if index[axis] < outShape[axis] { break }
                aOffset -= aStrides[axis] * outShape[axis]
                bOffset -= bStrides[axis] * outShape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    /// The element offset, under `strides`, of every position of `outShape` in row-major order.
    static func offsets(outShape: [Int], strides: [Int]) -> [Int] {
        var offsets = [Int]()
        offsets.reserveCapacity(outShape.reduce(1, *))
        forEachRun(outShape: outShape, aStrides: strides, bStrides: strides) { _, start, _, count, step, _ in
            for i in 0..<count { offsets.append(start + i * step) }
        }
        return offsets
    }

    /// Sums `tensor` over the dimensions that broadcasting stretched, returning a tensor of `shape`.
    /// - Precondition: `shape` broadcasts to `tensor.shape`.
    public static func reduceSum(_ tensor: Tensor, toShape shape: [Int]) -> Tensor {
        if tensor.shape == shape { return tensor }
        precondition(Broadcasting.shape(shape, tensor.shape) == tensor.shape, "cannot reduce \(tensor.shape) to \(shape)")
        var result = [Float](repeating: 0, count: shape.reduce(1, *))
        let targetStrides = stridesBroadcast(shape, to: tensor.shape)
        tensor.storage.withUnsafeBufferPointer { g in
            result.withUnsafeMutableBufferPointer { r in
                forEachRun(outShape: tensor.shape, aStrides: targetStrides, bStrides: targetStrides) { out, t, _, count, step, _ in
                    if step == 0 {
                        var sum: Float = 0
                        for i in 0..<count { sum += g[out + i] }
                        r[t] += sum
                    } else {
                        for i in 0..<count { r[t + i * step] += g[out + i] }
                    }
                }
            }
        }
        return Tensor(shape: shape, storage: result)
    }
}

/// Elementwise binary operations with broadcasting.
public enum BinaryOperation: Sendable {
    case add, subtract, multiply, divide

    @inline(__always)
    func apply(_ x: Float, _ y: Float) -> Float {
        switch self {
        case .add: return x + y
        case .subtract: return x - y
        case .multiply: return x * y
        case .divide: return x / y
        }
    }
}

extension Tensor {
    /// `a ∘ b` with broadcasting. Returns nil when the shapes do not broadcast.
    public static func elementwise(_ a: Tensor, _ b: Tensor, _ operation: BinaryOperation) -> Tensor? {
        guard let outShape = Broadcasting.shape(a.shape, b.shape) else { return nil }
        let aStrides = Broadcasting.stridesBroadcast(a.shape, to: outShape)
        let bStrides = Broadcasting.stridesBroadcast(b.shape, to: outShape)
        return a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                Tensor(shape: outShape) { out in
                    if a.shape == b.shape {
                        switch operation {
                        case .add: for i in 0..<out.count { out[i] = pa[i] + pb[i] }
                        case .subtract: for i in 0..<out.count { out[i] = pa[i] - pb[i] }
                        case .multiply: for i in 0..<out.count { out[i] = pa[i] * pb[i] }
                        case .divide: for i in 0..<out.count { out[i] = pa[i] / pb[i] }
                        }
                        return
                    }
                    Broadcasting.forEachRun(outShape: outShape, aStrides: aStrides, bStrides: bStrides) { o, ia, ib, count, sa, sb in
                        // The operation is chosen once per run, so each inner loop is a plain (vectorisable) loop.
                        switch operation {
                        case .add: for i in 0..<count { out[o + i] = pa[ia + i * sa] + pb[ib + i * sb] }
                        case .subtract: for i in 0..<count { out[o + i] = pa[ia + i * sa] - pb[ib + i * sb] }
                        case .multiply: for i in 0..<count { out[o + i] = pa[ia + i * sa] * pb[ib + i * sb] }
                        case .divide: for i in 0..<count { out[o + i] = pa[ia + i * sa] / pb[ib + i * sb] }
                        }
                    }
                }
            }
        }
    }

    /// Applies `transform` to every element.
    @inlinable
    public func map(_ transform: (Float) -> Float) -> Tensor {
        storage.withUnsafeBufferPointer { source in
            Tensor(shape: shape) { out in
                for i in 0..<out.count { out[i] = transform(source[i]) }
            }
        }
    }

    /// Combines two tensors of identical shape element by element.
    @inlinable
    public func zipMap(_ other: Tensor, _ combine: (Float, Float) -> Float) -> Tensor {
        precondition(shape == other.shape, "zipMap: shapes \(shape) and \(other.shape) differ")
        return storage.withUnsafeBufferPointer { a in
            other.storage.withUnsafeBufferPointer { b in
                Tensor(shape: shape) { out in
                    for i in 0..<out.count { out[i] = combine(a[i], b[i]) }
                }
            }
        }
    }

    /// Broadcasts this tensor to `targetShape` (which must be a broadcast of this shape).
    public func broadcast(to targetShape: [Int]) -> Tensor {
        if shape == targetShape { return self }
        precondition(Broadcasting.shape(shape, targetShape) == targetShape, "cannot broadcast \(shape) to \(targetShape)")
        let strides = Broadcasting.stridesBroadcast(shape, to: targetShape)
        return storage.withUnsafeBufferPointer { source in
            Tensor(shape: targetShape) { out in
                Broadcasting.forEachRun(outShape: targetShape, aStrides: strides, bStrides: strides) { o, ia, _, count, sa, _ in
                    for i in 0..<count { out[o + i] = source[ia + i * sa] }
                }
            }
        }
    }
}
