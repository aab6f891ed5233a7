import TensorCore

/// One graph operation: a forward function and its vector-Jacobian product.
///
/// Operators are immutable values built once (by the ONNX importer) with their attributes resolved.
/// `forward` receives one value per declared input (`nil` for an omitted optional input) and returns one value
/// per output. `backward` returns one gradient per input: `nil` where the input is not differentiable, not
/// needed (`context.needsGradient[i] == false`) or receives no gradient. There is no default `backward`:
/// an operator without a gradient conforms to `NonDifferentiableOperator`, whose `backward` throws.
public protocol Operator: Sendable {
    func forward(_ inputs: [Value?]) throws -> [Value]
    func backward(_ context: BackwardContext) throws -> [Tensor?]
    /// Traits of this operator type for hand-built graphs (the ONNX importer uses its registry entry's).
    var defaultTraits: OperatorTraits { get }
}

extension Operator {
    /// Differentiable with the ordinary gradient under DeepLIFT, not affine: the safe default.
    public var defaultTraits: OperatorTraits { .gradient }
}

/// Everything a VJP may need: the forward inputs and outputs and the gradients arriving at the outputs.
public struct BackwardContext: Sendable {
    public let inputs: [Value?]
    public let outputs: [Value]
    /// Gradient of the objective with respect to each output (`nil` = zero).
    public let outputGradients: [Tensor?]
    /// Whether the caller needs the gradient of each input (lets ops skip weight gradients).
    public let needsGradient: [Bool]

    public init(inputs: [Value?], outputs: [Value], outputGradients: [Tensor?], needsGradient: [Bool]) {
        self.inputs = inputs
        self.outputs = outputs
        self.outputGradients = outputGradients
        self.needsGradient = needsGradient
    }

    /// The float tensor at input `index`, or a `GraphError` naming what was expected.
    public func floatInput(_ index: Int) throws -> Tensor {
        guard index < inputs.count, case .float(let tensor)? = inputs[index] else {
            throw GraphError("backward pass expected a float tensor at input \(index)", cause: .internalError)
        }
        return tensor
    }

    public func floatOutput(_ index: Int) throws -> Tensor {
        guard index < outputs.count, case .float(let tensor) = outputs[index] else {
            throw GraphError("backward pass expected a float tensor at output \(index)", cause: .internalError)
        }
        return tensor
    }

    /// The gradient at output `index`, materialised as zeros when absent.
    public func outputGradient(_ index: Int = 0) throws -> Tensor {
        if let gradient = outputGradients[index] { return gradient }
        return Tensor(zeros: outputs[index].shape)
    }
}

/// A failure while building or executing a graph, with a message saying what to change.
///
/// `cause` says who can fix it, for the exit code: `.model` (the default) when the model file or the shapes
/// it computes are invalid — an operator's inputs or attributes out of range, shapes that do not agree — which
/// the user fixes by repairing or re-exporting the model (exit 2); `.internalError` for an engine bug such as
/// a VJP returning a wrongly shaped gradient (exit 1).
public struct GraphError: Error, CustomStringConvertible, Sendable {
    public enum Cause: Sendable, Equatable {
        case model
        case internalError
    }

    public var message: String
    public var cause: Cause
    public init(_ message: String, cause: Cause = .model) {
        self.message = message
        self.cause = cause
    }
    public var description: String { message }
}
