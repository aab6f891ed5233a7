import TensorCore

/// A value flowing through a graph: float activations/parameters, or integer tensors (ONNX INT64 shape
/// arithmetic, axes, indices).
public enum Value: Sendable, Equatable {
    case float(Tensor)
    case int(IntTensor)

    public var shape: [Int] {
        switch self {
        case .float(let tensor): return tensor.shape
        case .int(let tensor): return tensor.shape
        }
    }
}
