import BatchRuntime
import CZeroMQ
import Foundation

/// Socket options shared by the coordinator's ROUTER and the worker's DEALER (distributed-runtime.md §5).
enum SocketTuning {
    /// ZMTP heartbeat every 1 s; a peer silent for 3 s is dropped by libzmq (detects SIGSTOP/partitions).
    static let zmtpHeartbeatMs: Int32 = 1000
    static let zmtpHeartbeatTimeoutMs: Int32 = 3000
    /// CURVE handshakes must finish in 5 s (default 30 s hangs on a ZAP 300).
    static let handshakeMs: Int32 = 5000
    /// libzmq reconnect: first retry after 100 ms, backing off to 30 s.
    static let reconnectMs: Int32 = 100
    static let reconnectMaxMs: Int32 = 30_000
    /// Largest frame libzmq accepts: one result chunk plus the fields; bigger frames drop the connection.
    static let maxMessageBytes = Int64(WireProtocol.maxBodyBytes + 4096)

    static func apply(to socket: ZMQSocket) throws {
        try socket.setOption(ZMQ_MAXMSGSIZE, int64: maxMessageBytes)
        try socket.setOption(ZMQ_HANDSHAKE_IVL, handshakeMs)
        try socket.setOption(ZMQ_HEARTBEAT_IVL, zmtpHeartbeatMs)
        try socket.setOption(ZMQ_HEARTBEAT_TIMEOUT, zmtpHeartbeatTimeoutMs)
        try socket.setOption(ZMQ_HEARTBEAT_TTL, zmtpHeartbeatTimeoutMs)
        try socket.setOption(ZMQ_RECONNECT_IVL, reconnectMs)
        try socket.setOption(ZMQ_RECONNECT_IVL_MAX, reconnectMaxMs)
        try socket.setOption(ZMQ_TCP_KEEPALIVE, 1)
        try socket.setOption(ZMQ_TCP_KEEPALIVE_IDLE, 30)
        try socket.setOption(ZMQ_TCP_KEEPALIVE_INTVL, 10)
        try socket.setOption(ZMQ_TCP_KEEPALIVE_CNT, 3)
    }
}

/// Monotonic seconds (never jumps with the wall clock).
func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
