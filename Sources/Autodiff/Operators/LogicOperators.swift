import TensorCore

/// ONNX Equal, Less, Greater, LessOrEqual, GreaterOrEqual with broadcasting, on float or integer inputs.
/// Booleans are 0/1 INT64 tensors (ModScope's representation of ONNX BOOL). No gradient.
public struct ComparisonOperator: NonDifferentiableOperator {
    public enum Kind: Sendable { case equal, less, greater, lessOrEqual, greaterOrEqual }
    public var kind: Kind
    public init(_ kind: Kind) { self.kind = kind }

    func holds(_ a: Double, _ b: Double) -> Bool {
        switch kind {
        case .equal: return a == b
        case .less: return a < b
        case .greater: return a > b
        case .lessOrEqual: return a <= b
        case .greaterOrEqual: return a >= b
        }
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let (x, y) = (try inputs.required(0), try inputs.required(1))
        let map = try BroadcastIndexing([x.shape, y.shape])
        let (a, b) = (numericValues(x), numericValues(y))
        return [.int(IntTensor(shape: map.shape, storage: (0..<map.count).map { o in
            holds(a[map.sources[0][o]], b[map.sources[1][o]]) ? 1 : 0
        }))]
    }
}

/// ONNX And, Or, Xor (broadcast) and Not: nonzero is true; 0/1 INT64 out. No gradient.
public struct LogicalOperator: NonDifferentiableOperator {
    public enum Kind: Sendable { case and, or, xor, not }
    public var kind: Kind
    public init(_ kind: Kind) { self.kind = kind }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let x = try inputs.required(0)
        let a = numericValues(x)
        if kind == .not { return [.int(IntTensor(shape: x.shape, storage: a.map { $0 == 0 ? 1 : 0 }))] }
        let y = try inputs.required(1)
        let b = numericValues(y)
        let map = try BroadcastIndexing([x.shape, y.shape])
        return [.int(IntTensor(shape: map.shape, storage: (0..<map.count).map { o in
            let (p, q) = (a[map.sources[0][o]] != 0, b[map.sources[1][o]] != 0)
            switch kind {
            case .and: return p && q ? 1 : 0
            case .or: return p || q ? 1 : 0
            case .xor: return p != q ? 1 : 0
            case .not: return 0
            }
        }))]
    }
}

/// ONNX IsNaN and IsInf (detect_negative / detect_positive, default 1). 0/1 INT64 out. No gradient.
public struct FloatClassOperator: NonDifferentiableOperator {
    public enum Kind: Sendable { case nan, infinity(negative: Bool, positive: Bool) }
    public var kind: Kind
    public init(_ kind: Kind) { self.kind = kind }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let x = try inputs.required(0)
        guard case .float(let t) = x else { return [.int(IntTensor(shape: x.shape, storage: [Int64](repeating: 0, count: x.shape.reduce(1, *))))] }
        return [.int(IntTensor(shape: t.shape, storage: t.storage.map { v in
            switch kind {
            case .nan: return v.isNaN ? 1 : 0
            case .infinity(let negative, let positive): return v.isInfinite && (v < 0 ? negative : positive) ? 1 : 0
            }
        }))]
    }
}

/// ONNX Where(condition, x, y) with broadcasting over all three; the condition is any numeric tensor (nonzero =
/// true). VJP: dx = unb(g·[c]), dy = unb(g·[¬c]); none for the condition.
public struct WhereOperator: Operator {
    public init() {}
    public var defaultTraits: OperatorTraits { .movement }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let (c, x, y) = (try inputs.required(0), try inputs.required(1), try inputs.required(2))
        let map = try BroadcastIndexing([c.shape, x.shape, y.shape])
        let condition = numericValues(c)
        if case .int(let a) = x, case .int(let b) = y {
            return [.int(IntTensor(shape: map.shape, storage: (0..<map.count).map { o in
                condition[map.sources[0][o]] != 0 ? a.storage[map.sources[1][o]] : b.storage[map.sources[2][o]]
            }))]
        }
        let (a, b) = (numericValues(x), numericValues(y))
        return [.float(Tensor(shape: map.shape, storage: (0..<map.count).map { o in
            Float(condition[map.sources[0][o]] != 0 ? a[map.sources[1][o]] : b[map.sources[2][o]])
        }))]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let values = try (0..<3).map { try context.inputs.required($0) }
        let map = try BroadcastIndexing(values.map(\.shape))
        let condition = numericValues(values[0])
        let g = try context.outputGradient()
        var result: [Tensor?] = [nil, nil, nil]
        for (k, taken) in [(1, true), (2, false)] where context.needsGradient[k] {
            let share = (0..<map.count).map { o in (condition[map.sources[0][o]] != 0) == taken ? g.storage[o] : 0 }
            result[k] = map.reduce(share, onto: k, shape: values[k].shape)
        }
        return result
    }
}
