import Autodiff
import TensorCore

/// The ONNX operators ModScope executes, keyed by (domain, op type), with opset-dependent semantics resolved
/// at import: Softmax/LogSoftmax axis before 13, Squeeze/Unsqueeze/ReduceSum axes as inputs from 13,
/// ReduceMean axes as an input from 18, Clip bounds as inputs from 11, Pad pads as inputs from 11.
enum OperatorTable {
    /// Supported op types, for error messages and `inspect`.
    static let supported: [String] = [
        "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv", "Div", "Dropout",
        "Elu", "Flatten", "Gather", "Gemm", "GlobalAveragePool", "Identity", "LeakyRelu", "LogSoftmax", "MatMul",
        "MaxPool", "Mul", "Pad", "ReduceMean", "ReduceSum", "Relu", "Reshape", "Shape", "Sigmoid", "Softmax",
        "Slice", "Softplus", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze", "ai.onnx.ml.Scaler",
    ]

    static func supportedList() -> String { supported.joined(separator: ", ") }

    /// Builds the operator for `node`, or returns the reason it cannot run.
    static func make(
        _ node: Onnx_NodeProto, opset: Int, mlOpset: Int?, decoder: TensorDecoder
    ) throws -> Result<any Operator, ONNXError> {
        let a = NodeAttributes(node)
        let domain = node.domain
        func unsupported(_ detail: String? = nil) -> Result<any Operator, ONNXError> {
            let op = domain.isEmpty || domain == "ai.onnx" ? node.opType : "\(domain).\(node.opType)"
            let version = domain == "ai.onnx.ml" ? (mlOpset ?? 1) : opset
            let reason = detail.map { " (\($0))" } ?? ""
            return .failure(ONNXError(
                "operator \(op) (opset \(version)) in node '\(node.name)'\(reason) is not supported; supported operators: \(supportedList()). Re-export the model without it, or pick an --output tensor that does not depend on it"))
        }
        if domain == "ai.onnx.ml" {
            guard node.opType == "Scaler" else { return unsupported() }
            return .success(ScalerOperator(offset: a.floats("offset") ?? [0], scale: a.floats("scale") ?? [1]))
        }
        guard domain.isEmpty || domain == "ai.onnx" else { return unsupported("custom domain") }
        switch node.opType {
        case "Gemm":
            return .success(GemmOperator(
                alpha: a.float("alpha", default: 1), beta: a.float("beta", default: 1),
                transposeA: a.int("transA", default: 0) != 0, transposeB: a.int("transB", default: 0) != 0))
        case "MatMul": return .success(MatMulOperator())
        case "Add": return .success(BinaryOperator(.add))
        case "Sub": return .success(BinaryOperator(.subtract))
        case "Mul": return .success(BinaryOperator(.multiply))
        case "Div": return .success(BinaryOperator(.divide))
        case "Relu": return .success(ActivationOperator(.relu))
        case "LeakyRelu": return .success(ActivationOperator(.leakyRelu(alpha: a.float("alpha", default: 0.01))))
        case "Sigmoid": return .success(ActivationOperator(.sigmoid))
        case "Tanh": return .success(ActivationOperator(.tanh))
        case "Elu": return .success(ActivationOperator(.elu(alpha: a.float("alpha", default: 1))))
        case "Softplus": return .success(ActivationOperator(.softplus))
        case "Identity": return .success(ActivationOperator(.identity))
        case "Dropout":
            return .success(ActivationOperator(.identity, outputCount: node.output.count))
        case "Softmax", "LogSoftmax":
            let legacy = opset < 13
            return .success(SoftmaxOperator(
                axis: a.int("axis", default: legacy ? 1 : -1), coerceTo2D: legacy, logarithm: node.opType == "LogSoftmax"))
        case "Clip":
            return .success(ClipOperator(minimum: opset < 11 ? a.float("min") : nil, maximum: opset < 11 ? a.float("max") : nil))
        case "Conv":
            return .success(ConvOperator(attributes: try a.spatial(kernelRequired: false), groups: a.int("group", default: 1)))
        case "MaxPool":
            if node.output.count > 1 && !node.output[1].isEmpty && a.int("storage_order", default: 0) != 0 {
                return unsupported("Indices output with storage_order=1")
            }
            return .success(PoolOperator(
                kind: .max, attributes: try a.spatial(kernelRequired: true), ceilMode: a.int("ceil_mode", default: 0) != 0,
                producesIndices: node.output.count > 1 && !node.output[1].isEmpty))
        case "AveragePool":
            let spatial = try a.spatial(kernelRequired: true)
            if spatial.dilations != (1, 1) { return unsupported("dilations other than 1") }
            return .success(PoolOperator(
                kind: .average(countIncludePad: a.int("count_include_pad", default: 0) != 0), attributes: spatial,
                ceilMode: a.int("ceil_mode", default: 0) != 0))
        case "GlobalAveragePool": return .success(ReduceOperator(axes: nil, mean: true, spatial: true))
        case "ReduceMean", "ReduceSum":
            let axesAreInput = node.opType == "ReduceMean" ? opset >= 18 : opset >= 13
            return .success(ReduceOperator(
                axes: axesAreInput ? nil : a.ints("axes"), keepDimensions: a.int("keepdims", default: 1) != 0,
                noopWithEmptyAxes: a.int("noop_with_empty_axes", default: 0) != 0, mean: node.opType == "ReduceMean"))
        case "BatchNormalization":
            if a.int("training_mode", default: 0) != 0 { return unsupported("training_mode=1") }
            return .success(BatchNormalizationOperator(epsilon: a.float("epsilon", default: 1e-5)))
        case "Flatten": return .success(FlattenOperator(axis: a.int("axis", default: 1)))
        case "Reshape": return .success(ReshapeOperator(allowZero: a.int("allowzero", default: 0) != 0))
        case "Transpose": return .success(TransposeOperator(permutation: a.ints("perm")))
        case "Squeeze": return .success(SqueezeOperator(axes: opset < 13 ? a.ints("axes") : nil, unsqueeze: false))
        case "Unsqueeze": return .success(SqueezeOperator(axes: opset < 13 ? a.ints("axes") : nil, unsqueeze: true))
        case "Concat":
            guard let axis = a.int("axis") else { return unsupported("missing axis attribute") }
            return .success(ConcatOperator(axis: axis))
        case "Cast":
            guard let to = a.int("to"), let type = TensorDecoder.ElementType(rawValue: Int32(to)), type != .string else {
                return unsupported("cast to a non-numeric type")
            }
            return .success(CastOperator(toFloat: type.isFloat))
        case "Constant":
            return try constant(a, decoder: decoder).map { .success(ConstantOperator($0)) } ?? unsupported("sparse or string constant")
        case "Slice":
            return .success(opset < 10 ? SliceOperator(starts: a.ints("starts"), ends: a.ints("ends"), axes: a.ints("axes")) : SliceOperator())
        case "ConstantOfShape":
            return .success(ConstantOfShapeOperator(value: try a.tensor("value").map { try decoder.decode($0) } ?? .float(Tensor(scalar: 0))))
        case "Shape": return .success(ShapeOperator(start: a.int("start", default: 0), end: a.int("end")))
        case "Gather": return .success(GatherOperator(axis: a.int("axis", default: 0)))
        case "Pad":
            let mode = a.string("mode") ?? "constant"
            guard mode == "constant" else { return unsupported("mode '\(mode)'; only constant padding") }
            return .success(PadOperator(pads: opset < 11 ? a.ints("pads") : nil, value: a.float("value", default: 0)))
        default:
            return unsupported()
        }
    }

    private static func constant(_ a: NodeAttributes, decoder: TensorDecoder) throws -> Value? {
        if let tensor = a.tensor("value") { return try decoder.decode(tensor) }
        if let value = a.float("value_float") { return .float(Tensor(scalar: value)) }
        if let values = a.floats("value_floats") { return .float(Tensor(shape: [values.count], storage: values)) }
        if let value = a.int("value_int") { return .int(IntTensor(shape: [], storage: [Int64(value)])) }
        if let values = a.ints("value_ints") { return .int(IntTensor(values.map { Int64($0) })) }
        return nil
    }
}
