/// A failure of the distributed runtime (protocol, journal, lease), with a message saying what to do.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A usage problem the user can fix (bad flag combination, missing keys, a run folder held by another process,
/// an output that is an input, an incomplete matrix): the command exits 2 with this sentence.
public struct RuntimeUsageError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
