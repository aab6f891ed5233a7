import BatchRuntime
import Foundation
import Testing

/// A run folder written before run.json held readable job parameters (Fixtures/old_run: a synthetic job of 64 × 8
/// in 8 shards, parameters as base64) still resumes: nothing is recomputed, the matrix keeps its bytes, and the
/// rewritten run.json shows the parameters as JSON.
@Suite(.serialized, .timeLimit(.minutes(2))) struct OldRunFolderTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/old_run")

    @Test func anOlderRunFolderResumesAndGetsReadableParameters() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-old-run-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Self.fixture, to: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        let before = try String(contentsOf: folder.appendingPathComponent("run.json"), encoding: .utf8)
        #expect(before.contains(#""parameters" : "ey"#), "the fixture holds base64 parameters")
        let matrix = try Data(contentsOf: folder.appendingPathComponent("matrix.npy"))
        let result = try ModScopeBinary.run(["resume", folder.path, "--workers", "1"] + fastRuntimeFlags, timeout: 60)
        #expect(result.status == 0, "\(result.standardError)")
        let output = result.standardOutput + result.standardError
        #expect(output.contains("8/8 shards committed (0 this session)"), "\(output)")
        #expect(try Data(contentsOf: folder.appendingPathComponent("matrix.npy")) == matrix)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("run.json"))) as! [String: Any]
        let job = try #require(manifest["job"] as? [String: Any])
        let parameters = try #require(job["parameters"] as? [String: Any], "parameters must now be a JSON object")
        #expect(parameters["seed"] as? Int == 42)
    }
}
