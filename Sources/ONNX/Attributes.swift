import Autodiff
import TensorCore

/// Typed access to a node's attributes, with errors that name the node and the attribute.
struct NodeAttributes {
    let node: Onnx_NodeProto
    private let byName: [String: Onnx_AttributeProto]

    init(_ node: Onnx_NodeProto) {
        self.node = node
        var map: [String: Onnx_AttributeProto] = [:]
        for attribute in node.attribute { map[attribute.name] = attribute }
        byName = map
    }

    func has(_ name: String) -> Bool { byName[name] != nil }

    func int(_ name: String) -> Int? { byName[name].map { Int($0.i) } }
    func int(_ name: String, default value: Int) -> Int { int(name) ?? value }
    func float(_ name: String) -> Float? { byName[name].map { $0.f } }
    func float(_ name: String, default value: Float) -> Float { float(name) ?? value }
    func ints(_ name: String) -> [Int]? { byName[name].map { $0.ints.map { Int($0) } } }
    func floats(_ name: String) -> [Float]? { byName[name].map { $0.floats } }
    func string(_ name: String) -> String? { byName[name].map { String(decoding: $0.s, as: UTF8.self) } }
    func tensor(_ name: String) -> Onnx_TensorProto? { byName[name].flatMap { $0.hasT ? $0.t : nil } }

    /// A pair from a 2-element list attribute (kernel_shape, strides, dilations), or the default.
    func pair(_ name: String, default value: (Int, Int)) throws -> (Int, Int) {
        guard let list = ints(name) else { return value }
        guard list.count == 2 else {
            throw ONNXError("node '\(node.name)' (\(node.opType)): attribute \(name)=\(list) is not 2-D; only 2-D convolution and pooling are supported")
        }
        return (list[0], list[1])
    }

    func spatial(kernelRequired: Bool) throws -> SpatialAttributes {
        let kernel: (Int, Int)? = try has("kernel_shape") ? pair("kernel_shape", default: (1, 1)) : nil
        if kernelRequired && kernel == nil {
            throw ONNXError("node '\(node.name)' (\(node.opType)) has no kernel_shape attribute, which ONNX requires")
        }
        let pads = ints("pads") ?? [0, 0, 0, 0]
        guard pads.count == 4 else {
            throw ONNXError("node '\(node.name)' (\(node.opType)): pads=\(pads) is not 2-D; only 2-D convolution and pooling are supported")
        }
        let autoPadText = string("auto_pad") ?? "NOTSET"
        guard let autoPad = AutoPad(rawValue: autoPadText) else {
            throw ONNXError("node '\(node.name)' (\(node.opType)): unknown auto_pad '\(autoPadText)'")
        }
        return SpatialAttributes(
            kernel: kernel, strides: try pair("strides", default: (1, 1)), dilations: try pair("dilations", default: (1, 1)),
            pads: (pads[0], pads[1], pads[2], pads[3]), autoPad: autoPad)
    }
}
