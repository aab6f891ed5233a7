import Autodiff
import TensorCore

/// Comparisons and logic (integer/boolean outputs, no gradient).
extension OperatorRegistry {
    static let comparisonEntries: [OperatorEntry] = []
}
