import TensorCore

/// The matrix M = diag(r) · g(F[S, T]) · diag(c) + Σₜ aₜ bₜᵀ applied without ever being formed.
///
/// - Dhillon's scaled normalisation: r = rowsum^(−1/2), c = colsum^(−1/2) (0 for empty rows/columns), g = id,
///   and one rank-1 term −u₁v₁ᵀ that deflates the trivial singular pair (σ₁ = 1, u₁ ∝ √rowsum, v₁ ∝ √colsum).
/// - Kluger's log method: g = log(· + shift), r = c = 1, rank-1 terms that remove row, column and grand means.
///
/// Products read A in row blocks (see `Submatrix.forEachBlock`) and call sgemm on the block buffer, so the
/// extra memory is one block plus the n×b and m×b factors. Sums over blocks run in a fixed order, so results are
/// the same for any BLAS thread count.
struct ImplicitOperator: Sendable {
    let matrix: Submatrix
    var rowScale: [Float]?
    var colScale: [Float]?
    var logShift: Float?
    /// Rank-1 corrections (left has `rows` entries, right has `cols`).
    var lowRank: [(left: [Double], right: [Double])] = []

    var rows: Int { matrix.rows }
    var cols: Int { matrix.cols }

    /// Y = M Q (rows×b, float) and, when `gram` is set, W = Mᵀ Y (cols×b, double), in one pass over A.
    func apply(_ q: [Float], width b: Int, gram: Bool) -> (y: [Float], w: [Double]?) {
        precondition(q.count == cols * b)
        var y = [Float](repeating: 0, count: rows * b)
        var wf = [Float](repeating: 0, count: gram ? cols * b : 0)
        // bᵀQ for each low-rank term, and the running aᵀY.
        let rightQ: [[Double]] = lowRank.map { term in
            (0..<b).map { k in
                var s: Double = 0
                for j in 0..<cols { s += term.right[j] * Double(q[j * b + k]) }
                return s
            }
        }
        var leftY = [[Double]](repeating: [Double](repeating: 0, count: b), count: lowRank.count)
        q.withUnsafeBufferPointer { qb in
            y.withUnsafeMutableBufferPointer { yb in
                wf.withUnsafeMutableBufferPointer { wb in
                    matrix.forEachBlock(rowScale: rowScale, colScale: colScale, logShift: logShift) { start, count, buffer in
                        let yBlock = yb.baseAddress! + start * b
                        BLAS.gemm(
                            transposeA: false, transposeB: false, m: count, n: b, k: cols,
                            a: buffer, lda: cols, b: qb.baseAddress!, ldb: b, beta: 0, c: yBlock, ldc: b)
                        for (t, term) in lowRank.enumerated() {
                            for i in 0..<count {
                                let a = term.left[start + i]
                                if a == 0 { continue }
                                for k in 0..<b { yBlock[i * b + k] += Float(a * rightQ[t][k]) }
                            }
                        }
                        if gram {
                            BLAS.gemm(
                                transposeA: true, transposeB: false, m: cols, n: b, k: count,
                                a: buffer, lda: cols, b: yBlock, ldb: b, beta: 1, c: wb.baseAddress!, ldc: b)
                            for (t, term) in lowRank.enumerated() {
                                for i in 0..<count {
                                    let a = term.left[start + i]
                                    if a == 0 { continue }
                                    for k in 0..<b { leftY[t][k] += a * Double(yBlock[i * b + k]) }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard gram else { return (y, nil) }
        var w = wf.map(Double.init)
        for (t, term) in lowRank.enumerated() {
            for j in 0..<cols {
                let rj = term.right[j]
                if rj == 0 { continue }
                for k in 0..<b { w[j * b + k] += rj * leftY[t][k] }
            }
        }
        return (y, w)
    }

    /// W = Mᵀ P (cols×b) for P rows×b, in one pass over A.
    func applyTransposed(_ p: [Float], width b: Int) -> [Double] {
        precondition(p.count == rows * b)
        var wf = [Float](repeating: 0, count: cols * b)
        var leftP = [[Double]](repeating: [Double](repeating: 0, count: b), count: lowRank.count)
        p.withUnsafeBufferPointer { pb in
            wf.withUnsafeMutableBufferPointer { wb in
                matrix.forEachBlock(rowScale: rowScale, colScale: colScale, logShift: logShift) { start, count, buffer in
                    BLAS.gemm(
                        transposeA: true, transposeB: false, m: cols, n: b, k: count,
                        a: buffer, lda: cols, b: pb.baseAddress! + start * b, ldb: b, beta: 1,
                        c: wb.baseAddress!, ldc: b)
                }
            }
        }
        for (t, term) in lowRank.enumerated() {
            for i in 0..<rows where term.left[i] != 0 {
                for k in 0..<b { leftP[t][k] += term.left[i] * Double(p[i * b + k]) }
            }
        }
        var w = wf.map(Double.init)
        for (t, term) in lowRank.enumerated() {
            for j in 0..<cols where term.right[j] != 0 {
                for k in 0..<b { w[j * b + k] += term.right[j] * leftP[t][k] }
            }
        }
        return w
    }
}
