/// A data or matrix file that cannot be read or written, naming the file and what to do about it.
public struct ArrayFileError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
