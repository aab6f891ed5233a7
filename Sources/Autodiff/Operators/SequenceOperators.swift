import TensorCore

/// Split, Range, Trilu and CumSum, on float or INT64 tensors.

/// ONNX Split along `axis`. Piece sizes come from the `split` attribute (opset < 13) or INT64 input 1
/// (opset ≥ 13); without them the axis is cut into `outputCount` pieces: equal ones before opset 18, and from
/// opset 18 (`num_outputs`) pieces of ⌈d/n⌉ with a smaller last one. VJP: the pieces' gradients concatenated
/// (zeros for pieces that receive none).
public struct SplitOperator: Operator {
    public var defaultTraits: OperatorTraits { .movement }
    public var axis: Int
    public var sizes: [Int]?
    public var outputCount: Int
    /// opset ≥ 18 `num_outputs` rule: the last piece may be smaller.
    public var allowsUnevenPieces: Bool

    public init(axis: Int = 0, sizes: [Int]? = nil, outputCount: Int, allowsUnevenPieces: Bool = false) {
        self.axis = axis
        self.sizes = sizes
        self.outputCount = outputCount
        self.allowsUnevenPieces = allowsUnevenPieces
    }

    /// The resolved axis and the piece lengths along it.
    func pieces(_ inputs: [Value?]) throws -> (axis: Int, lengths: [Int]) {
        guard let data = inputs.first ?? nil else { throw GraphError("Split needs data") }
        let a = try normalizedAxis(axis, rank: data.shape.count)
        let dimension = data.shape[a]
        if let lengths = try inputs.integers(1) ?? sizes {
            guard lengths.allSatisfy({ $0 >= 0 }), lengths.reduce(0, +) == dimension else {
                throw GraphError("Split sizes \(lengths) do not add up to dimension \(dimension) of axis \(a)")
            }
            return (a, lengths)
        }
        guard outputCount >= 1 else { throw GraphError("Split needs at least one output") }
        if allowsUnevenPieces {
            let piece = (dimension + outputCount - 1) / outputCount
            let lengths = (0..<outputCount).map { Swift.max(0, Swift.min(piece, dimension - $0 * piece)) }
            return (a, lengths)
        }
        guard dimension % outputCount == 0 else {
            throw GraphError("Split cannot cut dimension \(dimension) of axis \(a) into \(outputCount) equal pieces; give split sizes")
        }
        return (a, [Int](repeating: dimension / outputCount, count: outputCount))
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let (a, lengths) = try pieces(inputs)
        var start = 0
        return lengths.map { length in
            defer { start += length }
            return mapLayout(inputs[0]!, float: { $0.slice(axis: a, start: start, length: length) }, int: { t in
                let map = ElementMap.axisSlice(t.shape, axis: a, start: start, length: length)
                return IntTensor(shape: map.shape, storage: map.gather(t.storage))
            })
        }
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        var result = [Tensor?](repeating: nil, count: context.inputs.count)
        guard context.needsGradient.first == true else { return result }
        let (a, _) = try pieces(context.inputs)
        let parts = try context.outputs.indices.map { try context.outputGradient($0) }
        result[0] = Tensor.concatenate(parts, axis: a)
        return result
    }
}

extension ElementMap {
    /// The slice `[start, start + length)` along `axis` of a tensor of `shape`.
    static func axisSlice(_ shape: [Int], axis: Int, start: Int, length: Int) -> ElementMap {
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        var outShape = shape
        outShape[axis] = length
        var sources = [Int]()
        sources.reserveCapacity(outer * length * inner)
        for o in 0..<outer {
            let base = (o * shape[axis] + start) * inner
            for i in 0..<(length * inner) { sources.append(base + i) }
        }
        return ElementMap(shape: outShape, sources: sources)
    }
}

/// ONNX Range: `start, start + delta, …` while below `limit` (above it for a negative delta), of
/// max(⌈(limit − start)/delta⌉, 0) elements. INT64 when `start` is an integer tensor, float otherwise.
/// Not differentiable (its output is an index sequence).
public struct RangeOperator: NonDifferentiableOperator {
    /// Integer bounds are limited to 2⁵³ so that no intermediate of the element count overflows Int64.
    let exactIntegerLimit: UInt64 = 1 << 53
    public init() {}

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        guard inputs.count == 3, let start = inputs[0], let limit = inputs[1], let delta = inputs[2],
            [start, limit, delta].allSatisfy({ $0.shape.reduce(1, *) == 1 })
        else { throw GraphError("Range needs three scalar inputs: start, limit, delta") }
        if case .int(let s) = start, case .int(let l) = limit, case .int(let d) = delta {
            let (first, end, step) = (s.storage[0], l.storage[0], d.storage[0])
            guard step != 0, [first, end, step].allSatisfy({ $0.magnitude < exactIntegerLimit }) else {
                throw GraphError("Range needs a non-zero delta and |start|, |limit|, |delta| < 2^53, got \(first), \(end), \(step)")
            }
            let count = Swift.max(0, (end - first + step + (step > 0 ? -1 : 1)) / step)
            _ = try checkedShape([Int(count)], "Range")
            return [.int(IntTensor((0..<count).map { first + $0 * step }))]
        }
        func scalar(_ value: Value) -> Double {
            switch value {
            case .float(let t): return Double(t.storage[0])
            case .int(let t): return Double(t.storage[0])
            }
        }
        let (first, end, step) = (scalar(start), scalar(limit), scalar(delta))
        guard step != 0, first.isFinite, end.isFinite, step.isFinite else {
            throw GraphError("Range needs finite start, limit and a non-zero delta, got \(first), \(end), \(step)")
        }
        let count = Swift.max(0, ((end - first) / step).rounded(.up))
        guard count <= Double(TensorLimits.maximumElementCount) else {
            throw GraphError("Range of \(count) elements exceeds the limit of \(TensorLimits.maximumElementCount) per tensor; the model is malformed")
        }
        _ = try TensorLimits.checkedElementCount([Int(count)], what: "Range output")
        // Float32 accumulation as onnxruntime: x_i = start + i·delta in the input's precision.
        let (s, d) = (Float(first), Float(step))
        return [.float(Tensor(shape: [Int(count)], storage: (0..<Int(count)).map { s + Float($0) * d }))]
    }
}

