import Autodiff
import TensorCore

/// 2-D convolution and pooling over NCHW.
extension OperatorRegistry {
    static let spatialEntries: [OperatorEntry] = [
        OperatorEntry("Conv", traits: .linear) { c in
            ConvOperator(attributes: try c.attributes.spatial(kernelRequired: false), groups: c.attributes.int("group", default: 1))
        },
        OperatorEntry("MaxPool", traits: .custom) { c in
            let a = c.attributes
            if c.declaresOutput(1) && a.int("storage_order", default: 0) != 0 { throw c.refuse("Indices output with storage_order=1") }
            return PoolOperator(
                kind: .max, attributes: try a.spatial(kernelRequired: true), ceilMode: a.int("ceil_mode", default: 0) != 0,
                producesIndices: c.declaresOutput(1))
        },
        OperatorEntry("AveragePool", traits: .linear) { c in
            let a = c.attributes
            let spatial = try a.spatial(kernelRequired: true)
            if spatial.dilations != (1, 1) { throw c.refuse("dilations other than 1") }
            return PoolOperator(
                kind: .average(countIncludePad: a.int("count_include_pad", default: 0) != 0), attributes: spatial,
                ceilMode: a.int("ceil_mode", default: 0) != 0)
        },
        OperatorEntry("GlobalAveragePool", traits: .linear) { _ in ReduceOperator(axes: nil, mean: true, spatial: true) },
    ]
}
