import Dispatch
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
    ///
    /// The row groups of `Submatrix.rowGroups` run in parallel, each calling single-threaded sgemm on its blocks
    /// and accumulating its own partial W; the partials are added in group order. The bytes of the result thus
    /// depend neither on the number of cores nor on the BLAS thread count.
    func apply(_ q: [Float], width b: Int, gram: Bool) -> (y: [Float], w: [Double]?) {
        precondition(q.count == cols * b)
        var y = [Float](repeating: 0, count: rows * b)
        let groups = matrix.rowGroups
        var partials = [[Float]](repeating: [], count: groups.count)
        var leftParts = [[[Double]]](repeating: [], count: groups.count)
        let cols = self.cols, lowRank = self.lowRank, matrix = self.matrix
        // bᵀQ for each low-rank term.
        let rightQ: [[Double]] = lowRank.map { term in
            (0..<b).map { k in
                var s: Double = 0
                for j in 0..<cols { s += term.right[j] * Double(q[j * b + k]) }
                return s
            }
        }
        let rowScale = self.rowScale, colScale = self.colScale, logShift = self.logShift
        q.withUnsafeBufferPointer { qb in
            y.withUnsafeMutableBufferPointer { yb in
                let shared = SharedPointers(q: qb.baseAddress!, y: yb.baseAddress!)
                withSingleThreadedBLAS {
                    let results = parallelMap(groups.count) { g -> ([Float], [Double]) in
                        var wf = [Float](repeating: 0, count: gram ? cols * b : 0)
                        var leftY = [Double](repeating: 0, count: lowRank.count * b)
                        wf.withUnsafeMutableBufferPointer { wb in
                            matrix.forEachBlock(rowScale: rowScale, colScale: colScale, logShift: logShift,
                                                rowRange: groups[g]) { start, count, buffer in
                                let yBlock = shared.y + start * b
                                BLAS.gemm(
                                    transposeA: false, transposeB: false, m: count, n: b, k: cols,
                                    a: buffer, lda: cols, b: shared.q, ldb: b, beta: 0, c: yBlock, ldc: b)
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
                                            for k in 0..<b { leftY[t * b + k] += a * Double(yBlock[i * b + k]) }
                                        }
                                    }
                                }
                            }
                        }
                        return (wf, leftY)
                    }
                    for (g, r) in results.enumerated() { partials[g] = r.0; leftParts[g] = [r.1] }
                }
            }
        }
        guard gram else { return (y, nil) }
        var w = [Double](repeating: 0, count: cols * b)
        for part in partials { for e in 0..<(cols * b) { w[e] += Double(part[e]) } }
        var leftY = [Double](repeating: 0, count: lowRank.count * b)
        for part in leftParts { for e in 0..<leftY.count { leftY[e] += part[0][e] } }
        for (t, term) in lowRank.enumerated() {
            for j in 0..<cols {
                let rj = term.right[j]
                if rj == 0 { continue }
                for k in 0..<b { w[j * b + k] += rj * leftY[t * b + k] }
            }
        }
        return (y, w)
    }

    /// Y = M Q (rows×bq) and W = Mᵀ P (cols×bp) for unrelated Q and P, in one pass over A (no low-rank terms).
    /// With indicator matrices this gives the row and column sums of every restart's subsample at once.
    func products(_ q: [Float], width bq: Int, transposed p: [Float], width bp: Int) -> (y: [Float], w: [Double]) {
        precondition(lowRank.isEmpty && q.count == cols * bq && p.count == rows * bp)
        var y = [Float](repeating: 0, count: rows * bq)
        let groups = matrix.rowGroups
        let cols = self.cols, matrix = self.matrix
        let rowScale = self.rowScale, colScale = self.colScale, logShift = self.logShift
        var partials: [[Float]] = []
        q.withUnsafeBufferPointer { qb in
            p.withUnsafeBufferPointer { pb in
                y.withUnsafeMutableBufferPointer { yb in
                    let shared = SharedPointers(q: qb.baseAddress!, y: yb.baseAddress!)
                    let pShared = SharedPointers(q: pb.baseAddress!, y: yb.baseAddress!)
                    withSingleThreadedBLAS {
                        partials = parallelMap(groups.count) { g -> [Float] in
                            var wf = [Float](repeating: 0, count: cols * bp)
                            wf.withUnsafeMutableBufferPointer { wb in
                                matrix.forEachBlock(rowScale: rowScale, colScale: colScale, logShift: logShift,
                                                    rowRange: groups[g]) { start, count, buffer in
                                    BLAS.gemm(
                                        transposeA: false, transposeB: false, m: count, n: bq, k: cols,
                                        a: buffer, lda: cols, b: shared.q, ldb: bq, beta: 0, c: shared.y + start * bq, ldc: bq)
                                    BLAS.gemm(
                                        transposeA: true, transposeB: false, m: cols, n: bp, k: count,
                                        a: buffer, lda: cols, b: pShared.q + start * bp, ldb: bp, beta: 1,
                                        c: wb.baseAddress!, ldc: bp)
                                }
                            }
                            return wf
                        }
                    }
                }
            }
        }
        var w = [Double](repeating: 0, count: cols * bp)
        for part in partials { for e in 0..<w.count { w[e] += Double(part[e]) } }
        return (y, w)
    }

    /// W = Mᵀ P (cols×b) for P rows×b, in one pass over A.
    func applyTransposed(_ p: [Float], width b: Int) -> [Double] {
        precondition(p.count == rows * b)
        var wf = [Float](repeating: 0, count: cols * b)
        var leftP = [[Double]](repeating: [Double](repeating: 0, count: b), count: lowRank.count)
        withSingleThreadedBLAS { p.withUnsafeBufferPointer { pb in
            wf.withUnsafeMutableBufferPointer { wb in
                matrix.forEachBlock(rowScale: rowScale, colScale: colScale, logShift: logShift) { start, count, buffer in
                    BLAS.gemm(
                        transposeA: true, transposeB: false, m: cols, n: b, k: count,
                        a: buffer, lda: cols, b: pb.baseAddress! + start * b, ldb: b, beta: 1,
                        c: wb.baseAddress!, ldc: b)
                }
            }
        } }
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

private struct SharedPointers: @unchecked Sendable {
    let q: UnsafePointer<Float>
    let y: UnsafeMutablePointer<Float>
}

/// Runs `body` with OpenBLAS pinned to one thread (restoring the previous count): the products parallelise over
/// fixed row groups themselves, which keeps their results independent of the BLAS thread count.
func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
    // BLAS is single-threaded process-wide (see `BLAS.ensureConfigured`); never toggled here, because the
    // thread count is global and other threads may be inside BLAS calls.
    BLAS.ensureConfigured()
    return try body()
}

/// `transform(i)` for i in 0..<count on all cores; results in index order.
func parallelMap<T>(_ count: Int, _ transform: (Int) -> T) -> [T] {
    let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
    results.initialize(repeating: nil)
    defer {
        _ = results.deinitialize()
        results.deallocate()
    }
    let box = ResultBox(results)
    withoutActuallyEscaping(transform) { f in
        let fn = FunctionBox(f)
        DispatchQueue.concurrentPerform(iterations: count) { i in box.pointer[i] = fn.f(i) }
    }
    return (0..<count).map { results[$0]! }
}

private struct ResultBox<T>: @unchecked Sendable {
    let pointer: UnsafeMutableBufferPointer<T?>
    init(_ p: UnsafeMutableBufferPointer<T?>) { pointer = p }
}

private struct FunctionBox<T>: @unchecked Sendable {
    let f: (Int) -> T
    init(_ f: @escaping (Int) -> T) { self.f = f }
}