/// ONNX Trilu: keeps the upper (`j − i ≥ k`) or lower (`j − i ≤ k`) triangle of the last two axes, zeros
/// elsewhere; k from the optional INT64 input 1 (default 0). VJP: g masked the same way.
public struct TriluOperator: Operator {
    public var defaultTraits: OperatorTraits { .movement }
    public var upper: Bool
    public init(upper: Bool = true) { self.upper = upper }

    /// Whether element (row i, column j) is kept.
    func keeps(_ inputs: [Value?]) throws -> (Int, Int) -> Bool {
        let k = try inputs.integers(1)?.first ?? 0
        return upper ? { i, j in j - i >= k } : { i, j in j - i <= k }
    }

    /// `storage` with the dropped elements replaced by zero.
    static func masked<Element: AdditiveArithmetic>(_ storage: [Element], shape: [Int], keep: (Int, Int) -> Bool) -> [Element] {
        let (rows, columns) = (shape[shape.count - 2], shape[shape.count - 1])
        var out = storage
        for offset in out.indices {
            let within = offset % Swift.max(rows * columns, 1)
            if !keep(within / columns, within % columns) { out[offset] = .zero }
        }
        return out
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        guard let x = inputs.first ?? nil, x.shape.count >= 2 else { throw GraphError("Trilu needs an input of rank ≥ 2") }
        let keep = try keeps(inputs)
        return [mapLayout(x, float: { Tensor(shape: $0.shape, storage: Self.masked($0.storage, shape: $0.shape, keep: keep)) }, int: {
            IntTensor(shape: $0.shape, storage: Self.masked($0.storage, shape: $0.shape, keep: keep))
        })]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        var result = [Tensor?](repeating: nil, count: context.inputs.count)
        guard context.needsGradient.first == true else { return result }
        let g = try context.outputGradient()
        result[0] = Tensor(shape: g.shape, storage: Self.masked(g.storage, shape: g.shape, keep: try keeps(context.inputs)))
        return result
    }
}

/// ONNX CumSum along the axis given by input 1: `y_i = Σ_{j ≤ i} x_j` (`exclusive`: j < i; `reverse`: sums from
/// the end). VJP: the cumulative sum of g in the opposite direction, with the same exclusivity.
public struct CumSumOperator: Operator {
    public var defaultTraits: OperatorTraits { .linear }
    public var exclusive: Bool, reverse: Bool
    public init(exclusive: Bool = false, reverse: Bool = false) {
        self.exclusive = exclusive
        self.reverse = reverse
    }

    static func scan<Element: AdditiveArithmetic>(
        _ storage: [Element], shape: [Int], axis: Int, exclusive: Bool, reverse: Bool
    ) -> [Element] {
        let length = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        let outer = shape[..<axis].reduce(1, *)
        var out = storage
        for o in 0..<outer {
            for i in 0..<inner {
                var running = Element.zero
                for step in 0..<length {
                    let at = (o * length + (reverse ? length - 1 - step : step)) * inner + i
                    if exclusive {
                        out[at] = running
                        running += storage[at]
                    } else {
                        running += storage[at]
                        out[at] = running
                    }
                }
            }
        }
        return out
    }

    func axis(_ inputs: [Value?], rank: Int) throws -> Int {
        guard let axis = try inputs.integers(1), axis.count == 1 else { throw GraphError("CumSum needs a scalar axis input 1") }
        return try normalizedAxis(axis[0], rank: rank)
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        guard let x = inputs.first ?? nil, !x.shape.isEmpty else { throw GraphError("CumSum needs an input of rank ≥ 1") }
        let a = try axis(inputs, rank: x.shape.count)
        return [mapLayout(x, float: {
            Tensor(shape: $0.shape, storage: Self.scan($0.storage, shape: $0.shape, axis: a, exclusive: exclusive, reverse: reverse))
        }, int: {
            IntTensor(shape: $0.shape, storage: Self.scan($0.storage, shape: $0.shape, axis: a, exclusive: exclusive, reverse: reverse))
        })]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        var result = [Tensor?](repeating: nil, count: context.inputs.count)
        guard context.needsGradient.first == true else { return result }
        let g = try context.outputGradient()
        let a = try axis(context.inputs, rank: g.rank)
        result[0] = Tensor(shape: g.shape, storage: Self.scan(g.storage, shape: g.shape, axis: a, exclusive: exclusive, reverse: !reverse))
        return result
    }
}
