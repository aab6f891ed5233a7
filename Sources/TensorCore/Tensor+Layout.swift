/// Layout kernels: transpose (any permutation), axis reductions, slicing along an axis.
extension Tensor {
    /// `Y[i_perm[0], …] = X[i_0, …]` with ONNX Transpose semantics: output dim k is input dim `permutation[k]`.
    public func transposed(_ permutation: [Int]) -> Tensor {
        precondition(permutation.sorted() == Array(0..<rank), "invalid permutation \(permutation) for rank \(rank)")
        let outShape = permutation.map { shape[$0] }
        let inStrides = strides
        let gathered = permutation.map { inStrides[$0] }
        return storage.withUnsafeBufferPointer { source in
            Tensor(shape: outShape) { out in
                Broadcasting.forEachRun(outShape: outShape, aStrides: gathered, bStrides: gathered) { o, ia, _, count, step, _ in
                    for i in 0..<count { out[o + i] = source[ia + i * step] }
                }
            }
        }
    }

    /// Sums over `axes` (non-negative, any order). With `keepDimensions` the reduced axes stay with size 1.
    public func sum(overAxes axes: Set<Int>, keepDimensions: Bool) -> Tensor {
        let keptShape = shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        let reduced = Broadcasting.reduceSum(self, toShape: keptShape)
        if keepDimensions { return reduced }
        return reduced.reshaped(shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))
    }

    /// The slice `[start, start+length)` along `axis`.
    public func slice(axis: Int, start: Int, length: Int) -> Tensor {
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let dim = shape[axis]
        var outShape = shape
        outShape[axis] = length
        return storage.withUnsafeBufferPointer { source in
            Tensor(shape: outShape) { out in
                let run = length * inner
                for o in 0..<outer {
                    let from = (o * dim + start) * inner
                    for i in 0..<run { out[o * run + i] = source[from + i] }
                }
            }
        }
    }

    /// Concatenates tensors along `axis`; all other dimensions must agree.
    public static func concatenate(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concatenate needs at least one tensor")
        var outShape = parts[0].shape
        outShape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        let outer = outShape[..<axis].reduce(1, *)
        let inner = outShape[(axis + 1)...].reduce(1, *)
        var result = [Float]()
        result.reserveCapacity(outShape.reduce(1, *))
        for o in 0..<outer {
            for part in parts {
                let run = part.shape[axis] * inner
                result.append(contentsOf: part.storage[(o * run)..<((o + 1) * run)])
            }
        }
        return Tensor(shape: outShape, storage: result)
    }
}
