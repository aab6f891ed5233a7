import TensorCore

/// Index and broadcast operators on float or INT64 data: Expand, Tile, GatherElements, GatherND.
///
/// Each resolves its inputs to an `ElementMap` (`output[i] = data[sources[i]]`); the forward pass gathers (any
/// element type), the VJP scatter-adds g back onto the data (index inputs get no gradient).

/// Refuses a shape an index/shape operator would create when it has a negative dimension or more elements
/// than `TensorLimits` allows (the per-tensor cap and the memory budget): a malformed model, not an allocation.
func checkedShape(_ shape: [Int], _ what: String) throws -> [Int] {
    _ = try TensorLimits.checkedElementCount(shape, what: "\(what) output")
    return shape
}

extension ElementMap {
    /// The gathered value, keeping the element type.
    func apply(_ value: Value) -> Value {
        switch value {
        case .float(let t): return .float(Tensor(shape: shape, storage: gather(t.storage)))
        case .int(let t): return .int(IntTensor(shape: shape, storage: gather(t.storage)))
        }
    }
}

/// An operator whose single output gathers elements of input 0 by an `ElementMap`.
public protocol ElementMapOperator: Operator {
    func map(_ inputs: [Value?]) throws -> ElementMap
}

extension ElementMapOperator {
    public func forward(_ inputs: [Value?]) throws -> [Value] {
        guard let data = inputs.first ?? nil else { throw GraphError("missing data input 0") }
        return [try map(inputs).apply(data)]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        var result = [Tensor?](repeating: nil, count: context.inputs.count)
        guard context.needsGradient.first == true else { return result }
        let x = try context.floatInput(0)
        result[0] = try map(context.inputs).scatterAdd(context.outputGradient(), inputShape: x.shape)
        return result
    }
}

/// The integer values and shape of an index input (INT64/INT32, or integral floats), or an error naming it.
func indexInput(_ inputs: [Value?], _ index: Int, _ what: String) throws -> (shape: [Int], values: [Int]) {
    guard index < inputs.count, let value = inputs[index], let values = try inputs.integers(index) else {
        throw GraphError("missing \(what) input \(index)")
    }
    return (value.shape, values)
}

/// Resolves a possibly negative index against a dimension, or an error naming the operator.
func resolvedIndex(_ index: Int, dimension: Int, _ what: String) throws -> Int {
    let resolved = index < 0 ? index + dimension : index
    guard resolved >= 0 && resolved < dimension else {
        throw GraphError("\(what) index \(index) is out of range for a dimension of size \(dimension)")
    }
    return resolved
}

/// ONNX Expand: broadcasts the data to `broadcast(data.shape, shape)` (bidirectional, so a 1 in the requested
/// shape keeps the data's size). VJP: g summed over the broadcast axes.
public struct ExpandOperator: ElementMapOperator {
    public var defaultTraits: OperatorTraits { .movement }
    public init() {}

    public func map(_ inputs: [Value?]) throws -> ElementMap {
        guard let data = inputs[0] else { throw GraphError("Expand needs data") }
        let requested = try indexInput(inputs, 1, "Expand shape").values
        guard let shape = Broadcasting.shape(data.shape, try checkedShape(requested, "Expand")) else {
            throw GraphError("Expand: data of shape \(data.shape) does not broadcast to \(requested)")
        }
        return ElementMap.broadcast(data.shape, to: try checkedShape(shape, "Expand"))
    }
}

/// ONNX Tile: `output dims = data dims · repeats` (INT64 input 1, one non-negative repeat per axis).
/// VJP: g summed over the copies.
public struct TileOperator: ElementMapOperator {
    public var defaultTraits: OperatorTraits { .movement }
    public init() {}

    public func map(_ inputs: [Value?]) throws -> ElementMap {
        guard let data = inputs[0] else { throw GraphError("Tile needs data") }
        let repeats = try indexInput(inputs, 1, "Tile repeats").values
        guard repeats.count == data.shape.count, repeats.allSatisfy({ $0 >= 0 }) else {
            throw GraphError("Tile needs one non-negative repeat per axis of \(data.shape), got \(repeats)")
        }
        _ = try checkedShape(zip(data.shape, repeats).map { $0 * $1 }, "Tile")
        return ElementMap.tile(data.shape, repeats: repeats)
    }
}

/// ONNX GatherElements: `out[p] = data[p with p[axis] ← indices[p]]`; indices have the data's rank, the output
/// their shape; negative indices wrap. VJP: scatter-add of g into the gathered positions.
public struct GatherElementsOperator: ElementMapOperator {
    public var defaultTraits: OperatorTraits { .movement }
    public var axis: Int
    public init(axis: Int = 0) { self.axis = axis }

