import Autodiff
import TensorCore

/// Reductions over axes (attribute before opset 13 for ReduceSum / 18 for ReduceMean, input after).
extension OperatorRegistry {
    static let reductionEntries: [OperatorEntry] = [
        OperatorEntry("ReduceMean", traits: .linear) { c in reduce(c, mean: true, axesAreInput: c.opset >= 18) },
        OperatorEntry("ReduceSum", traits: .linear) { c in reduce(c, mean: false, axesAreInput: c.opset >= 13) },
    ]

    private static func reduce(_ c: OperatorBuildContext, mean: Bool, axesAreInput: Bool) -> any Operator {
        let a = c.attributes
        return ReduceOperator(
            axes: axesAreInput ? nil : a.ints("axes"), keepDimensions: a.int("keepdims", default: 1) != 0,
            noopWithEmptyAxes: a.int("noop_with_empty_axes", default: 0) != 0, mean: mean)
    }
}
