import TensorCore

/// ONNX ReduceMean / ReduceSum: axes from the attribute (before opset 18 / 13) or INT64 input 1; keepdims
/// (default 1); with no axes, all axes are reduced unless noop_with_empty_axes. GlobalAveragePool is ReduceMean
/// over the spatial axes with keepdims. VJP: g broadcast back over the reduced axes (÷ count for the mean).
public struct ReduceOperator: Operator {
    public var defaultTraits: OperatorTraits { .linear }
    public var axes: [Int]?
    public var keepDimensions: Bool
    public var noopWithEmptyAxes: Bool
    public var mean: Bool
    /// GlobalAveragePool: reduce every axis from 2 on.
    public var spatial: Bool

    public init(axes: [Int]?, keepDimensions: Bool = true, noopWithEmptyAxes: Bool = false, mean: Bool, spatial: Bool = false) {
        self.axes = axes
        self.keepDimensions = keepDimensions
        self.noopWithEmptyAxes = noopWithEmptyAxes
        self.mean = mean
        self.spatial = spatial
    }

    func reducedAxes(_ inputs: [Value?], rank: Int) throws -> Set<Int> {
        if spatial { return Set(2..<Swift.max(rank, 2)) }
        let requested = try inputs.integers(1) ?? axes
        if let requested, !requested.isEmpty { return Set(try requested.map { try normalizedAxis($0, rank: rank) }) }
        return noopWithEmptyAxes ? [] : Set(0..<rank)
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let x = try inputs.float(0)
        let axes = try reducedAxes(inputs, rank: x.rank)
        if axes.isEmpty { return [.float(x)] }
        let count = axes.reduce(1) { $0 * x.shape[$1] }
        var y = x.sum(overAxes: axes, keepDimensions: keepDimensions || spatial)
        if mean { y = y.map { $0 / Float(count) } }
        return [.float(y)]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let x = try context.floatInput(0)
        let axes = try reducedAxes(context.inputs, rank: x.rank)
        var result = [Tensor?](repeating: nil, count: context.inputs.count)
        let g = try context.outputGradient()
        if axes.isEmpty { result[0] = g; return result }
        let count = axes.reduce(1) { $0 * x.shape[$1] }
        let kept = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        var dx = g.reshaped(kept).broadcast(to: x.shape)
        if mean { dx = dx.map { $0 / Float(count) } }
        result[0] = dx
        return result
    }
}