    public func map(_ inputs: [Value?]) throws -> ElementMap {
        guard let data = inputs[0] else { throw GraphError("GatherElements needs data") }
        let (shape, indices) = try indexInput(inputs, 1, "GatherElements indices")
        let rank = data.shape.count
        let a = try normalizedAxis(axis, rank: rank)
        guard shape.count == rank, (0..<rank).allSatisfy({ $0 == a || shape[$0] <= data.shape[$0] }) else {
            throw GraphError("GatherElements indices of shape \(shape) do not fit data of shape \(data.shape) at axis \(a)")
        }
        let strides = Tensor.strides(of: data.shape)
        var position = [Int](repeating: 0, count: rank)
        var sources = [Int]()
        sources.reserveCapacity(indices.count)
        for index in indices {
            var offset = try resolvedIndex(index, dimension: data.shape[a], "GatherElements") * strides[a]
            for d in 0..<rank where d != a { offset += position[d] * strides[d] }
            sources.append(offset)
            var d = rank - 1
            while d >= 0 {
                position[d] += 1
                if position[d] < shape[d] { break }
                position[d] = 0
                d -= 1
            }
        }
        return ElementMap(shape: shape, sources: sources)
    }
}

/// ONNX GatherND with `batch_dims` b: indices (…, m) address the data's axes [b, b+m) within each batch;
/// output shape = indices.shape[..<q−1] + data.shape[(b+m)...]. Negative indices wrap.
/// VJP: scatter-add of g into the gathered slices.
public struct GatherNDOperator: ElementMapOperator {
    public var defaultTraits: OperatorTraits { .movement }
    public var batchDimensions: Int
    public init(batchDimensions: Int = 0) { self.batchDimensions = batchDimensions }

    public func map(_ inputs: [Value?]) throws -> ElementMap {
        guard let data = inputs[0] else { throw GraphError("GatherND needs data") }
        let (shape, indices) = try indexInput(inputs, 1, "GatherND indices")
        let dataShape = data.shape, b = batchDimensions
        guard let m = shape.last, shape.count > b, b >= 0, m >= 1, b + m <= dataShape.count,
            Array(shape[..<b]) == Array(dataShape[..<b])
        else {
            throw GraphError("GatherND: indices of shape \(shape) do not address data of shape \(dataShape) with batch_dims \(b)")
        }
        let strides = Tensor.strides(of: dataShape)
        let batches = dataShape[..<b].reduce(1, *)
        let batchStride = dataShape[b...].reduce(1, *)
        let inner = dataShape[(b + m)...].reduce(1, *)
        let tuples = indices.count / m
        let perBatch = batches == 0 ? 0 : tuples / batches
        var sources = [Int]()
        sources.reserveCapacity(tuples * inner)
        for t in 0..<tuples {
            var offset = (perBatch == 0 ? 0 : t / perBatch) * batchStride
            for j in 0..<m {
                offset += try resolvedIndex(indices[t * m + j], dimension: dataShape[b + j], "GatherND") * strides[b + j]
            }
            for i in 0..<inner { sources.append(offset + i) }
        }
        let outShape = Array(shape.dropLast()) + Array(dataShape[(b + m)...])
        return ElementMap(shape: try checkedShape(outShape, "GatherND"), sources: sources)
    }
}

/// ONNX ScatterND with reduction "none": a copy of the data with the slices addressed by `indices` (…, m)
/// replaced by `updates` (shape indices.shape[..<q−1] + data.shape[m...]); the addressed positions are those
/// GatherND reads. Duplicate indices are undefined in ONNX; here the last update wins.
/// VJP: d data = g with the overwritten positions zeroed; d updates = g gathered at those positions.
public struct ScatterNDOperator: Operator {
    public var defaultTraits: OperatorTraits { .movement }
    public init() {}

    func targets(_ inputs: [Value?]) throws -> ElementMap {
        let map = try GatherNDOperator().map(Array(inputs.prefix(2)))
        guard inputs.count > 2, let updates = inputs[2], updates.shape == map.shape else {
            throw GraphError("ScatterND updates must have shape \(map.shape) (indices.shape[..<q−1] + data.shape[m...])")
        }
        return map
    }

    static func scatter<Element>(_ data: [Element], _ updates: [Element], at targets: [Int]) -> [Element] {
        var out = data
        for (i, target) in targets.enumerated() { out[target] = updates[i] }
        return out
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let map = try targets(inputs)
        switch (inputs[0]!, inputs[2]!) {
        case (.float(let data), .float(let updates)):
            return [.float(Tensor(shape: data.shape, storage: Self.scatter(data.storage, updates.storage, at: map.sources)))]
        case (.int(let data), .int(let updates)):
            return [.int(IntTensor(shape: data.shape, storage: Self.scatter(data.storage, updates.storage, at: map.sources)))]
        default:
            throw GraphError("ScatterND data and updates must have the same element type")
        }
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let map = try targets(context.inputs)
        let g = try context.outputGradient()
        var result = [Tensor?](repeating: nil, count: context.inputs.count)
        if context.needsGradient[0] {
            let zeros = [Float](repeating: 0, count: map.sources.count)
            result[0] = Tensor(shape: g.shape, storage: Self.scatter(g.storage, zeros, at: map.sources))
        }
        if context.needsGradient.count > 2 && context.needsGradient[2] {
            result[2] = Tensor(shape: map.shape, storage: map.gather(g.storage))
        }
        return result
    }
}
