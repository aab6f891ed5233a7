import ArrayFiles
import Attribution
import Autodiff
import BatchRuntime
import Biclustering
import ONNX

/// Classifies errors for the command line: user-fixable input problems exit 2, everything else 1.
public enum ModScopeErrors {
    public static func describe(_ error: any Error) -> (message: String, exitCode: Int32) {
        switch error {
        case let e as ONNXError: return (e.message, 2)
        case let e as AttributionError: return (e.message, 2)
        case let e as ArrayFileError: return (e.message, 2)
        case let e as BiclusteringError: return (e.message, 2)
        case let e as InputError: return (e.message, 2)
        case let e as RuntimeUsageError: return (e.message, 2)
        // A graph error caused by the model file (invalid shapes, attributes, values) is the user's to fix.
        case let e as GraphError: return (e.message, e.cause == .model ? 2 : 1)
        default: return ("\(error)", 1)
        }
    }
}

/// Bad input detected by the pipeline (paths, shapes, flags): exit code 2.
public struct InputError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
