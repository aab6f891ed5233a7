import ArrayFiles
import Foundation
import Testing

/// `modscope run` on a token model (BERT with input_ids, attention_mask, token_type_ids; 150 padded sequences):
/// token rows through shards and workers, padding rows in no module, tokens in the report.
@Suite(.serialized, .timeLimit(.minutes(5))) struct TokenRunTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tokens")
    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
    static let job = [
        "--model", fixture("bert_legacy.onnx"), "--data", fixture("bert_many.npz"), "--baseline", fixture("bert_baseline.npz"),
        "--layer", "/hf/bert/encoder/layer.1/intermediate/intermediate_act_fn/Gelu_output_0", "--method", "conductance",
        "--steps", "8", "--granularity", "token",
    ]

    func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-token-run-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    func run(_ folder: URL, _ name: String, _ extra: [String]) throws -> URL {
        let out = folder.appendingPathComponent(name)
        let result = try ModScopeBinary.run(
            ["run"] + Self.job + ["--k", "3", "--restarts", "2", "--quiet", "--out", out.path] + extra, timeout: 240)
        #expect(result.status == 0, "\(result.standardError)")
        return out
    }

    @Test func tokenRowsAreByteIdenticalAcrossShardsAndWorkersAndSkipPadding() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let one = try run(folder, "one", ["--workers", "1", "--shard-size", "64"])
        let two = try run(folder, "two", ["--workers", "2", "--shard-size", "128"])
        let attribute = folder.appendingPathComponent("attribute.npy")
        let direct = try ModScopeBinary.run(["attribute"] + Self.job + ["--out", attribute.path])
        #expect(direct.status == 0, "\(direct.standardError)")
        let matrix = try Data(contentsOf: one.appendingPathComponent("matrix.npy"))
        #expect(try Data(contentsOf: two.appendingPathComponent("matrix.npy")) == matrix)
        #expect(try Data(contentsOf: attribute) == matrix)
        #expect(try NPYReader(path: attribute.path).shape == [150 * 8, 64])

        // Padding rows (attention mask 0) are in no module; every real token row was clustered.
        let mask = try NPZArchive(path: Self.fixture("bert_many.npz")).reader(forKey: "attention_mask").integerValues()
        let labels = try NPYReader(path: one.appendingPathComponent("bicluster/row_labels.npy").path).integerValues()
        #expect(labels.count == mask.count)
        #expect(zip(mask, labels).allSatisfy { $0 == 1 || $1 == -1 })
        let evaluation = try JSONSerialization.jsonObject(with: Data(contentsOf: one.appendingPathComponent("evaluation.json"))) as! [String: Any]
        #expect(evaluation["token_positions"] as? Int == 8)
        #expect(evaluation["padding_rows"] as? Int == mask.filter { $0 == 0 }.count)
        // Resuming the finished run checks the (N·T, D) matrix against the journal and recomputes nothing.
        let resumed = try ModScopeBinary.run(["resume", one.path, "--quiet"], timeout: 240)
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(try Data(contentsOf: one.appendingPathComponent("matrix.npy")) == matrix)
        let report = try String(contentsOf: one.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("<b>tokens</b>"))
        #expect(report.contains("token rows (8 positions per sample"))
    }

    /// A --vocab that is not a readable file is refused before anything runs: one sentence, exit 2.
    @Test func aMissingVocabularyIsRefusedWithExitTwo() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("run")
        let result = try ModScopeBinary.run(
            ["run"] + Self.job + ["--vocab", folder.appendingPathComponent("missing.txt").path, "--quiet", "--out", out.path])
        #expect(result.status == 2, "\(result.standardError)")
        #expect(result.standardError.contains("--vocab") && result.standardError.contains("is not a file"), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out.path), "nothing is written")
    }
}
