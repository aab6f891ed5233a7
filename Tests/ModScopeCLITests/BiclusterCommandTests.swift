import Foundation
import Testing

/// `modscope bicluster`: output folder and exit code 2 with one clear sentence for bad input.
@Suite struct BiclusterCommandTests {
    /// A .npy file (format 1.0) with raw little-endian element bytes.
    static func npy(_ name: String, descr: String, shape: [Int], bytes: Data) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bicluster-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var data = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data += Data(header.utf8) + bytes
        let url = folder.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }

    static func floats(_ values: [Float]) -> Data { values.withUnsafeBytes { Data($0) } }

    /// Two clear blocks plus noise, 40×12.
    static func blocks() -> [Float] {
        (0..<(40 * 12)).map { e in
            let i = e / 12, j = e % 12
            return ((i < 20) == (j < 6) ? 10 : 0) + Float((i * 7 + j * 3) % 5) * 0.1
        }
    }

    @Test func writesTheOutputFolder() throws {
        let matrix = try Self.npy("A.npy", descr: "<f4", shape: [40, 12], bytes: Self.floats(Self.blocks()))
        let out = URL(fileURLWithPath: matrix).deletingLastPathComponent().appendingPathComponent("out").path
        let result = try ModScopeBinary.run(["bicluster", "--matrix", matrix, "--k", "2", "--out", out, "--restarts", "5"])
        #expect(result.status == 0, "\(result.standardError)")
        for file in ["modules.json", "row_labels.npy", "col_labels.npy", "stability.json", "row_confidence.npy", "col_confidence.npy"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file)")
        }
        // Same seed, same bytes.
        let again = out + "2"
        _ = try ModScopeBinary.run(["bicluster", "--matrix", matrix, "--k", "2", "--out", again, "--restarts", "5"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/modules.json")) == Data(contentsOf: URL(fileURLWithPath: again + "/modules.json")))
    }

    @Test(arguments: [
        (["--k", "1"], "--k 1"),
        (["--k", "13"], "larger than the number of columns"),
        (["--k", "auto", "--k-range", "2..50"], "--k-range 2..50"),
        (["--k", "two"], "--k two"),
        (["--k", "2", "--transform", "square"], "--transform square"),
        (["--k", "2", "--restarts", "0"], "--restarts 0"),
    ])
    func badParametersExitWithTwo(arguments: [String], expected: String) throws {
        let matrix = try Self.npy("A.npy", descr: "<f4", shape: [40, 12], bytes: Self.floats(Self.blocks()))
        let result = try ModScopeBinary.run(["bicluster", "--matrix", matrix, "--out", matrix + ".out"] + arguments)
        #expect(result.status == 2)
        #expect(result.standardError.contains(expected), "\(result.standardError)")
    }

    @Test func badMatricesExitWithTwo() throws {
        var withNaN = Self.blocks()
        withNaN[5] = .nan
        let cases: [(String, String)] = [
            (try Self.npy("nan.npy", descr: "<f4", shape: [40, 12], bytes: Self.floats(withNaN)), "must be finite"),
            (try Self.npy("zero.npy", descr: "<f4", shape: [40, 12], bytes: Self.floats([Float](repeating: 0, count: 480))), "all zero"),
            (try Self.npy("int.npy", descr: "<i4", shape: [40, 12], bytes: Data(count: 480 * 4)), "dtype int32"),
            (try Self.npy("rank3.npy", descr: "<f4", shape: [4, 10, 12], bytes: Self.floats(Self.blocks())), "rank 2"),
            ("/nonexistent/A.npy", "/nonexistent/A.npy"),
        ]
        for (path, expected) in cases {
            let result = try ModScopeBinary.run(["bicluster", "--matrix", path, "--k", "2", "--out", path + ".out"])
            #expect(result.status == 2, "\(path)")
            #expect(result.standardError.contains(expected), "\(result.standardError)")
        }
    }
}
