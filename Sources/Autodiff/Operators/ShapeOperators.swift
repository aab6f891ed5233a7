import TensorCore

/// Layout-only operators on float or INT64 tensors. Their VJPs reshape, transpose back or slice.

/// ONNX Flatten: (∏ dims before axis, ∏ dims from axis); negative axis allowed.
public struct FlattenOperator: Operator {
    public var defaultTraits: OperatorTraits { .shapeOnly }
    public var axis: Int
    public init(axis: Int = 1) { self.axis = axis }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        guard let x = inputs.first ?? nil else { throw GraphError("Flatten needs an input") }
        let shape = x.shape
        let a = axis < 0 ? axis + shape.count : axis
        guard a >= 0 && a <= shape.count else { throw GraphError("Flatten axis \(axis) out of range for rank \(shape.count)") }
        let newShape = [shape[..<a].reduce(1, *), shape[a...].reduce(1, *)]
        return [mapLayout(x, float: { $0.reshaped(newShape) }, int: { IntTensor(shape: newShape, storage: $0.storage) })]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        [try context.outputGradient().reshaped(context.inputs[0]!.shape)]
    }
}

/// ONNX Reshape: target shape from INT64 input 1; 0 copies the input dimension unless `allowzero`; one −1 is
/// inferred. Works at any batch size when the shape comes from the evaluated Shape/Gather/Concat subgraph.
public struct ReshapeOperator: Operator {
    public var defaultTraits: OperatorTraits { .shapeOnly }
    public var allowZero: Bool
    public init(allowZero: Bool = false) { self.allowZero = allowZero }

    static func resolve(_ requested: [Int], input: [Int], allowZero: Bool) throws -> [Int] {
        guard requested.allSatisfy({ $0 >= -1 }) else {
            throw GraphError("Reshape target \(requested) has a dimension below −1")
        }
        var shape = requested
        for (i, d) in requested.enumerated() where d == 0 && !allowZero {
            guard i < input.count else { throw GraphError("Reshape dimension \(i) is 0 but the input has rank \(input.count)") }
            shape[i] = input[i]
        }
        let total = input.reduce(1, *)
        let unknown = shape.indices.filter { shape[$0] == -1 }
        guard unknown.count <= 1 else { throw GraphError("Reshape target \(requested) has more than one −1") }
        if let index = unknown.first {
            var withoutUnknown = shape
            withoutUnknown.remove(at: index)
            let known = try TensorLimits.checkedElementCount(withoutUnknown, what: "Reshape target \(requested)")
            guard known > 0, total % known == 0 else {
                throw GraphError("cannot reshape \(input) to \(requested)")
            }
            shape[index] = total / known
        }
        guard try TensorLimits.checkedElementCount(shape, what: "Reshape target \(requested)") == total else {
            throw GraphError(
                "cannot reshape a tensor of shape \(input) (\(total) elements) to \(requested); if the model was exported with a fixed batch size, re-export it with a dynamic batch dimension")
        }
        return shape
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        guard let x = inputs[0], let requested = try inputs.integers(1) else { throw GraphError("Reshape needs data and shape") }
        let shape = try ReshapeOperator.resolve(requested, input: x.shape, allowZero: allowZero)
        return [mapLayout(x, float: { $0.reshaped(shape) }, int: { IntTensor(shape: shape, storage: $0.storage) })]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        [try context.outputGradient().reshaped(context.inputs[0]!.shape), nil]
    }
}

/// ONNX Transpose (default permutation: reversed axes). VJP: transpose by the inverse permutation.
public struct TransposeOperator: Operator {
    public var defaultTraits: OperatorTraits { .shapeOnly }
    public var permutation: [Int]?
    public init(permutation: [Int]?) { self.permutation = permutation }

