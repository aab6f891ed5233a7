import COpenBLAS

/// Thin, typed entry points to OpenBLAS. Every matrix product in ModScope goes through here.
public enum BLAS {
    /// Sets the number of OpenBLAS threads for this process.
    ///
    /// With 1, OpenBLAS's own thread pool is shut down: its idle threads otherwise spin in `sched_yield` and take
    /// cores from ModScope's block-parallel attribution (measured: 40% of CPU samples on the digits CNN). With
    /// more than 1, the pool is started again if needed.
    public static func setThreadCount(_ count: Int) {
        if count <= 1 {
            openblas_set_num_threads(1)
            _ = blas_thread_shutdown_()
        } else {
            _ = blas_thread_init()
            openblas_set_num_threads(Int32(count))
        }
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
