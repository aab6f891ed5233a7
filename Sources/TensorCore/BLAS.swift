import COpenBLAS

/// Thin, typed entry points to OpenBLAS. Every matrix product in ModScope goes through here.
public enum BLAS {
    /// Sets the number of OpenBLAS threads for this process. Call once at start-up (workers pin it with
    /// `--threads` so several processes on one machine do not oversubscribe cores).
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The number of threads OpenBLAS will use.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// `C ← α·op(A)·op(B) + β·C` for row-major matrices (cblas_sgemm).
    ///
    /// `op(A)` is m×k, `op(B)` is k×n, C is m×n. `lda`, `ldb`, `ldc` are the row strides of the stored matrices.
    @inlinable
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C scaled by beta when k == 0; do it explicitly so β = 0 clears garbage.
            for i in 0..<m {
                for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
            }
            return
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
