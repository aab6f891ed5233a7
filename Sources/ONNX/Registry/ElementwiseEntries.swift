import Autodiff
import TensorCore

/// Elementwise math beyond the classic activations (filled by the elementwise/math operators).
extension OperatorRegistry {
    static let elementwiseEntries: [OperatorEntry] = []
}
