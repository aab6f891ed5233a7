import Autodiff
import TensorCore

/// Gathers and scatters by integer indices (gradient to the data input only).
extension OperatorRegistry {
    static let indexingEntries: [OperatorEntry] = [
        OperatorEntry("Gather", traits: .movement) { c in GatherOperator(axis: c.attributes.int("axis", default: 0)) },
    ]
}
