import CBLASLoader

/// Thin, typed entry points to OpenBLAS. Every matrix product in ModScope goes through here.
public enum BLAS {
    /// OpenBLAS is configured once per process, before its first use: single-threaded, with its thread pool
    /// shut down.
    ///
    /// ModScope parallelises above BLAS (attribution blocks, biclustering row groups), which keeps results
    /// independent of the thread count. The thread count is process-global state, so it is never toggled by
    /// library code: toggling it while another thread is inside a BLAS call can deadlock, and changes the bits
    /// of concurrent products. The pool is shut down because its idle threads spin in `sched_yield` and take the
    /// cores (measured: 40% of CPU samples during block-parallel attribution).
    private static let singleThreaded: Void = {
        ms_set_num_threads(1)
        _ = ms_thread_shutdown()
    }()

    /// Loads OpenBLAS and LAPACKE (see CBLASLoader.h for why they are loaded, not linked); throws a sentence
    /// saying what to install when they are missing. Commands call it before any work, so the failure is a
    /// message and exit 1 rather than an exit from inside a computation.
    public static func load() throws {
        var message = [CChar](repeating: 0, count: 512)
        guard ms_blas_load(&message, Int32(message.count)) == 0 else {
            throw BLASLoadError(message: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    /// Applies the one-time configuration (idempotent, thread-safe). Every BLAS/LAPACK entry point calls it.
    @inline(__always)
    public static func ensureConfigured() { _ = singleThreaded }

    /// Gives OpenBLAS `count` threads for the rest of the process. Only for processes that do nothing else
    /// concurrently, such as `modscope bench engine`; everything else runs single-threaded BLAS.
    public static func setThreadCount(_ count: Int) {
        ensureConfigured()
        if count > 1 { _ = ms_thread_init() }
        ms_set_num_threads(Int32(max(1, count)))
    }

    /// The number of threads OpenBLAS will use.
    public static var threadCount: Int { Int(ms_get_num_threads()) }

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
        ensureConfigured()
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C scaled by beta when k == 0; do it explicitly so β = 0 clears garbage.
            for i in 0..<m {
                for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
            }
            return
        }
        ms_sgemm(
            transposeA ? Int32(MS_TRANS) : Int32(MS_NO_TRANS), transposeB ? Int32(MS_TRANS) : Int32(MS_NO_TRANS),
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// OpenBLAS or LAPACKE could not be loaded: the machine lacks them (an environment failure, exit 1).
public struct BLASLoadError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
