/// An ONNX model that cannot be loaded or run, with a message that says what is wrong and what to do.
public struct ONNXError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