    func resolved(_ rank: Int) -> [Int] { permutation ?? Array((0..<rank).reversed()) }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        guard let x = inputs[0] else { throw GraphError("Transpose needs an input") }
        let rank = x.shape.count
        let perm = resolved(rank)
        guard perm.sorted() == Array(0..<rank) else { throw GraphError("Transpose perm \(perm) is invalid for rank \(rank)") }
        return [mapLayout(x, float: { $0.transposed(perm) }, int: { t in
            // INT64 tensors here are small shape/pad vectors: transpose their indices through a float view.
            let positions = Tensor(shape: t.shape, storage: (0..<t.count).map(Float.init)).transposed(perm)
            return IntTensor(shape: positions.shape, storage: positions.storage.map { t.storage[Int($0)] })
        })]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let perm = resolved(context.inputs[0]!.shape.count)
        var inverse = [Int](repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return [try context.outputGradient().transposed(inverse)]
    }
}

/// ONNX Squeeze / Unsqueeze: axes from the attribute (opset < 13) or INT64 input 1 (opset ≥ 13).
public struct SqueezeOperator: Operator {
    public var defaultTraits: OperatorTraits { .shapeOnly }
    public var axes: [Int]?
    public var unsqueeze: Bool
    public init(axes: [Int]?, unsqueeze: Bool) {
        self.axes = axes
        self.unsqueeze = unsqueeze
    }

    func outputShape(_ inputs: [Value?]) throws -> [Int] {
        guard let x = inputs[0] else { throw GraphError("missing data input") }
        let requested = try inputs.integers(1) ?? axes
        var shape = x.shape
        if unsqueeze {
            guard let requested else { throw GraphError("Unsqueeze needs axes") }
            let rank = shape.count + requested.count
            for axis in try requested.map({ try normalizedAxis($0, rank: rank) }).sorted() { shape.insert(1, at: axis) }
            return shape
        }
        guard let requested, !requested.isEmpty else { return shape.filter { $0 != 1 } }
        let remove = Set(try requested.map { try normalizedAxis($0, rank: shape.count) })
        for axis in remove where shape[axis] != 1 {
            throw GraphError("cannot squeeze axis \(axis) of size \(shape[axis])")
        }
        return shape.enumerated().filter { !remove.contains($0.offset) }.map(\.element)
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let shape = try outputShape(inputs)
        return [mapLayout(inputs[0]!, float: { $0.reshaped(shape) }, int: { IntTensor(shape: shape, storage: $0.storage) })]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        [try context.outputGradient().reshaped(context.inputs[0]!.shape), nil]
    }
}

/// ONNX Concat along `axis` (float or INT64). VJP: the slice of g belonging to each input.
public struct ConcatOperator: Operator {
    public var defaultTraits: OperatorTraits { .movement }
    public var axis: Int
    public init(axis: Int) { self.axis = axis }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let values = inputs.compactMap { $0 }
        guard let first = values.first else { throw GraphError("Concat needs inputs") }
        let a = try normalizedAxis(axis, rank: first.shape.count)
        if values.allSatisfy({ if case .int = $0 { return true } else { return false } }) {
            let parts = values.map { value -> Tensor in
                guard case .int(let t) = value else { fatalError("unreachable: checked above") }
                return Tensor(shape: t.shape, storage: t.storage.map { Float($0) })
            }
            // INT64 shape vectors are small; exact in Float up to 2^24 (checked).
            let joined = Tensor.concatenate(parts, axis: a)
            let exact = values.allSatisfy { value in
                if case .int(let t) = value { return t.storage.allSatisfy { abs($0) < 1 << 24 } } else { return true }
            }
            guard exact else { throw GraphError("INT64 Concat values exceed the supported range") }
            return [.int(IntTensor(shape: joined.shape, storage: joined.storage.map { Int64($0) }))]
        }
        let tensors = try values.indices.map { try values.map(Optional.some).float($0) }
        for t in tensors where t.rank != first.shape.count || zip(t.shape, first.shape).enumerated().contains(where: { $0.offset != a && $0.element.0 != $0.element.1 }) {
            throw GraphError("Concat inputs must agree except along axis \(a): \(tensors.map(\.shape))")
        }
        return [.float(Tensor.concatenate(tensors, axis: a))]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let g = try context.outputGradient()
        let a = try normalizedAxis(axis, rank: g.rank)
        var start = 0
        var result = [Tensor?]()
        for (index, input) in context.inputs.enumerated() {
            guard let input else { result.append(nil); continue }
            let length = input.shape[a]
            result.append(context.needsGradient[index] ? g.slice(axis: a, start: start, length: length) : nil)
            start += length
        }
        return result
    }
}

