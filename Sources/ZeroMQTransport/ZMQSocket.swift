import CZeroMQ
import Foundation

/// Socket types used by the runtime.
public enum ZMQSocketType: Int32, Sendable {
    case pair = 0, rep = 4, dealer = 5, router = 6
}

/// Option numbers not exported by Debian's non-draft zmq.h (accepted by libzmq 4.3.4's options.cpp).
enum ZMQExtraOption {
    /// ZMQ_ZAP_ENFORCE_DOMAIN: with it, a CURVE server with no ZAP handler rejects every client (fails closed).
    static let zapEnforceDomain: Int32 = 93
}

/// One libzmq socket. Not thread-safe (libzmq sockets are not): exactly one thread uses it at a time, which is
/// why it is `@unchecked Sendable` — it may be created on one thread and handed to the thread that owns it.
public final class ZMQSocket: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    public let type: ZMQSocketType
    private var closed = false

    public init(context: ZMQContext, type: ZMQSocketType) throws {
        guard let h = zmq_socket(context.handle, type.rawValue) else { throw ZeroMQError("zmq_socket") }
        handle = h
        self.type = type
        try setOption(ZMQ_LINGER, 0)
    }

    deinit { close() }

    public func close() {
        if !closed {
            closed = true
            zmq_close(handle)
        }
    }

    // MARK: Options

    public func setOption(_ option: Int32, _ value: Int32) throws {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else {
            throw ZeroMQError("zmq_setsockopt(\(option))")
        }
    }

    public func setOption(_ option: Int32, int64 value: Int64) throws {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size) == 0 else {
            throw ZeroMQError("zmq_setsockopt(\(option))")
        }
    }

    public func setOption(_ option: Int32, string: String) throws {
        let bytes = Array(string.utf8)
        guard bytes.withUnsafeBytes({ zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }) == 0 else {
            throw ZeroMQError("zmq_setsockopt(\(option))")
        }
    }

    /// Sets CURVE server options (before bind).
    public func makeCurveServer(secretKey: String, zapDomain: String) throws {
        try setOption(ZMQ_CURVE_SERVER, 1)
        try setOption(ZMQ_CURVE_SECRETKEY, string: secretKey)
        try setOption(ZMQ_ZAP_DOMAIN, string: zapDomain)
        try setOption(ZMQExtraOption.zapEnforceDomain, 1)
    }

    /// Sets CURVE client options (before connect).
    public func makeCurveClient(serverKey: String, publicKey: String, secretKey: String) throws {
        try setOption(ZMQ_CURVE_SERVERKEY, string: serverKey)
        try setOption(ZMQ_CURVE_PUBLICKEY, string: publicKey)
        try setOption(ZMQ_CURVE_SECRETKEY, string: secretKey)
    }

    public func bind(_ endpoint: String) throws {
        guard zmq_bind(handle, endpoint) == 0 else {
            let code = zmq_errno()
            throw RuntimeTransportError("cannot bind \(endpoint): \(String(cString: zmq_strerror(code))); choose another address or stop the process using it")
        }
    }

    public func connect(_ endpoint: String) throws {
        guard zmq_connect(handle, endpoint) == 0 else {
            let code = zmq_errno()
            throw RuntimeTransportError("cannot connect to \(endpoint): \(String(cString: zmq_strerror(code))); use tcp://HOST:PORT or ipc://PATH")
        }
    }

    // MARK: Messages

    /// Sends frames as one multipart message. Returns false on EAGAIN/EHOSTUNREACH with `dontWait` (the caller
    /// treats the peer as gone); throws on other errors.
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws -> Bool {
        for (i, frame) in frames.enumerated() {
            var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
            if i + 1 < frames.count { flags |= ZMQ_SNDMORE }
            let rc = frame.withUnsafeBytes { raw -> Int32 in
                zmq_send(handle, raw.baseAddress, raw.count, flags)
            }
            if rc < 0 {
                let code = zmq_errno()
                if code == EAGAIN || code == EHOSTUNREACH {
                    if i > 0 { throw ZeroMQError("zmq_send (mid-message)", code: code) }
                    return false
                }
                if code == EINTR { return false }
                throw ZeroMQError("zmq_send", code: code)
            }
        }
        return true
    }

    /// Receives one multipart message, or nil when none is ready (`dontWait`) or the call was interrupted.
    /// At most `maxFrames` frames are kept (the rest are read and dropped), so a hostile peer cannot make a
    /// message with a million frames cost more than `maxFrames` arrays; frame sizes are bounded by MAXMSGSIZE.
    public func receive(dontWait: Bool = true, maxFrames: Int = 8) throws -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        var dropped = false
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            let rc = zmq_msg_recv(&msg, handle, frames.isEmpty && dontWait ? ZMQ_DONTWAIT : 0)
            if rc < 0 {
                let code = zmq_errno()
                if frames.isEmpty && (code == EAGAIN || code == EINTR) { return nil }
                throw ZeroMQError("zmq_msg_recv", code: code)
            }
            if frames.count < maxFrames {
                let size = zmq_msg_size(&msg)
                if size == 0 {
                    frames.append([])
                } else {
                    let data = zmq_msg_data(&msg)!
                    frames.append([UInt8](UnsafeRawBufferPointer(start: data, count: size)))
                }
            } else {
                dropped = true
            }
            if zmq_msg_more(&msg) == 0 { break }
        }
        if dropped { frames.append([]) }  // guarantees a frame-count mismatch downstream
        return frames
    }
}

/// A transport-level failure meant for the user (bind/connect/handshake), with what to do.
public struct RuntimeTransportError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// zmq_poll over a few sockets.
public enum ZMQPoll {
    /// Returns which sockets are readable, waiting at most `timeoutMs` (−1 = forever).
    public static func readable(_ sockets: [ZMQSocket], timeoutMs: Int) -> [Bool] {
        var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
        let rc = zmq_poll(&items, Int32(items.count), timeoutMs)
        guard rc > 0 else { return Array(repeating: false, count: sockets.count) }
        return items.map { ($0.revents & Int16(ZMQ_POLLIN)) != 0 }
    }
}
