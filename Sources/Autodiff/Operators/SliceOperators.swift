import TensorCore

/// ONNX Slice: starts, ends, axes?, steps? as INT64 inputs (opset ≥ 10) or attributes (before). Negative
/// indices count from the end; bounds are clamped as the spec says. Works on float and INT64 tensors.
/// VJP: g scattered back to the sliced positions, zeros elsewhere.
public struct SliceOperator: Operator {
    public var defaultTraits: OperatorTraits { .movement }
    public var starts: [Int]?, ends: [Int]?, axes: [Int]?
    public init(starts: [Int]? = nil, ends: [Int]? = nil, axes: [Int]? = nil) {
        self.starts = starts
        self.ends = ends
        self.axes = axes
    }

    /// Per axis of the input: (start, step, count).
    func plan(_ inputs: [Value?]) throws -> [(start: Int, step: Int, count: Int)] {
        guard let data = inputs[0] else { throw GraphError("Slice needs data") }
        let shape = data.shape
        guard let starts = try inputs.integers(1) ?? self.starts, let ends = try inputs.integers(2) ?? self.ends,
            starts.count == ends.count
        else { throw GraphError("Slice needs starts and ends of equal length") }
        let axes = try (inputs.integers(3) ?? self.axes ?? Array(0..<starts.count)).map { try normalizedAxis($0, rank: shape.count) }
        let steps = try inputs.integers(4) ?? [Int](repeating: 1, count: starts.count)
        var result = shape.map { (start: 0, step: 1, count: $0) }
        for (i, axis) in axes.enumerated() {
            let dim = shape[axis], step = steps[i]
            guard step != 0 else { throw GraphError("Slice step must not be 0") }
            var start = starts[i] < 0 ? starts[i] + dim : starts[i]
            var end = ends[i] < 0 ? ends[i] + dim : ends[i]
            if step > 0 {
                start = Swift.min(Swift.max(start, 0), dim)
                end = Swift.min(Swift.max(end, 0), dim)
            } else {
                start = Swift.min(Swift.max(start, 0), dim - 1)
                end = Swift.min(Swift.max(end, -1), dim - 1)
            }
            // Clamped start/end lie in [-1, dim]; counting with |step| as UInt avoids overflow for steps such as
            // INT64_MIN or INT64_MAX.
            let span = step > 0 ? end - start : start - end
            let count = span > 0 ? Int((UInt(span) - 1) / step.magnitude) + 1 : 0
            result[axis] = (start, step, count)
        }
        return result
    }

    /// Visits (input offset, output offset) for every output element.
    static func forEach(_ plan: [(start: Int, step: Int, count: Int)], inputShape: [Int], _ body: (Int, Int) -> Void) {
        let outShape = plan.map(\.count)
        let total = outShape.reduce(1, *)
        if total == 0 { return }
        let strides = Tensor.strides(of: inputShape)
        var index = [Int](repeating: 0, count: outShape.count)
        for o in 0..<total {
            var offset = 0
            for axis in 0..<outShape.count { offset += (plan[axis].start + index[axis] * plan[axis].step) * strides[axis] }
            body(offset, o)
            var axis = outShape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < outShape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let p = try plan(inputs)
        let outShape = p.map(\.count)
        switch inputs[0]! {
        case .float(let t):
            var out = [Float](repeating: 0, count: outShape.reduce(1, *))
            SliceOperator.forEach(p, inputShape: t.shape) { i, o in out[o] = t.storage[i] }
            return [.float(Tensor(shape: outShape, storage: out))]
        case .int(let t):
            var out = [Int64](repeating: 0, count: outShape.reduce(1, *))
            SliceOperator.forEach(p, inputShape: t.shape) { i, o in out[o] = t.storage[i] }
            return [.int(IntTensor(shape: outShape, storage: out))]
        }
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let x = try context.floatInput(0), g = try context.outputGradient()
        var dx = [Float](repeating: 0, count: x.count)
        SliceOperator.forEach(try plan(context.inputs), inputShape: x.shape) { i, o in dx[i] += g.storage[o] }
        var result = [Tensor?](repeating: nil, count: context.inputs.count)
        result[0] = Tensor(shape: x.shape, storage: dx)
        return result
    }
}

/// ONNX ConstantOfShape: a tensor of the INT64 input's shape filled with `value` (default float 0).
public struct ConstantOfShapeOperator: NonDifferentiableOperator {
    public var value: Value
    public init(value: Value) { self.value = value }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        guard let shape = try inputs.integers(0), shape.allSatisfy({ $0 >= 0 }) else {
            throw GraphError("ConstantOfShape needs a non-negative INT64 shape")
        }
        let count = try TensorLimits.checkedElementCount(shape, what: "ConstantOfShape output")
        switch value {
        case .float(let t): return [.float(Tensor(repeating: t.storage.first ?? 0, shape: shape))]
        case .int(let t): return [.int(IntTensor(shape: shape, storage: [Int64](repeating: t.storage.first ?? 0, count: count)))]
        }
    }
}
