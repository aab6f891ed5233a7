/// A data or matrix file that cannot be read or written, naming the file and what to do about it.
public struct ArrayFileError: Error, CustomStringConvertible, Sendable {
    /// One sentence: the file, what is wrong with it, and what to do (shown to users as is).
    public var message: String
    /// Makes an error with `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
