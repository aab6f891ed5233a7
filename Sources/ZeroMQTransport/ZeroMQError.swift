import CZeroMQ

/// A libzmq call that failed, with errno's text.
public struct ZeroMQError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var code: Int32
    public init(_ operation: String, code: Int32 = zmq_errno()) {
        self.operation = operation
        self.code = code
    }
    public var description: String { "\(operation) failed: \(String(cString: zmq_strerror(code)))" }
}