/// ONNX Cast. Between float types it is the identity (ModScope computes in float32); to integer types it
/// truncates toward zero, and to BOOL it is x ≠ 0 (as 0/1 INT64, ModScope's boolean representation).
/// Gradients pass through float→float casts and stop at integer types.
public struct CastOperator: Operator {
    public var defaultTraits: OperatorTraits { .shapeOnly }
    public var toFloat: Bool
    public var toBool: Bool
    public init(toFloat: Bool, toBool: Bool = false) {
        self.toFloat = toFloat
        self.toBool = toBool && !toFloat
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        guard let x = inputs[0] else { throw GraphError("Cast needs an input") }
        if toBool {
            switch x {
            case .float(let t): return [.int(IntTensor(shape: t.shape, storage: t.storage.map { $0 != 0 ? 1 : 0 }))]
            case .int(let t): return [.int(IntTensor(shape: t.shape, storage: t.storage.map { $0 != 0 ? 1 : 0 }))]
            }
        }
        switch (x, toFloat) {
        case (.float, true), (.int, false): return [x]
        case (.float(let t), false):
            // Int64(x) traps for NaN, ±∞ and |x| ≥ 2^63: such values are an error, not a crash.
            let integers = try t.storage.map { value -> Int64 in
                guard value.isFinite, abs(value) < 0x1p63 else {
                    throw GraphError("Cast to an integer type got \(value), which has no integer value")
                }
                return Int64(value.rounded(.towardZero))
            }
            return [.int(IntTensor(shape: t.shape, storage: integers))]
        case (.int(let t), true): return [.float(Tensor(shape: t.shape, storage: t.storage.map { Float($0) }))]
        }
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        guard toFloat, case .float? = context.inputs[0] else { return [nil] }
        return [try context.outputGradient()]
    }
}

/// ONNX Constant (and any node whose value is fixed at import).
public struct ConstantOperator: NonDifferentiableOperator {
    public var value: Value
    public init(_ value: Value) { self.value = value }
    public func forward(_ inputs: [Value?]) throws -> [Value] { [value] }
}

/// ONNX Shape (optionally a [start, end) slice of the dimensions), as INT64.
public struct ShapeOperator: NonDifferentiableOperator {
    public var start: Int, end: Int?
    public init(start: Int = 0, end: Int? = nil) {
        self.start = start
        self.end = end
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        guard let x = inputs[0] else { throw GraphError("Shape needs an input") }
        let rank = x.shape.count
        func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + rank : v, 0), rank) }
        let (s, e) = (clamp(start), clamp(end ?? rank))
        return [.int(IntTensor(x.shape[s..<Swift.max(s, e)].map { Int64($0) }))]
    }
}

/// ONNX Gather along `axis` with INT64 indices (negative indices wrap). VJP (float data): scatter-add.
public struct GatherOperator: Operator {
    public var defaultTraits: OperatorTraits { .movement }
    public var axis: Int
    public init(axis: Int = 0) { self.axis = axis }

    func plan(_ inputs: [Value?]) throws -> (axis: Int, indices: [Int], indexShape: [Int], shape: [Int]) {
        guard let data = inputs[0], let rawIndices = try inputs.integers(1) else { throw GraphError("Gather needs data and indices") }
        let shape = data.shape
        let a = try normalizedAxis(axis, rank: shape.count)
        let indices = try rawIndices.map { i -> Int in
            let resolved = i < 0 ? i + shape[a] : i
            guard resolved >= 0 && resolved < shape[a] else { throw GraphError("Gather index \(i) out of range for dimension \(shape[a])") }
            return resolved
        }
        return (a, indices, inputs[1]!.shape, shape)
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let (a, indices, indexShape, shape) = try plan(inputs)
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        let outShape = Array(shape[..<a]) + indexShape + Array(shape[(a + 1)...])
        func gather<T>(_ source: [T]) -> [T] {
            var out = [T]()
            out.reserveCapacity(outer * indices.count * inner)
            for o in 0..<outer {
                for index in indices {
                    let from = (o * shape[a] + index) * inner
                    out.append(contentsOf: source[from..<(from + inner)])
                }
            }
            return out
        }
        switch inputs[0]! {
        case .float(let t): return [.float(Tensor(shape: outShape, storage: gather(t.storage)))]
        case .int(let t): return [.int(IntTensor(shape: outShape, storage: gather(t.storage)))]
        }
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let (a, indices, _, shape) = try plan(context.inputs)
        let g = try context.outputGradient()
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        var dx = [Float](repeating: 0, count: shape.reduce(1, *))
        var position = 0
        for o in 0..<outer {
            for index in indices {
                let to = (o * shape[a] + index) * inner
                for i in 0..<inner { dx[to + i] += g.storage[position + i] }
                position += inner
            }
        }
        return [Tensor(shape: shape, storage: dx), nil]
    }
}

