import Foundation

/// Process-wide hooks the ML side installs before a worker starts (e.g. pinning BLAS threads), so the runtime
/// never imports TensorCore. Set once at startup; reads and writes are serialised by a lock.
public final class RuntimeHooks: @unchecked Sendable {
    public static let shared = RuntimeHooks()
    private let lock = NSLock()
    private var _configureComputeThread: @Sendable (Int) -> Void = { _ in }

    /// Runs first on each worker compute thread with the `--threads` value.
    public var configureComputeThread: @Sendable (Int) -> Void {
        get { lock.lock(); defer { lock.unlock() }; return _configureComputeThread }
        set { lock.lock(); _configureComputeThread = newValue; lock.unlock() }
    }
}
