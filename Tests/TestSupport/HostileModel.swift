import Foundation
import SwiftProtobuf

import ONNX

/// Builds small ONNX models in memory, valid or deliberately broken, for the hostile-file tests (ONNXTests
/// loads them in memory; ModScopeCLITests writes them to disk and runs `modscope` on them).
public struct HostileModel {
    public var proto = Onnx_ModelProto()

    /// An opset-17 model with float input `x` of shape (batch, `width`) and graph output `y`.
    public init(width: Int64 = 4, output: String = "y") {
        proto.irVersion = 8
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 17
        proto.opsetImport = [opset]
        proto.graph.input = [Self.valueInfo("x", dims: [nil, width])]
        proto.graph.output = [Self.valueInfo(output, dims: [])]
    }

    public static func valueInfo(_ name: String, dims: [Int64?]) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = 1
        tensor.shape.dim = dims.map { value in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let value { dim.dimValue = value } else { dim.dimParam = "batch" }
            return dim
        }
        info.type.tensorType = tensor
        return info
    }

    public static func tensor(_ name: String, dims: [Int64], floats: [Float]? = nil, ints: [Int64]? = nil) -> Onnx_TensorProto {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = dims
        if let ints {
            tensor.dataType = 7
            tensor.int64Data = ints
        } else {
            tensor.dataType = 1
            tensor.floatData = floats ?? []
        }
        return tensor
    }

    public static func ints(_ name: String, _ values: [Int64]) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .ints
        attribute.ints = values
        return attribute
    }

    public static func int(_ name: String, _ value: Int64) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .int
        attribute.i = value
        return attribute
    }

    public mutating func initializer(_ tensor: Onnx_TensorProto) { proto.graph.initializer.append(tensor) }

    public mutating func node(
        _ opType: String, _ inputs: [String], _ outputs: [String], name: String = "",
        attributes: [Onnx_AttributeProto] = []
    ) {
        var node = Onnx_NodeProto()
        node.opType = opType
        node.name = name
        node.input = inputs
        node.output = outputs
        node.attribute = attributes
        proto.graph.node.append(node)
    }

    public func data() throws -> Data { try proto.serializedData() }

    public func load(baseDirectory: URL? = nil) throws -> ONNXModel {
        try ONNXModel.load(data: data(), path: "hostile.onnx", baseDirectory: baseDirectory)
    }
}

extension HostileModel {
    /// Writes the model to `folder/name` and returns its URL.
    public func write(to folder: URL, name: String) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try data().write(to: url)
        return url
    }
}
