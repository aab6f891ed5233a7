/// An attribution request that cannot be carried out, with a message saying what to change.
public struct AttributionError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
