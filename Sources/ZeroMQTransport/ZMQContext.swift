import CZeroMQ

/// A libzmq context (one per process side; inproc endpoints and the ZAP handler live inside one context).
///
/// Thread-safe (libzmq contexts are). Terminated in `deinit`; every socket must be closed first, and all are
/// created with LINGER 0 so termination never hangs on unsent messages.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() throws {
        guard let h = zmq_ctx_new() else { throw ZeroMQError("zmq_ctx_new") }
        handle = h
        zmq_ctx_set(h, ZMQ_BLOCKY, 0)
    }

    deinit { zmq_ctx_term(handle) }

    /// Whether this libzmq was built with CURVE (libsodium).
    public static var hasCurve: Bool { zmq_has("curve") == 1 }
}
