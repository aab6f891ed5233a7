import Autodiff
import TensorCore

/// Data movement and shape arithmetic. Reshape-like ops are affine (folded into the interpolated prefix);
/// Shape, Constant and ConstantOfShape have no gradient (integer or constant outputs).
extension OperatorRegistry {
    static let shapeEntries: [OperatorEntry] = [
        OperatorEntry("Flatten", traits: .shapeOnly) { c in FlattenOperator(axis: c.attributes.int("axis", default: 1)) },
        OperatorEntry("Reshape", traits: .shapeOnly) { c in ReshapeOperator(allowZero: c.attributes.int("allowzero", default: 0) != 0) },
        OperatorEntry("Transpose", traits: .shapeOnly) { c in TransposeOperator(permutation: c.attributes.ints("perm")) },
        // Axes are an attribute before opset 13, an input from 13.
        OperatorEntry("Squeeze", traits: .shapeOnly) { c in SqueezeOperator(axes: c.opset < 13 ? c.attributes.ints("axes") : nil, unsqueeze: false) },
        OperatorEntry("Unsqueeze", traits: .shapeOnly) { c in SqueezeOperator(axes: c.opset < 13 ? c.attributes.ints("axes") : nil, unsqueeze: true) },
        OperatorEntry("Concat", traits: .movement) { c in
            guard let axis = c.attributes.int("axis") else { throw c.refuse("missing axis attribute") }
            return ConcatOperator(axis: axis)
        },
        OperatorEntry("Cast", traits: .shapeOnly) { c in
            guard let to = c.attributes.int("to"), let type = TensorDecoder.ElementType(rawValue: Int32(to)), type != .string else {
                throw c.refuse("cast to a non-numeric type")
            }
            return CastOperator(toFloat: type.isFloat, toBool: type == .bool)
        },
        OperatorEntry("Constant", traits: .nonDifferentiable) { c in
            guard let value = try constant(c.attributes, decoder: c.decoder) else { throw c.refuse("sparse or string constant") }
            return ConstantOperator(value)
        },
        OperatorEntry("Slice", traits: .movement) { c in
            let a = c.attributes
            return c.opset < 10 ? SliceOperator(starts: a.ints("starts"), ends: a.ints("ends"), axes: a.ints("axes")) : SliceOperator()
        },
        OperatorEntry("ConstantOfShape", traits: .nonDifferentiable) { c in
            ConstantOfShapeOperator(value: try c.attributes.tensor("value").map { try c.decoder.decode($0) } ?? .float(Tensor(scalar: 0)))
        },
        OperatorEntry("Shape", traits: .nonDifferentiable) { c in
            ShapeOperator(start: c.attributes.int("start", default: 0), end: c.attributes.int("end"))
        },
        OperatorEntry("Pad", traits: .shapeOnly) { c in
            let mode = c.attributes.string("mode") ?? "constant"
            guard mode == "constant" else { throw c.refuse("mode '\(mode)'; only constant padding") }
            return PadOperator(pads: c.opset < 11 ? c.attributes.ints("pads") : nil, value: c.attributes.float("value", default: 0))
        },
    ]

    private static func constant(_ a: NodeAttributes, decoder: TensorDecoder) throws -> Value? {
        if let tensor = a.tensor("value") { return try decoder.decode(tensor) }
        if let value = a.float("value_float") { return .float(Tensor(scalar: value)) }
        if let values = a.floats("value_floats") { return .float(Tensor(shape: [values.count], storage: values)) }
        if let value = a.int("value_int") { return .int(IntTensor(shape: [], storage: [Int64(value)])) }
        if let values = a.ints("value_ints") { return .int(IntTensor(values.map { Int64($0) })) }
        return nil
    }
}
