import Foundation
import SwiftProtobuf

extension ONNXModel {
    /// The model file's bytes with every external-data initializer inlined as raw_data, so the model can be
    /// sent to workers that do not share the file system. Files without external data are returned unchanged.
    public static func selfContainedBytes(path: String) throws -> Data {
        let url = URL(fileURLWithPath: path)
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ONNXError("cannot read model file '\(path)': \(error.localizedDescription)")
        }
        var proto: Onnx_ModelProto
        do { proto = try Onnx_ModelProto(serializedBytes: data) } catch {
            throw ONNXError("'\(path)' is not a valid ONNX file (protobuf decoding failed: \(error)); re-export it")
        }
        guard proto.graph.initializer.contains(where: { $0.dataLocation == .external }) else { return data }
        let decoder = TensorDecoder(baseDirectory: url.deletingLastPathComponent())
        for index in proto.graph.initializer.indices where proto.graph.initializer[index].dataLocation == .external {
            let raw = try decoder.externalBytes(proto.graph.initializer[index])
            proto.graph.initializer[index].rawData = raw
            proto.graph.initializer[index].externalData = []
            proto.graph.initializer[index].dataLocation = .default
        }
        return try proto.serializedData()
    }
}
