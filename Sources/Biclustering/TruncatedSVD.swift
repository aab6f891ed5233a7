import TensorCore

/// Leading singular triples of an implicit operator by randomized block subspace iteration
/// (Halko, Martinsson & Tropp 2011, Alg. 4.4 with Rayleigh–Ritz), one fused pass Y = MQ, W = MᵀY per iteration.
///
/// Stops when the top `rank` Ritz values θ = σ² change by less than `tolerance`·θ₁ between two passes (at least
/// `minIterations`, at most `maxIterations` passes). Orthonormalisation (Householder QR) and the b×b
/// eigenproblem run in double precision. Singular vectors are defined up to sign; callers only use distances.
struct TruncatedSVD: Sendable {
    var values: [Double]
    /// rows×rank, row-major.
    var u: [Double]
    /// cols×rank, row-major.
    var v: [Double]
    var rank: Int
    var passes: Int

    struct Options: Sendable {
        var oversampling = 10
        var minIterations = 2
        var maxIterations = 10
        var tolerance = 1e-4
    }

    /// - Parameter warmStart: cols×w row-major vectors used as the first columns of the starting block.
    init(operator op: ImplicitOperator, rank requested: Int, options: Options = Options(), seed: UInt64,
         warmStart: (vectors: [Double], width: Int)? = nil) {
        let n = op.rows, m = op.cols
        let rank = Swift.max(0, Swift.min(requested, n, m))
        let b = Swift.max(rank, Swift.min(rank + options.oversampling, n, m))
        var rng = RandomSource(seed: seed, stream: 0x5344)
        var q = [Double](repeating: 0, count: m * b)
        let warmWidth = Swift.min(warmStart?.width ?? 0, b)
        for j in 0..<m {
            for k in 0..<b {
                q[j * b + k] = k < warmWidth ? warmStart!.vectors[j * warmStart!.width + k] : rng.normal()
            }
        }
        LinearAlgebra.orthonormalizeColumns(&q, rows: m, cols: b)
        var previous = [Double](repeating: -1, count: rank)
        var passes = 0
        var y = [Float]()
        var gramEigen: (values: [Double], vectors: [Double]) = ([], [])
        while true {
            let (yNew, wOpt) = op.apply(q.map(Float.init), width: b, gram: true)
            passes += 1
            y = yNew
            let w = wOpt!
            // Ritz values from H = Qᵀ W = YᵀY (symmetric, b×b).
            var h = [Double](repeating: 0, count: b * b)
            for j in 0..<m {
                for k in 0..<b {
                    let qk = q[j * b + k]
                    if qk == 0 { continue }
                    for l in 0..<b { h[k * b + l] += qk * w[j * b + l] }
                }
            }
            for k in 0..<b { for l in 0..<k { let s = 0.5 * (h[k * b + l] + h[l * b + k]); h[k * b + l] = s; h[l * b + k] = s } }
            gramEigen = LinearAlgebra.symmetricEigen(h, n: b) ?? (h.indices.map { _ in 0 }, h)
            let theta = Array(gramEigen.values.prefix(rank))
            let scale = Swift.max(theta.first ?? 0, 1e-300)
            let change = zip(theta, previous).map { Swift.abs($0 - $1) }.max() ?? 0
            previous = theta
            if (passes >= options.minIterations && change <= options.tolerance * scale)
                || passes >= options.maxIterations { break }
            q = w
            LinearAlgebra.orthonormalizeColumns(&q, rows: m, cols: b)
        }
        // V = Q E, σ = √θ, U = Y E / σ.
        let e = gramEigen.vectors
        var values = [Double](repeating: 0, count: rank)
        var u = [Double](repeating: 0, count: n * rank)
        var v = [Double](repeating: 0, count: m * rank)
        for k in 0..<rank { values[k] = Swift.max(gramEigen.values[k], 0).squareRoot() }
        for j in 0..<m {
            for k in 0..<rank {
                var s: Double = 0
                for l in 0..<b { s += q[j * b + l] * e[l * b + k] }
                v[j * rank + k] = s
            }
        }
        for i in 0..<n {
            for k in 0..<rank {
                var s: Double = 0
                for l in 0..<b { s += Double(y[i * b + l]) * e[l * b + k] }
                u[i * rank + k] = values[k] > 0 ? s / values[k] : 0
            }
        }
        self.values = values
        self.u = u
        self.v = v
        self.rank = rank
        self.passes = passes
    }
}
