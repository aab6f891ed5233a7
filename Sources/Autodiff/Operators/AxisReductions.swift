import Foundation
import TensorCore

/// ONNX ReduceMax, ReduceMin, ReduceL1, ReduceL2, ReduceProd, ReduceSumSquare and ReduceLogSumExp, with the
/// same axes rules as `ReduceOperator` (attribute before opset 18 — 13 for ReduceSum —, INT64 input 1 after;
/// keepdims; noop_with_empty_axes).
///
/// The reduced axes are moved last (one transpose), so each output element reduces one contiguous row.
/// Sums accumulate in Float64. VJPs, per row with y the row's result:
/// - Max/Min: g shared equally by the elements equal to y (torch.amax/amin's rule; ties have measure zero);
/// - L1: g·sign(x); L2: g·x/y (0 when y = 0); SumSquare: 2g·x; LogSumExp: g·softmax(x);
/// - Prod: g·Π_{j≠i} x_j from prefix and suffix products (exact with zeros, never a division by x).
/// Max, Min and Prod also run on INT64 tensors (shape arithmetic such as numel = ReduceProd(Shape(x))).
public struct AxisReductionOperator: Operator {
    public var defaultTraits: OperatorTraits { .gradient }
    public enum Kind: String, Sendable, CaseIterable {
        case max, min, l1, l2, prod, sumSquare, logSumExp
    }

    public var kind: Kind
    public var axes: [Int]?
    public var keepDimensions: Bool
    public var noopWithEmptyAxes: Bool

    public init(_ kind: Kind, axes: [Int]? = nil, keepDimensions: Bool = true, noopWithEmptyAxes: Bool = false) {
        self.kind = kind
        self.axes = axes
        self.keepDimensions = keepDimensions
        self.noopWithEmptyAxes = noopWithEmptyAxes
    }

    /// The permutation putting kept axes first and reduced ones last, the row length and the output shape.
    struct Layout {
        var permutation: [Int]
        var rows: Int, length: Int
        var outputShape: [Int]
        var isIdentity: Bool { permutation == Array(permutation.indices) }
    }

