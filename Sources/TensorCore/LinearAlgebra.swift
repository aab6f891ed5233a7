import CBLASLoader

/// Small dense LAPACK kernels in double precision (row-major), used on thin or tiny matrices: orthonormal bases
/// of n×b blocks (b ≪ n) and eigen-decompositions of b×b Gram matrices. Big products stay in `BLAS.gemm`.
public enum LinearAlgebra {
    /// Replaces the columns of the row-major `rows`×`cols` matrix `a` (rows ≥ cols) by an orthonormal basis of
    /// their span, through Householder QR (LAPACKE dgeqrf + dorgqr). Column j of the result spans the same
    /// space as columns 0…j of the input (Gram–Schmidt order), so a block iteration keeps its leading directions.
    /// - Returns: false when LAPACK reports an error (the input is then left in an unspecified state).
    @discardableResult
    public static func orthonormalizeColumns(_ a: inout [Double], rows: Int, cols: Int) -> Bool {
        BLAS.ensureConfigured()
        precondition(a.count == rows * cols && rows >= cols, "orthonormalizeColumns: need rows ≥ cols")
        if cols == 0 { return true }
        var tau = [Double](repeating: 0, count: cols)
        let m = Int32(rows), n = Int32(cols)
        let info1 = a.withUnsafeMutableBufferPointer { buffer in
            tau.withUnsafeMutableBufferPointer { t in
                ms_dgeqrf(m, n, buffer.baseAddress, n, t.baseAddress)
            }
        }
        if info1 != 0 { return false }
        let info2 = a.withUnsafeMutableBufferPointer { buffer in
            tau.withUnsafeMutableBufferPointer { t in
                ms_dorgqr(m, n, n, buffer.baseAddress, n, t.baseAddress)
            }
        }
        return info2 == 0
    }

    /// Eigen-decomposition of the symmetric row-major n×n matrix `a` (LAPACKE dsyevd, lower triangle read).
    /// - Returns: eigenvalues in DESCENDING order and the matching eigenvectors as the columns of a row-major
    ///   n×n matrix, or nil when LAPACK fails to converge.
    public static func symmetricEigen(_ a: [Double], n: Int) -> (values: [Double], vectors: [Double])? {
        BLAS.ensureConfigured()
        precondition(a.count == n * n, "symmetricEigen: matrix must be n×n")
        if n == 0 { return ([], []) }
        var work = a
        var w = [Double](repeating: 0, count: n)
        let info = work.withUnsafeMutableBufferPointer { buffer in
            w.withUnsafeMutableBufferPointer { wb in
                ms_dsyevd(
                    CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "L")), Int32(n),
                    buffer.baseAddress, Int32(n), wb.baseAddress)
            }
        }
        if info != 0 { return nil }
        // LAPACK returns ascending order; reverse columns and values.
        var values = [Double](repeating: 0, count: n)
        var vectors = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            let src = n - 1 - j
            values[j] = w[src]
            for i in 0..<n { vectors[i * n + j] = work[i * n + src] }
        }
        return (values, vectors)
    }

    /// `C ← α·op(A)·op(B) + β·C` in double precision for row-major matrices (cblas_dgemm).
    public static func dgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Double = 1, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        BLAS.ensureConfigured()
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        ms_dgemm(
            transposeA ? Int32(MS_TRANS) : Int32(MS_NO_TRANS), transposeB ? Int32(MS_TRANS) : Int32(MS_NO_TRANS),
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
