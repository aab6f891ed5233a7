import Autodiff
import Foundation
import TensorCore

/// Decodes ONNX TensorProto values (initializers, Constant attributes) into engine values.
///
/// Storage forms: `raw_data` (little-endian, copied out byte by byte — never bound in place, because protobuf
/// buffers are not aligned), the typed fields `float_data`/`double_data`/`int32_data`/`int64_data`/
/// `uint64_data`, and external data files (`location` relative to the model's folder, `offset`, `length`).
/// Float types become Float32 tensors; integer and boolean types become INT64 tensors.
struct TensorDecoder {
    /// Folder of the model file, for external data.
    let baseDirectory: URL?

    enum ElementType: Int32 {
        case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, string = 8, bool = 9
        case float16 = 10, double = 11, uint32 = 12, uint64 = 13, bfloat16 = 16

        var byteWidth: Int {
            switch self {
            case .uint8, .int8, .bool: return 1
            case .uint16, .int16, .float16, .bfloat16: return 2
            case .float, .int32, .uint32: return 4
            case .int64, .uint64, .double: return 8
            case .string: return 0
            }
        }

        var isFloat: Bool { [.float, .double, .float16, .bfloat16].contains(self) }
    }

    /// The tensor's shape, element count and byte count, checked: no negative dimension, and the product of
    /// its non-zero dimensions times the element size fits in `Int` (so dims such as [2^40, 2^40] are an error
    /// here, before anything is compared or allocated, and every sub-product of the shape fits later).
    func checkedLayout(_ proto: Onnx_TensorProto) throws -> (type: ElementType, shape: [Int], count: Int, bytes: Int) {
        guard let type = ElementType(rawValue: proto.dataType), type != .string else {
            throw ONNXError("tensor '\(proto.name)' has data type \(proto.dataType), which ModScope does not support (only numeric tensors)")
        }
        let shape = proto.dims.map { Int($0) }
        var nonZeroBytes = type.byteWidth
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else {
                throw ONNXError("tensor '\(proto.name)' has a negative dimension in its shape \(shape); the file is corrupt — re-export the model")
            }
            let (product, overflow) = nonZeroBytes.multipliedReportingOverflow(by: Swift.max(dimension, 1))
            guard !overflow else {
                throw ONNXError("tensor '\(proto.name)' has shape \(shape), too many elements to address; the file is corrupt — re-export the model")
            }
            nonZeroBytes = product
            count *= dimension
        }
        return (type, shape, count, count * type.byteWidth)
    }

    func decode(_ proto: Onnx_TensorProto) throws -> Value {
        let (type, shape, count, byteCount) = try checkedLayout(proto)
        var raw: Data?
        if proto.dataLocation == .external {
            raw = try readExternal(proto, expectedBytes: byteCount)
        } else if proto.hasRawData {
            raw = proto.rawData
        }
        if let raw {
            guard raw.count == byteCount else {
                throw ONNXError("tensor '\(proto.name)' holds \(raw.count) bytes but its shape \(shape) needs \(byteCount); the file may be truncated or corrupt")
            }
            return try decodeRaw(raw, type: type, shape: shape, name: proto.name)
        }
        switch type {
        case .float:
            return try floatValue(proto.floatData, shape: shape, name: proto.name)
        case .double:
            return try floatValue(proto.doubleData.map { Float($0) }, shape: shape, name: proto.name)
        case .float16:
            return try floatValue(proto.int32Data.map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) }, shape: shape, name: proto.name)
        case .bfloat16:
            return try floatValue(proto.int32Data.map { Float(bitPattern: UInt32(truncatingIfNeeded: $0) << 16) }, shape: shape, name: proto.name)
        case .int64:
            return try intValue(proto.int64Data, shape: shape, name: proto.name)
        case .uint64, .uint32:
            return try intValue(proto.uint64Data.map { Int64(truncatingIfNeeded: $0) }, shape: shape, name: proto.name)
        default:
            return try intValue(proto.int32Data.map { Int64($0) }, shape: shape, name: proto.name)
        }
    }

    private func floatValue(_ values: [Float], shape: [Int], name: String) throws -> Value {
        guard values.count == shape.reduce(1, *) else {
            throw ONNXError("tensor '\(name)' has \(values.count) values but its shape \(shape) needs \(shape.reduce(1, *))")
        }
        return .float(Tensor(shape: shape, storage: values))
    }

    private func intValue(_ values: [Int64], shape: [Int], name: String) throws -> Value {
        guard values.count == shape.reduce(1, *) else {
            throw ONNXError("tensor '\(name)' has \(values.count) values but its shape \(shape) needs \(shape.reduce(1, *))")
        }
        return .int(IntTensor(shape: shape, storage: values))
    }

    private func decodeRaw(_ data: Data, type: ElementType, shape: [Int], name: String) throws -> Value {
        let count = shape.reduce(1, *)
        let bytes = [UInt8](data)
        func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
            var value: T = 0
            for b in 0..<MemoryLayout<T>.size { value |= T(truncatingIfNeeded: bytes[i * MemoryLayout<T>.size + b]) << (8 * b) }
            return value
        }
        switch type {
        case .float: return .float(Tensor(shape: shape, storage: (0..<count).map { Float(bitPattern: load(UInt32.self, $0)) }))
        case .double: return .float(Tensor(shape: shape, storage: (0..<count).map { Float(Double(bitPattern: load(UInt64.self, $0))) }))
        case .float16: return .float(Tensor(shape: shape, storage: (0..<count).map { Float(Float16(bitPattern: load(UInt16.self, $0))) }))
        case .bfloat16: return .float(Tensor(shape: shape, storage: (0..<count).map { Float(bitPattern: UInt32(load(UInt16.self, $0)) << 16) }))
        case .int64: return .int(IntTensor(shape: shape, storage: (0..<count).map { Int64(bitPattern: load(UInt64.self, $0)) }))
        case .uint64: return .int(IntTensor(shape: shape, storage: (0..<count).map { Int64(truncatingIfNeeded: load(UInt64.self, $0)) }))
        case .int32: return .int(IntTensor(shape: shape, storage: (0..<count).map { Int64(Int32(bitPattern: load(UInt32.self, $0))) }))
        case .uint32: return .int(IntTensor(shape: shape, storage: (0..<count).map { Int64(load(UInt32.self, $0)) }))
        case .int16: return .int(IntTensor(shape: shape, storage: (0..<count).map { Int64(Int16(bitPattern: load(UInt16.self, $0))) }))
        case .uint16: return .int(IntTensor(shape: shape, storage: (0..<count).map { Int64(load(UInt16.self, $0)) }))
        case .int8: return .int(IntTensor(shape: shape, storage: (0..<count).map { Int64(Int8(bitPattern: bytes[$0])) }))
        case .uint8, .bool: return .int(IntTensor(shape: shape, storage: (0..<count).map { Int64(bytes[$0]) }))
        case .string: throw ONNXError("tensor '\(name)' holds strings")
        }
    }

    /// The bytes of an external-data initializer (for inlining), checked as `decode` checks them.
    func externalBytes(_ proto: Onnx_TensorProto) throws -> Data {
        try readExternal(proto, expectedBytes: checkedLayout(proto).bytes)
    }

    /// Reads `expectedBytes` bytes of external data. Refused before any read (as onnx.checker does): a
    /// location that is empty, absolute or has a `..` component, one that resolves (through symbolic links)
    /// outside the model's folder or to something other than a regular file, an `offset`/`length` that is not
    /// a non-negative integer, a `length` other than the tensor's size, and a range past the file's end.
    private func readExternal(_ proto: Onnx_TensorProto, expectedBytes: Int) throws -> Data {
        var fields: [String: String] = [:]
        for entry in proto.externalData { fields[entry.key] = entry.value }
        guard let location = fields["location"] else {
            throw ONNXError("initializer '\(proto.name)' is stored externally but names no file (no 'location' key)")
        }
        guard let base = baseDirectory else {
            throw ONNXError("initializer '\(proto.name)' is stored in external file '\(location)', but the model was not loaded from a file")
        }
        let file = try ExternalDataLocation.resolve(location, in: base, tensor: proto.name)
        func number(_ key: String) throws -> Int? {
            guard let text = fields[key] else { return nil }
            guard let value = Int(text), value >= 0 else {
                throw ONNXError("initializer '\(proto.name)' has external-data \(key) '\(text)', which is not a non-negative integer; the model file is corrupt — re-export it")
            }
            return value
        }
        let offset = try number("offset") ?? 0
        let length = try number("length") ?? expectedBytes
        guard length == expectedBytes else {
            throw ONNXError("initializer '\(proto.name)' records \(length) bytes of external data but its shape needs \(expectedBytes); the model file is corrupt — re-export it")
        }
        guard offset <= file.size, length <= file.size - offset else {
            throw ONNXError("external data file '\(location)' ends before initializer '\(proto.name)' (needs \(length) bytes at offset \(offset), the file has \(file.size)); the file is truncated")
        }
        guard let handle = FileHandle(forReadingAtPath: file.path) else {
            throw ONNXError("cannot open external data file '\(location)' for initializer '\(proto.name)'; check its permissions")
        }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let data = try handle.read(upToCount: length) ?? Data()
        guard data.count == length else {
            throw ONNXError("external data file '\(location)' ends before initializer '\(proto.name)' (needs \(length) bytes at offset \(offset)); the file is truncated")
        }
        return data
    }
}