    func layout(_ inputs: [Value?], shape: [Int]) throws -> Layout? {
        let reduced = try reductionAxes(inputs, attribute: axes, noopWithEmptyAxes: noopWithEmptyAxes, rank: shape.count)
        if reduced.isEmpty { return nil }
        let kept = shape.indices.filter { !reduced.contains($0) }
        let permutation = kept + reduced.sorted()
        let outputShape = keepDimensions ? shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element } : kept.map { shape[$0] }
        return Layout(
            permutation: permutation, rows: kept.reduce(1) { $0 * shape[$1] },
            length: reduced.reduce(1) { $0 * shape[$1] }, outputShape: outputShape)
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        guard let x = inputs.first ?? nil else { throw GraphError("Reduce needs data") }
        // No axes with noop_with_empty_axes: the identity, except for the elementwise part of the reduction.
        guard let l = try layout(inputs, shape: x.shape) else { return [try elementwiseOnly(x)] }
        switch x {
        case .float(let t):
            let rows = Self.rows(t, l)
            let values = (0..<l.rows).map { Float(reduce(rows, row: $0, length: l.length)) }
            return [.float(Tensor(shape: l.outputShape, storage: values))]
        case .int(let t):
            guard [.max, .min, .prod].contains(kind) else { throw GraphError("Reduce\(kind) needs a float tensor") }
            let rows = ElementMap.transpose(t.shape, l.permutation).gather(t.storage)
            let values = (0..<l.rows).map { row -> Int64 in
                let slice = rows[(row * l.length)..<((row + 1) * l.length)]
                switch kind {
                case .max: return slice.max() ?? Int64.min
                case .min: return slice.min() ?? Int64.max
                default: return slice.reduce(1, &*)
                }
            }
            return [.int(IntTensor(shape: l.outputShape, storage: values))]
        }
    }

    /// ONNX's result for an empty axis list with noop_with_empty_axes: the input with the elementwise map applied.
    func elementwiseOnly(_ x: Value) throws -> Value {
        guard case .float(let t) = x else { return x }
        switch kind {
        case .max, .min, .prod, .logSumExp: return x
        case .l1, .l2: return .float(t.map { abs($0) })
        case .sumSquare: return .float(t.map { $0 * $0 })
        }
    }

    /// The input as (rows, length) with the reduced axes last.
    static func rows(_ x: Tensor, _ l: Layout) -> Tensor {
        (l.isIdentity ? x : x.transposed(l.permutation)).reshaped([l.rows, l.length])
    }

    func reduce(_ x: Tensor, row: Int, length: Int) -> Double {
        x.storage.withUnsafeBufferPointer { p in
            let v = UnsafeBufferPointer(rebasing: p[(row * length)..<((row + 1) * length)])
            switch kind {
            case .max: return Double(v.max() ?? -.infinity)
            case .min: return Double(v.min() ?? .infinity)
            case .l1: return v.reduce(0.0) { $0 + Double(abs($1)) }
            case .l2: return v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            case .sumSquare: return v.reduce(0.0) { $0 + Double($1) * Double($1) }
            case .prod: return v.reduce(1.0) { $0 * Double($1) }
            case .logSumExp:
                guard let top = v.max(), top.isFinite else { return Double(v.max() ?? -.infinity) }
                return Double(top) + log(v.reduce(0.0) { $0 + exp(Double($1) - Double(top)) })
            }
        }
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        var result = [Tensor?](repeating: nil, count: context.inputs.count)
        guard context.needsGradient.first == true else { return result }
        let x = try context.floatInput(0), g = try context.outputGradient()
        guard let l = try layout(context.inputs, shape: x.shape) else {
            result[0] = try elementwiseOnlyBackward(x, g)
            return result
        }
        let rows = Self.rows(x, l)
        var dx = [Float](repeating: 0, count: x.count)
        for row in 0..<l.rows {
            let y = reduce(rows, row: row, length: l.length)
            let slice = Array(rows.storage[(row * l.length)..<((row + 1) * l.length)])
            let local = rowGradient(slice, result: y, gradient: Double(g.storage[row]))
            for (i, value) in local.enumerated() { dx[row * l.length + i] = Float(value) }
        }
        let permutedShape = l.permutation.map { x.shape[$0] }
        var inverse = [Int](repeating: 0, count: l.permutation.count)
        for (i, p) in l.permutation.enumerated() { inverse[p] = i }
        let permuted = Tensor(shape: permutedShape, storage: dx)
        result[0] = l.isIdentity ? permuted.reshaped(x.shape) : permuted.transposed(inverse)
        return result
    }

    /// ∂(Σ g·y)/∂x for one row of `x` reduced to `y`.
    func rowGradient(_ x: [Float], result y: Double, gradient g: Double) -> [Double] {
        switch kind {
        case .max, .min:
            let ties = x.filter { Double($0) == y }.count
            return x.map { Double($0) == y ? g / Double(ties) : 0 }
        case .l1: return x.map { g * ($0 > 0 ? 1 : ($0 < 0 ? -1 : 0)) }
        case .l2: return x.map { y == 0 ? 0 : g * Double($0) / y }
        case .sumSquare: return x.map { 2 * g * Double($0) }
        case .logSumExp: return x.map { g * exp(Double($0) - y) }
        case .prod:
            var prefix = [Double](repeating: 1, count: x.count + 1), suffix = prefix
            for i in 0..<x.count { prefix[i + 1] = prefix[i] * Double(x[i]) }
            for i in stride(from: x.count - 1, through: 0, by: -1) { suffix[i] = suffix[i + 1] * Double(x[i]) }
            return (0..<x.count).map { g * prefix[$0] * suffix[$0 + 1] }
        }
    }

    /// VJP of `elementwiseOnly`.
    func elementwiseOnlyBackward(_ x: Tensor, _ g: Tensor) throws -> Tensor {
        switch kind {
        case .max, .min, .prod, .logSumExp: return g
        case .l1, .l2: return g.zipMap(x) { $1 > 0 ? $0 : ($1 < 0 ? -$0 : 0) }
        case .sumSquare: return g.zipMap(x) { 2 * $0 * $1 }
        }
    }
}
