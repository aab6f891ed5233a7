import CZeroMQ
import Foundation

/// Socket events read from `zmq_socket_monitor` (handshake outcomes, connects, disconnects).
public struct ZMQEvent: Sendable, Equatable {
    public var event: UInt16
    public var value: UInt32
    public var endpoint: String

    public static let connected = UInt16(ZMQ_EVENT_CONNECTED)
    public static let disconnected = UInt16(ZMQ_EVENT_DISCONNECTED)
    public static let handshakeSucceeded = UInt16(ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
    public static let handshakeFailedAuth = UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
    public static let handshakeFailedProtocol = UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
    public static let handshakeFailedNoDetail = UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
}

/// A PAIR socket receiving a watched socket's monitor events. Owned by the thread that owns the watched socket.
public final class ZMQMonitor: @unchecked Sendable {
    public let socket: ZMQSocket
    private static let counter = NSLock()
    nonisolated(unsafe) private static var next = 0

    public init(context: ZMQContext, watching watched: ZMQSocket) throws {
        Self.counter.lock()
        Self.next += 1
        let endpoint = "inproc://modscope-monitor-\(getpid())-\(Self.next)"
        Self.counter.unlock()
        let events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
            | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        guard zmq_socket_monitor(watched.handle, endpoint, events) == 0 else { throw ZeroMQError("zmq_socket_monitor") }
        socket = try ZMQSocket(context: context, type: .pair)
        try socket.connect(endpoint)
    }

    /// The next event, or nil when none is pending.
    public func next() throws -> ZMQEvent? {
        guard let frames = try socket.receive(dontWait: true), frames.count >= 2, frames[0].count >= 6 else { return nil }
        let f = frames[0]
        let event = UInt16(f[0]) | UInt16(f[1]) << 8
        let value = UInt32(f[2]) | UInt32(f[3]) << 8 | UInt32(f[4]) << 16 | UInt32(f[5]) << 24
        return ZMQEvent(event: event, value: value, endpoint: String(decoding: frames[1], as: UTF8.self))
    }
}
