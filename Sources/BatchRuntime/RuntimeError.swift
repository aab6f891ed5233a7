/// A failure of the distributed runtime (protocol, journal, lease), with a message saying what to do.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
