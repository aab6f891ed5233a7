import TensorCore

/// ONNX LayerNormalization (opset 17): over the axes [axis, rank), per row r of D = Π shape[axis...] values,
/// x̂ = (x − μ_r)·ρ_r with ρ_r = 1/√(σ²_r + ε) (biased variance), y = x̂·γ + β (γ, β of D values, or 1). The
/// optional Mean and InvStdDev outputs have shape[..<axis] followed by ones. Statistics are accumulated in
/// Double. VJP (through Y): with u = g·γ, dx = ρ·(u − mean(u) − x̂·mean(u·x̂)); dγ = Σ_r g·x̂; dβ = Σ_r g.
/// A gradient arriving at Mean or InvStdDev is refused (no model differentiates through them).
public struct LayerNormalizationOperator: Operator {
    public var axis: Int
    public var epsilon: Float
    public init(axis: Int = -1, epsilon: Float = 1e-5) {
        self.axis = axis
        self.epsilon = epsilon
    }

    public var defaultTraits: OperatorTraits { .gradient }

    struct Statistics {
        var rows: Int, width: Int
        var normalized: [Float], mean: [Float], inverseStd: [Float]
        var statisticsShape: [Int]
    }

    func parameter(_ inputs: [Value?], _ index: Int, width: Int, default value: Float) throws -> [Float] {
        guard let tensor = try inputs.optionalFloat(index) else { return [Float](repeating: value, count: width) }
        if tensor.count == width { return tensor.storage }
        if tensor.count == 1 { return [Float](repeating: tensor.storage[0], count: width) }
        throw GraphError("LayerNormalization \(index == 1 ? "Scale" : "B") has \(tensor.count) values but the normalized axes hold \(width)")
    }

    func statistics(_ x: Tensor) throws -> Statistics {
        let a = try normalizedAxis(axis, rank: x.rank)
        let width = x.shape[a...].reduce(1, *), rows = x.shape[..<a].reduce(1, *)
        var normalized = [Float](repeating: 0, count: x.count)
        var mean = [Float](repeating: 0, count: rows), inverseStd = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            let row = x.storage[(r * width)..<((r + 1) * width)]
            let mu = row.reduce(0.0) { $0 + Double($1) } / Double(width)
            let variance = row.reduce(0.0) { $0 + (Double($1) - mu) * (Double($1) - mu) } / Double(width)
            let rho = 1 / (variance + Double(epsilon)).squareRoot()
            for (i, v) in row.enumerated() { normalized[r * width + i] = Float((Double(v) - mu) * rho) }
            (mean[r], inverseStd[r]) = (Float(mu), Float(rho))
        }
        let statisticsShape = Array(x.shape[..<a]) + [Int](repeating: 1, count: x.rank - a)
        return Statistics(rows: rows, width: width, normalized: normalized, mean: mean, inverseStd: inverseStd, statisticsShape: statisticsShape)
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let x = try inputs.float(0)
        let s = try statistics(x)
        let gamma = try parameter(inputs, 1, width: s.width, default: 1), beta = try parameter(inputs, 2, width: s.width, default: 0)
        let y = (0..<x.count).map { s.normalized[$0] * gamma[$0 % s.width] + beta[$0 % s.width] }
        return [
            .float(Tensor(shape: x.shape, storage: y)), .float(Tensor(shape: s.statisticsShape, storage: s.mean)),
            .float(Tensor(shape: s.statisticsShape, storage: s.inverseStd)),
        ]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        if context.outputGradients.dropFirst().contains(where: { $0 != nil }) {
            throw GraphError("LayerNormalization's Mean/InvStdDev outputs have no gradient")
        }
        let x = try context.floatInput(0), g = try context.outputGradient()
        let s = try statistics(x)
        let gamma = try parameter(context.inputs, 1, width: s.width, default: 1)
        var result = [Tensor?](repeating: nil, count: context.inputs.count)
        if context.needsGradient[0] {
            var dx = [Float](repeating: 0, count: x.count)
            for r in 0..<s.rows {
                let base = r * s.width
                var (meanU, meanUX) = (0.0, 0.0)
                for i in 0..<s.width {
                    let u = Double(g.storage[base + i] * gamma[i])
                    meanU += u
                    meanUX += u * Double(s.normalized[base + i])
                }
                (meanU, meanUX) = (meanU / Double(s.width), meanUX / Double(s.width))
                for i in 0..<s.width {
                    let u = Double(g.storage[base + i] * gamma[i])
                    dx[base + i] = Float(Double(s.inverseStd[r]) * (u - meanU - Double(s.normalized[base + i]) * meanUX))
                }
            }
            result[0] = Tensor(shape: x.shape, storage: dx)
        }
        for (index, isScale) in [(1, true), (2, false)] where index < context.inputs.count && context.needsGradient[index] {
            let parameter = try context.floatInput(index)
            var sums = [Float](repeating: 0, count: s.width)
            for i in 0..<x.count { sums[i % s.width] += g.storage[i] * (isScale ? s.normalized[i] : 1) }
            result[index] = Tensor(shape: parameter.shape, storage: parameter.count == 1 ? [sums.reduce(0, +)] : sums)
        }
        return result
    }
}
