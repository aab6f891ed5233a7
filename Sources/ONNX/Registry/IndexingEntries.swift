import Autodiff
import TensorCore

/// Gathers, scatters, broadcasts and masks by integer indices (gradient to the float data inputs only).
extension OperatorRegistry {
    static let indexingEntries: [OperatorEntry] = [
        OperatorEntry("Gather", traits: .movement) { c in GatherOperator(axis: c.attributes.int("axis", default: 0)) },
        OperatorEntry("GatherElements", opsets: 11...22, traits: .movement) { c in
            GatherElementsOperator(axis: c.attributes.int("axis", default: 0))
        },
        OperatorEntry("GatherND", opsets: 11...22, traits: .movement) { c in
            let batchDimensions = c.attributes.int("batch_dims", default: 0)
            guard batchDimensions >= 0 else { throw c.refuse("negative batch_dims \(batchDimensions)") }
            return GatherNDOperator(batchDimensions: batchDimensions)
        },
        OperatorEntry("ScatterND", opsets: 11...22, traits: .movement) { c in
            let reduction = c.attributes.string("reduction") ?? "none"
            guard reduction == "none" else { throw c.refuse("reduction '\(reduction)'; only 'none'") }
            return ScatterNDOperator()
        },
        OperatorEntry("Expand", opsets: 8...22, traits: .movement) { _ in ExpandOperator() },
        OperatorEntry("Tile", traits: .movement) { _ in TileOperator() },
        OperatorEntry("Trilu", opsets: 14...22, traits: .movement) { c in TriluOperator(upper: c.attributes.int("upper", default: 1) != 0) },
    ]
}