/// ONNX Pad in constant mode: pads [x1_begin, x2_begin, …, x1_end, …] from the attribute (opset < 11) or
/// input 1, constant value from the attribute or input 2, optional axes input (opset ≥ 18). Negative pads crop.
/// VJP: the matching slice of g.
public struct PadOperator: Operator {
    public var defaultTraits: OperatorTraits { .shapeOnly }
    public var pads: [Int]?
    public var value: Float
    public init(pads: [Int]?, value: Float = 0) {
        self.pads = pads
        self.value = value
    }

    func resolvedPads(_ inputs: [Value?], rank: Int) throws -> [Int] {
        guard let raw = try inputs.integers(1) ?? pads else { throw GraphError("Pad needs pads") }
        guard let axes = try inputs.integers(3) else {
            guard raw.count == 2 * rank else { throw GraphError("Pad has \(raw.count) pads for a tensor of rank \(rank)") }
            return raw
        }
        var full = [Int](repeating: 0, count: 2 * rank)
        for (i, axis) in axes.enumerated() {
            let a = try normalizedAxis(axis, rank: rank)
            full[a] = raw[i]
            full[rank + a] = raw[axes.count + i]
        }
        return full
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let x = try inputs.float(0)
        let p = try resolvedPads(inputs, rank: x.rank)
        let fill = try inputs.optionalFloat(2)?.storage.first ?? value
        let outShape = try (0..<x.rank).map { axis -> Int in
            let (grown, overflow1) = x.shape[axis].addingReportingOverflow(p[axis])
            let (size, overflow2) = grown.addingReportingOverflow(p[x.rank + axis])
            guard !overflow1, !overflow2 else { throw GraphError("Pad pads \(p) are out of range") }
            return size
        }
        guard outShape.allSatisfy({ $0 >= 0 }) else { throw GraphError("Pad crops more than the tensor holds") }
        var out = [Float](repeating: fill, count: try TensorLimits.checkedElementCount(outShape, what: "Pad output"))
        PadOperator.forEachPair(inShape: x.shape, outShape: outShape, begin: Array(p[..<x.rank])) { i, o in out[o] = x.storage[i] }
        return [.float(Tensor(shape: outShape, storage: out))]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let x = try context.floatInput(0), g = try context.outputGradient()
        let p = try resolvedPads(context.inputs, rank: x.rank)
        var dx = [Float](repeating: 0, count: x.count)
        PadOperator.forEachPair(inShape: x.shape, outShape: g.shape, begin: Array(p[..<x.rank])) { i, o in dx[i] = g.storage[o] }
        var result = [Tensor?](repeating: nil, count: context.inputs.count)
        result[0] = Tensor(shape: x.shape, storage: dx)
        return result
    }

    /// Visits (input offset, output offset) for every input element that lands inside the output.
    static func forEachPair(inShape: [Int], outShape: [Int], begin: [Int], _ body: (Int, Int) -> Void) {
        let rank = inShape.count
        let total = inShape.reduce(1, *)
        if total == 0 { return }
        let inStrides = Tensor.strides(of: inShape), outStrides = Tensor.strides(of: outShape)
        var index = [Int](repeating: 0, count: rank)
        for offset in 0..<total {
            var o = 0
            var inside = true
            for axis in 0..<rank {
                let position = index[axis] + begin[axis]
                if position < 0 || position >= outShape[axis] { inside = false; break }
                o += position * outStrides[axis]
            }
            if inside { body(offset, o) }
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < inShape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
            _ = inStrides
        }
    }
}
