/// One spectral biclustering fit (Kluger, Basri, Chang & Gerstein 2003, "Spectral biclustering of microarray
/// data: coclustering genes and conditions", Genome Research 13:703) of F[S, T]: a checkerboard of k row
/// clusters × k column clusters, as sklearn's SpectralBiclustering.
///
/// - bistochastic: alternate row/column scaling until D₁ F D₂ has constant row and column sums (relative change
///   of the scale factors < 1e-6, at most 100 passes), then drop the first singular pair;
/// - scale: one Dhillon scaling, drop the first pair; log: L = log(F + shift) with min ≥ 1, double-centred.
/// For each of `components` singular vectors per side, 1-D k-means measures how piecewise-constant it is; the
/// `bestComponents` best are kept and rows (columns) are clustered on F·V_best (Fᵀ·U_best), F unscaled.
/// Rows or columns that are empty in F[S, T] get label −1.
struct SpectralBiclusteringFit: Sendable {
    var rowLabels: [[Int32]]
    var colLabels: [[Int32]]

    init(matrix: Submatrix, ks: [Int], normalization: CheckerboardNormalization, components: Int,
         bestComponents: Int, initializations: Int, seed: UInt64) {
        let n = matrix.rows, m = matrix.cols
        let (rowSums, colSums, _) = matrix.sums()
        let liveRows = (0..<n).filter { rowSums[$0] > 0 }
        let liveCols = (0..<m).filter { colSums[$0] > 0 }
        var op: ImplicitOperator
        var discard = 1
        switch normalization {
        case .scale:
            op = ScaledNormalization(matrix: matrix, rowSums: rowSums, colSums: colSums).op
            op.lowRank = []
        case .bistochastic:
            var r = rowSums.map { $0 > 0 ? 1 / $0.squareRoot() : 0 }
            var c = colSums.map { $0 > 0 ? 1 / $0.squareRoot() : 0 }
            for _ in 0..<100 {
                let (fc, ftr) = matrix.bilinear(rowWeights: r, colWeights: c)
                var change: Double = 0
                for i in 0..<n where r[i] > 0 {
                    let s = r[i] * fc[i]
                    let f = s > 0 ? 1 / s.squareRoot() : 0
                    change = Swift.max(change, Swift.abs(f - 1))
                    r[i] *= f
                }
                for j in 0..<m where c[j] > 0 {
                    let s = c[j] * ftr[j]
                    let f = s > 0 ? 1 / s.squareRoot() : 0
                    change = Swift.max(change, Swift.abs(f - 1))
                    c[j] *= f
                }
                if change < 1e-6 { break }
            }
            op = ImplicitOperator(matrix: matrix, rowScale: r.map(Float.init), colScale: c.map(Float.init))
        case .log:
            // F ≥ 0, so shifting by 1 gives min ≥ 1 exactly as sklearn's make_nonnegative(min_value=1) when
            // min F = 0; when min F > 0 the shift is 1 − min F.
            var minimum = Float.infinity
            matrix.forEachBlock { _, count, buffer in
                for e in 0..<(count * matrix.cols) { minimum = Swift.min(minimum, buffer[e]) }
            }
            let shift: Float = minimum < 1 ? 1 - minimum : 0
            let (lr, lc, _) = matrix.sums(logShift: shift)
            let total = lr.reduce(0, +)
            let ones = { (count: Int) in [Double](repeating: 1, count: count) }
            op = ImplicitOperator(
                matrix: matrix, logShift: shift,
                lowRank: [
                    (left: lr.map { -$0 / Double(m) }, right: ones(m)),
                    (left: ones(n), right: lc.map { -$0 / Double(n) }),
                    (left: ones(n).map { $0 * total / Double(n * m) }, right: ones(m)),
                ])
            discard = 0
        }
        let rank = Swift.min(components + discard, n, m)
        let svd = TruncatedSVD(operator: op, rank: rank, seed: seed)
        let kept = svd.rank - discard
        func column(_ data: [Double], _ length: Int, _ c: Int) -> [Double] {
            (0..<length).map { data[$0 * svd.rank + c + discard] }
        }
        let raw = ImplicitOperator(matrix: matrix)
        rowLabels = []
        colLabels = []
        for k in ks {
            // Best piecewise-constant vectors (sklearn _fit_best_piecewise).
            func best(_ data: [Double], _ length: Int, _ live: [Int]) -> [[Double]] {
                var scored: [(Double, Int)] = []
                for c in 0..<kept {
                    let vec = column(data, length, c)
                    let pts = live.map { vec[$0] }
                    let km = kMeans(points: pts, count: pts.count, dimension: 1,
                                    config: KMeansConfig(clusters: Swift.min(k, pts.count), initializations: initializations),
                                    seed: seed &+ UInt64(c))
                    var d: Double = 0
                    for (p, x) in pts.enumerated() { let t = x - km.centers[Int(km.labels[p])]; d += t * t }
                    scored.append((d.squareRoot(), c))
                }
                scored.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
                return scored.prefix(bestComponents).map { column(data, length, $0.1) }
            }
            let bu = best(svd.u, n, liveRows)
            let bv = best(svd.v, m, liveCols)
            let nb = bv.count
            var q = [Float](repeating: 0, count: m * nb)
            for (c, vec) in bv.enumerated() { for j in 0..<m { q[j * nb + c] = Float(vec[j]) } }
            let rowProjection = raw.apply(q, width: nb, gram: false).y
            let nu = bu.count
            var p = [Float](repeating: 0, count: n * nu)
            for (c, vec) in bu.enumerated() { for i in 0..<n { p[i * nu + c] = Float(vec[i]) } }
            let colProjection = raw.applyTransposed(p, width: nu)
            func cluster(_ proj: [Double], _ width: Int, _ live: [Int], _ length: Int) -> [Int32] {
                var pts = [Double](repeating: 0, count: live.count * width)
                for (a, i) in live.enumerated() { for c in 0..<width { pts[a * width + c] = proj[i * width + c] } }
                let km = kMeans(points: pts, count: live.count, dimension: width,
                                config: KMeansConfig(clusters: Swift.min(k, live.count), initializations: initializations),
                                seed: seed)
                var labels = [Int32](repeating: -1, count: length)
                for (a, i) in live.enumerated() { labels[i] = km.labels[a] }
                return labels
            }
            rowLabels.append(cluster(rowProjection.map(Double.init), nb, liveRows, n))
            colLabels.append(cluster(colProjection, nu, liveCols, m))
        }
    }
}
