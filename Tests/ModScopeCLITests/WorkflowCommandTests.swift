import ArrayFiles
import Foundation
import Testing

/// `compare`, several `--layer` flags and `--compare-with` end to end on a slice of the digits MLP.
@Suite(.serialized, .timeLimit(.minutes(10))) struct WorkflowCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let model = root.appendingPathComponent("examples/digits/mlp.onnx").path
    /// A debug-build `run` of 256 digits takes ~30 s alone but over 120 s while the numeric suites share the two
    /// cores (seen in CI), so the hang guard is generous here.
    static let runTimeout: TimeInterval = 400

    /// The first 256 digits and their labels in a fresh folder.
    func makeData() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-workflow-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let data = try NPYReader(path: Self.root.appendingPathComponent("examples/digits/data.npy").path)
        let labels = try NPYReader(path: Self.root.appendingPathComponent("examples/digits/labels.npy").path).integerValues()
        try NPYWriter.write(try data.floatRows(0..<256), shape: [256, 64], to: folder.appendingPathComponent("data.npy").path)
        try NPYWriter.write(labels.prefix(256).map { Int32($0) }, shape: [256], to: folder.appendingPathComponent("labels.npy").path)
        return folder
    }

    func run(_ folder: URL, name: String, layers: [String], method: String = "conductance", extra: [String] = []) throws -> URL {
        let out = folder.appendingPathComponent(name)
        let result = try ModScopeBinary.run([
            "run", "--model", Self.model, "--data", folder.appendingPathComponent("data.npy").path,
            "--labels", folder.appendingPathComponent("labels.npy").path, "--method", method, "--k", "4", "--restarts", "3",
            "--steps", "8", "--workers", "1", "--quiet", "--out", out.path,
        ] + layers.flatMap { ["--layer", $0] } + extra, timeout: Self.runTimeout)
        #expect(result.status == 0, "\(result.standardError)")
        return out
    }

    func compareJSON(_ a: URL, _ b: URL) throws -> [String: Any] {
        let result = try ModScopeBinary.run(["compare", a.path, b.path, "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        return try #require(JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
    }

    @Test func aRunComparedWithItselfAgreesCompletely() throws {
        let folder = try makeData()
        let run = try run(folder, name: "a", layers: ["relu"])
        let json = try compareJSON(run, run)
        #expect(json["sample_ari"] as? Double == 1)
        #expect(json["sample_nmi"] as? Double == 1)
        #expect(json["neuron_ari"] as? Double == 1)
        let matched = try #require(json["matched"] as? [[String: Any]])
        #expect(matched.count == 4)
        #expect(matched.allSatisfy { $0["jaccard"] as? Double == 1 && ($0["a"] as? Int) == ($0["b"] as? Int) })
        // The bicluster folder alone compares the same way (its layers unknown: all columns).
        let bare = try compareJSON(run, run.appendingPathComponent("bicluster"))
        #expect(bare["sample_ari"] as? Double == 1)
        #expect(bare["neuron_ari"] as? Double == 1)
    }

    @Test func twoLayersConcatenateTheirColumnsAndTheReportColoursThem() throws {
        let folder = try makeData()
        let one = try run(folder, name: "one", layers: ["relu"])
        let two = try run(folder, name: "two", layers: ["relu", "relu_1"], extra: ["--compare-with", one.path])
        let single = try NPYReader(path: one.appendingPathComponent("matrix.npy").path)
        let both = try NPYReader(path: two.appendingPathComponent("matrix.npy").path)
        #expect(both.shape == [256, 96])
        // The first 64 columns are exactly the one-layer matrix.
        let (a, b) = (try single.floatRows(0..<256), try both.floatRows(0..<256))
        #expect((0..<256).allSatisfy { row in Array(b[(row * 96)..<(row * 96 + 64)]) == Array(a[(row * 64)..<(row * 64 + 64)]) })
        let manifest = try String(contentsOf: two.appendingPathComponent("run.json"), encoding: .utf8)
        #expect(manifest.contains("relu_1"))
        let evaluation = try JSONSerialization.jsonObject(with: Data(contentsOf: two.appendingPathComponent("evaluation.json"))) as! [String: Any]
        let layers = try #require(evaluation["layers"] as? [[String: Any]])
        #expect(layers.map { $0["layer"] as? String } == ["relu", "relu_1"])
        #expect(layers.map { $0["count"] as? Int } == [64, 32])
        let modules = try #require(evaluation["modules"] as? [[String: Any]])
        #expect(modules.count == 4)
        #expect(modules.allSatisfy { $0["ablation"] != nil })
        let report = try String(contentsOf: two.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("layer-strip"))
        #expect(report.contains("neuron layers:"))
        #expect(report.contains("Compared with another run"))
        // Neurons are compared over the shared layer only.
        let json = try compareJSON(one, two)
        #expect(json["shared_layers"] as? [String] == ["relu"])
        #expect(json["neuron_ari"] is Double)
    }

    @Test func compareRefusesDifferentSamplesAndNonRuns() throws {
        let folder = try makeData()
        let run = try run(folder, name: "a", layers: ["relu"])
        let missing = try ModScopeBinary.run(["compare", run.path, folder.path])
        #expect(missing.status == 2)
        #expect(missing.standardError.contains("neither a run folder"))
        let repeated = try ModScopeBinary.run([
            "attribute", "--model", Self.model, "--data", folder.appendingPathComponent("data.npy").path,
            "--layer", "relu", "--layer", "node_relu", "--out", folder.appendingPathComponent("x.npy").path,
        ])
        #expect(repeated.status == 2)
        #expect(repeated.standardError.contains("second time"))
    }
}

/// `plan` and the batch size `attribute` picks from the same estimate.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PlanCommandTests {
    @Test func planReportsTheMatrixMemoryAndTimeAndAttributeKeepsItsBytesWithTheChosenBatch() throws {
        let folder = try WorkflowCommandTests().makeData()
        let data = folder.appendingPathComponent("data.npy").path
        let result = try ModScopeBinary.run([
            "plan", "--model", WorkflowCommandTests.model, "--data", data, "--layer", "relu", "--layer", "relu_1",
            "--workers", "3", "--deadline", "1000", "--json",
        ])
        #expect(result.status == 0, "\(result.standardError)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        #expect(json["matrix_bytes"] as? Int == 256 * 96 * 4 + 128)
        let peak = try #require(json["peak_memory_bytes_per_worker"] as? Int)
        #expect(peak > 1_000_000 && peak < 2_000_000_000)
        let perSample = try #require(json["seconds_per_sample"] as? Double)
        let total = try #require(json["total_seconds"] as? Double)
        #expect(perSample > 0)
        #expect(abs(total - perSample * 256 / 3) < 1e-9 * max(1, total))
        #expect(json["batch_size"] as? Int == 256)
        #expect(json["workers_for_deadline"] as? Int == 1)
        // attribute without --batch-size: the first block measures memory, the matrix is the same bytes.
        let chosen = folder.appendingPathComponent("chosen.npy").path, fixed = folder.appendingPathComponent("fixed.npy").path
        for (out, extra) in [(chosen, [String]()), (fixed, ["--batch-size", "64"])] {
            let attribute = try ModScopeBinary.run([
                "attribute", "--model", WorkflowCommandTests.model, "--data", data, "--layer", "relu", "--steps", "8",
                "--threads", "2", "--quiet", "--out", out,
            ] + extra)
            #expect(attribute.status == 0, "\(attribute.standardError)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: chosen)) == Data(contentsOf: URL(fileURLWithPath: fixed)))
        let bad = try ModScopeBinary.run(["plan", "--model", WorkflowCommandTests.model, "--data", data, "--layer", "relu", "--deadline", "-1"])
        #expect(bad.status == 2)
    }
}
