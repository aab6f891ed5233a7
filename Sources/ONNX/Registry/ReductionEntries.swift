import Autodiff
import TensorCore

/// Reductions over axes (attribute before opset 13 for ReduceSum / 18 for the others, input after) and CumSum.
extension OperatorRegistry {
    static let reductionEntries: [OperatorEntry] = [
        OperatorEntry("ReduceMean", traits: .linear) { c in reduce(c, mean: true, axesAreInput: c.opset >= 18) },
        OperatorEntry("ReduceSum", traits: .linear) { c in reduce(c, mean: false, axesAreInput: c.opset >= 13) },
        OperatorEntry("ReduceMax", traits: .gradient) { c in reduce(c, .max) },
        OperatorEntry("ReduceMin", traits: .gradient) { c in reduce(c, .min) },
        OperatorEntry("ReduceL1", traits: .gradient) { c in reduce(c, .l1) },
        OperatorEntry("ReduceL2", traits: .gradient) { c in reduce(c, .l2) },
        OperatorEntry("ReduceProd", traits: .gradient) { c in reduce(c, .prod) },
        OperatorEntry("ReduceSumSquare", traits: .gradient) { c in reduce(c, .sumSquare) },
        OperatorEntry("ReduceLogSumExp", traits: .gradient) { c in reduce(c, .logSumExp) },
        // Axis from input 1 (a scalar); exclusive and reverse attributes.
        OperatorEntry("CumSum", opsets: 11...22, traits: .linear) { c in
            CumSumOperator(exclusive: c.attributes.int("exclusive", default: 0) != 0, reverse: c.attributes.int("reverse", default: 0) != 0)
        },
    ]

    /// ReduceMax, ReduceL2, …: axes an attribute before opset 18, an input from 18.
    private static func reduce(_ c: OperatorBuildContext, _ kind: AxisReductionOperator.Kind) -> any Operator {
        let a = c.attributes
        return AxisReductionOperator(
            kind, axes: c.opset >= 18 ? nil : a.ints("axes"), keepDimensions: a.int("keepdims", default: 1) != 0,
            noopWithEmptyAxes: a.int("noop_with_empty_axes", default: 0) != 0)
    }

    private static func reduce(_ c: OperatorBuildContext, mean: Bool, axesAreInput: Bool) -> any Operator {
        let a = c.attributes
        return ReduceOperator(
            axes: axesAreInput ? nil : a.ints("axes"), keepDimensions: a.int("keepdims", default: 1) != 0,
            noopWithEmptyAxes: a.int("noop_with_empty_axes", default: 0) != 0, mean: mean)
    }
}
