import Autodiff
import TensorCore

/// Comparisons and logic: integer/boolean (0/1 INT64) outputs, no gradient. Where selects between two
/// tensors (gradient to both branches, shape-only under DeepLIFT: a selection with a fixed condition).
extension OperatorRegistry {
    static let comparisonEntries: [OperatorEntry] = [
        OperatorEntry("Equal", traits: .nonDifferentiable) { _ in ComparisonOperator(.equal) },
        OperatorEntry("Less", traits: .nonDifferentiable) { _ in ComparisonOperator(.less) },
        OperatorEntry("Greater", traits: .nonDifferentiable) { _ in ComparisonOperator(.greater) },
        OperatorEntry("LessOrEqual", opsets: 12...defaultOpsets.upperBound, traits: .nonDifferentiable) { _ in ComparisonOperator(.lessOrEqual) },
        OperatorEntry("GreaterOrEqual", opsets: 12...defaultOpsets.upperBound, traits: .nonDifferentiable) { _ in
            ComparisonOperator(.greaterOrEqual)
        },
        OperatorEntry("And", traits: .nonDifferentiable) { _ in LogicalOperator(.and) },
        OperatorEntry("Or", traits: .nonDifferentiable) { _ in LogicalOperator(.or) },
        OperatorEntry("Xor", traits: .nonDifferentiable) { _ in LogicalOperator(.xor) },
        OperatorEntry("Not", traits: .nonDifferentiable) { _ in LogicalOperator(.not) },
        OperatorEntry("IsNaN", opsets: 9...defaultOpsets.upperBound, traits: .nonDifferentiable) { _ in FloatClassOperator(.nan) },
        OperatorEntry("IsInf", opsets: 10...defaultOpsets.upperBound, traits: .nonDifferentiable) { c in
            FloatClassOperator(.infinity(
                negative: c.attributes.int("detect_negative", default: 1) != 0, positive: c.attributes.int("detect_positive", default: 1) != 0))
        },
        OperatorEntry("Where", opsets: 9...defaultOpsets.upperBound, traits: .movement) { _ in WhereOperator() },
    ]
}
