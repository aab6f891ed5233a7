import Foundation
import TensorCore

/// Reference data made by scripts/make_fixtures.py (onnxruntime forward values, float64 torch autograd
/// gradients); see Tests/ONNXTests/Fixtures/manifest.json.
struct EngineFixtures: Decodable {
    struct Case: Decodable {
        var batch: Int
        var input: String
        var tensors: [String: String]
        var seed: String
        var gradients: [String: String]
    }

    struct Model: Decodable {
        var name: String
        var file: String
        var input: String
        var output: String
        var cases: [Case]
    }

    struct ErrorCase: Decodable {
        var name: String
        var file: String
        var fixed_batch: Int?
        var op: String?
    }

    var models: [Model]
    var errors: [ErrorCase]

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func load() throws -> EngineFixtures {
        try JSONDecoder().decode(EngineFixtures.self, from: Data(contentsOf: folder.appendingPathComponent("manifest.json")))
    }

    static func path(_ relative: String) -> String { folder.appendingPathComponent(relative).path }

    static func tensor(_ relative: String) throws -> Tensor {
        try FixtureArray.read(path(relative))
    }
}

/// max |a − b| / max |b|, the normalised error used by every parity test (0 when both are zero).
func normalizedError(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count, "normalizedError: \(a.shape) vs \(b.shape)")
    var worst: Float = 0
    for i in 0..<a.count { worst = max(worst, abs(a.storage[i] - b.storage[i])) }
    let scale = b.maxAbsolute
    return scale == 0 ? worst : worst / scale
}

/// Reads the fixtures' own .npy files: NumPy format 1.0, little-endian float32 or int64, C order — the only
/// forms scripts/make_fixtures.py writes. (General .npy reading is ArrayFiles' job; tests of the engine stay
/// independent of it.)
enum FixtureArray {
    static func read(_ path: String) throws -> Tensor {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        let shapeText = header.components(separatedBy: "'shape': (")[1].components(separatedBy: ")")[0]
        let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let body = bytes[(10 + headerLength)...]
        let count = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        let isInt64 = header.contains("<i8")
        precondition(isInt64 || header.contains("<f4"), "fixture \(path) is neither <f4 nor <i8")
        body.withUnsafeBytes { raw in
            for i in 0..<count {
                values[i] = isInt64 ? Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                    : raw.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
            }
        }
        return Tensor(shape: shape, storage: values)
    }
}
