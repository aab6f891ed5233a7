/// An output tensor described by where each of its elements comes from: `output[i] = input[sources[i]]`.
///
/// This is the common core of the index and layout operators (Expand, Tile, GatherElements, GatherND, Split on
/// integer tensors): the forward pass gathers, and its adjoint scatter-adds the output gradient back to the
/// sources (`dx[sources[i]] += g[i]`, in increasing i, so repeated sources sum in a fixed order). It works on
/// any element type, so INT64 shape tensors and float activations share one implementation.
public struct ElementMap: Sendable, Equatable {
    public var shape: [Int]
    public var sources: [Int]

    /// - Precondition: `sources.count` is the product of `shape`.
    public init(shape: [Int], sources: [Int]) {
        precondition(sources.count == shape.reduce(1, *), "ElementMap: \(sources.count) sources for shape \(shape)")
        self.shape = shape
        self.sources = sources
    }

    /// Broadcasting `inputShape` to `outputShape` (NumPy rules; the input aligned at the trailing end).
    /// - Precondition: `inputShape` broadcasts to `outputShape`.
    public static func broadcast(_ inputShape: [Int], to outputShape: [Int]) -> ElementMap {
        precondition(Broadcasting.shape(inputShape, outputShape) == outputShape, "cannot broadcast \(inputShape) to \(outputShape)")
        let strides = Broadcasting.stridesBroadcast(inputShape, to: outputShape)
        return ElementMap(shape: outputShape, sources: Broadcasting.offsets(outShape: outputShape, strides: strides))
    }

    /// Tiling: `output[i_0, …] = input[i_0 mod d_0, …]` with `output dims = input dims · repeats`.
    /// - Precondition: one non-negative repeat per axis.
    public static func tile(_ inputShape: [Int], repeats: [Int]) -> ElementMap {
        precondition(repeats.count == inputShape.count && repeats.allSatisfy { $0 >= 0 }, "invalid repeats \(repeats)")
        let outputShape = zip(inputShape, repeats).map { $0 * $1 }
        let inStrides = Tensor.strides(of: inputShape)
        var sources = [0]
        // Built axis by axis from the innermost: each level repeats the inner block pattern.
        for axis in stride(from: inputShape.count - 1, through: 0, by: -1) {
            var level = [Int]()
            level.reserveCapacity(sources.count * outputShape[axis])
            for i in 0..<outputShape[axis] {
                let base = (i % Swift.max(inputShape[axis], 1)) * inStrides[axis]
                for s in sources { level.append(base + s) }
            }
            sources = level
        }
        return ElementMap(shape: outputShape, sources: outputShape.reduce(1, *) == 0 ? [] : sources)
    }

    /// ONNX Transpose: output axis k is input axis `permutation[k]`.
    /// - Precondition: `permutation` is a permutation of the axes.
    public static func transpose(_ inputShape: [Int], _ permutation: [Int]) -> ElementMap {
        precondition(permutation.sorted() == Array(inputShape.indices), "invalid permutation \(permutation)")
        let outputShape = permutation.map { inputShape[$0] }
        let inStrides = Tensor.strides(of: inputShape)
        let gathered = permutation.map { inStrides[$0] }
        return ElementMap(shape: outputShape, sources: Broadcasting.offsets(outShape: outputShape, strides: gathered))
    }

    /// The gathered elements.
    public func gather<Element>(_ storage: [Element]) -> [Element] {
        storage.withUnsafeBufferPointer { source in
            sources.map { source[$0] }
        }
    }

    /// The adjoint of `gather` for float gradients: a tensor of `inputShape`, zero where nothing was taken.
    public func scatterAdd(_ gradient: Tensor, inputShape: [Int]) -> Tensor {
        precondition(gradient.count == sources.count, "scatterAdd: gradient \(gradient.shape) for map \(shape)")
        var result = [Float](repeating: 0, count: inputShape.reduce(1, *))
        gradient.storage.withUnsafeBufferPointer { g in
            result.withUnsafeMutableBufferPointer { r in
                for (i, source) in sources.enumerated() { r[source] += g[i] }
            }
        }
        return Tensor(shape: inputShape, storage: result)
    }
}
