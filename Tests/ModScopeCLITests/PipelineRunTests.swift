import ArrayFiles
import BatchRuntime
import Foundation
import Testing

/// `modscope run` end to end on a slice of the digits example, and resuming a run stopped during biclustering.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PipelineRunTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A run folder from `modscope run` on the first 320 digits (5 shards, 2 local workers).
    func makeRun() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-pipeline-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let data = try NPYReader(path: Self.root.appendingPathComponent("examples/digits/data.npy").path)
        let labels = try NPYReader(path: Self.root.appendingPathComponent("examples/digits/labels.npy").path).integerValues()
        try NPYWriter.write(try data.floatRows(0..<320), shape: [320, 64], to: folder.appendingPathComponent("data.npy").path)
        try NPYWriter.write(labels.prefix(320).map { Int32($0) }, shape: [320], to: folder.appendingPathComponent("labels.npy").path)
        let run = folder.appendingPathComponent("run")
        let result = try ModScopeBinary.run([
            "run", "--model", Self.root.appendingPathComponent("examples/digits/mlp.onnx").path,
            "--data", folder.appendingPathComponent("data.npy").path, "--labels", folder.appendingPathComponent("labels.npy").path,
            "--layer", "relu", "--k", "4", "--restarts", "3", "--workers", "2", "--quiet", "--out", run.path,
        ])
        #expect(result.status == 0, "\(result.standardError)")
        return run
    }

    @Test func runWritesEveryFileOfTheRunFolder() throws {
        let run = try makeRun()
        for file in ["run.json", "matrix.npy", "journal", "status.json", "evaluation.json", "report.html", "bicluster/modules.json", "bicluster/row_labels.npy", "bicluster/col_labels.npy", "bicluster/stability.json"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "\(file) is missing")
        }
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("run.json"))) as! [String: Any]
        let stages = try #require(manifest["stages"] as? [String: Any])
        #expect(Set(stages.keys) == ["attribution", "bicluster", "evaluate", "report"])
        let summary = try #require(manifest["summary"] as? [String: String])
        #expect(summary["model_sha256"]?.count == 64)
        #expect(summary["data_sha256"]?.count == 64)
        let evaluation = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("evaluation.json"))) as! [String: Any]
        #expect((evaluation["modules"] as? [Any])?.count == 4)
        #expect(evaluation["label_nmi"] is Double)
    }

    @Test func aRunStoppedDuringBiclusteringResumesThereWithoutRecomputingTheMatrix() throws {
        let run = try makeRun()
        let matrixBefore = try Data(contentsOf: run.appendingPathComponent("matrix.npy"))
        // The state a coordinator killed during biclustering leaves: the stage started, no output, later stages absent.
        let manifestURL = run.appendingPathComponent("run.json")
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as! [String: Any]
        var stages = manifest["stages"] as! [String: Any]
        var bicluster = stages["bicluster"] as! [String: Any]
        bicluster.removeValue(forKey: "finished")
        bicluster.removeValue(forKey: "seconds")
        stages["bicluster"] = bicluster
        stages.removeValue(forKey: "evaluate")
        stages.removeValue(forKey: "report")
        manifest["stages"] = stages
        try JSONSerialization.data(withJSONObject: manifest).write(to: manifestURL)
        for file in ["bicluster", "evaluation.json", "report.html"] {
            try FileManager.default.removeItem(at: run.appendingPathComponent(file))
        }
        let result = try ModScopeBinary.run(["resume", run.path, "--workers", "0"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("5/5 shards committed (0 this session)"), "\(result.standardOutput)")
        #expect(try Data(contentsOf: run.appendingPathComponent("matrix.npy")) == matrixBefore)
        for file in ["bicluster/modules.json", "evaluation.json", "report.html"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "\(file) was not redone")
        }
    }

    @Test func evaluateAndReportRedoTheirStage() throws {
        let run = try makeRun()
        // `run` computed the ablation table on its 2 local workers (RUN/ablation); in-process gives the same bytes.
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("ablation/matrix.npy").path))
        let byWorkers = try Data(contentsOf: run.appendingPathComponent("evaluation.json"))
        let evaluate = try ModScopeBinary.run(["evaluate", run.path, "--workers", "0", "--quiet"])
        #expect(evaluate.status == 0, "\(evaluate.standardError)")
        #expect(try Data(contentsOf: run.appendingPathComponent("evaluation.json")) == byWorkers)
        try FileManager.default.removeItem(at: run.appendingPathComponent("report.html"))
        let report = try ModScopeBinary.run(["report", run.path, "--quiet"])
        #expect(report.status == 0, "\(report.standardError)")
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("report.html").path))
        let missing = try ModScopeBinary.run(["evaluate", "/nonexistent/run"])
        #expect(missing.status == 2)
        #expect(missing.standardError.contains("is not a run folder"))
    }

    /// `coordinator` with external workers keeps them after the matrix and runs the evaluation's ablation job on
    /// them (RUN/ablation), then dismisses them: they exit 0 and evaluation.json has the bytes of a local run.
    @Test func externalWorkersComputeTheAblationTableToo() throws {
        let reference = try makeRun()
        let folder = reference.deletingLastPathComponent()
        let run = folder.appendingPathComponent("run-external")
        let coordinator = try BackgroundModScope([
            "coordinator", "--model", Self.root.appendingPathComponent("examples/digits/mlp.onnx").path,
            "--data", folder.appendingPathComponent("data.npy").path, "--labels", folder.appendingPathComponent("labels.npy").path,
            "--layer", "relu", "--k", "4", "--restarts", "3", "--workers", "0", "--out", run.path,
        ])
        let endpoint = "ipc://" + run.standardizedFileURL.path + "/workers.ipc"
        let probe = RunProbe(run.path)
        #expect(probe.waitFor(seconds: 20) { FileManager.default.fileExists(atPath: String(endpoint.dropFirst(6))) })
        let workers = try (0..<2).map { _ in try BackgroundModScope(["worker", "--connect", endpoint]) }
        #expect(coordinator.wait(seconds: 120) == 0, "coordinator stderr: \(coordinator.stderr)")
        for w in workers { #expect(w.wait(seconds: 10) == 0, "worker stderr: \(w.stderr)") }
        #expect(coordinator.stderr.contains("ablation table computed by the external workers"), "\(coordinator.stderr)")
        let ablationLog = try String(contentsOf: run.appendingPathComponent("ablation/coordinator.log"), encoding: .utf8)
        #expect(ablationLog.contains("joined"))
        #expect(try Data(contentsOf: run.appendingPathComponent("evaluation.json")) == Data(contentsOf: reference.appendingPathComponent("evaluation.json")))
        #expect(try Data(contentsOf: run.appendingPathComponent("matrix.npy")) == Data(contentsOf: reference.appendingPathComponent("matrix.npy")))
    }

    /// The `started` time recorded for each analysis stage in run.json.
    func stageStarts(_ run: URL) throws -> [String: String] {
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("run.json"))) as! [String: Any]
        let stages = manifest["stages"] as! [String: [String: Any]]
        return stages.compactMapValues { $0["started"] as? String }
    }

    /// Issue 16: the analysis never reads a partial or altered matrix, and a stage is redone exactly when its
    /// inputs changed.
    @Test func analysisStagesCheckTheMatrixAndTheirInputs() throws {
        let run = try makeRun()
        let matrix = try Data(contentsOf: run.appendingPathComponent("matrix.npy"))
        // An unfinished matrix (shard 2 no longer committed): evaluate and report refuse, saying what to do.
        try Journal(url: run.appendingPathComponent("journal")).append([.reset(shard: 2)])
        for command in ["evaluate", "report"] {
            let refused = try ModScopeBinary.run([command, run.path, "--quiet"])
            #expect(refused.status == 2, "\(command): \(refused.standardError)")
            #expect(refused.standardError.contains("is incomplete (4 of 5 shards committed)"), "\(refused.standardError)")
            #expect(refused.standardError.contains("modscope resume \(run.path)"))
        }
        // resume recomputes shard 2 to the same bytes: the analysis inputs are unchanged, nothing is redone.
        let before = try stageStarts(run)
        let resumed = try ModScopeBinary.run(["resume", run.path, "--workers", "1", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(try Data(contentsOf: run.appendingPathComponent("matrix.npy")) == matrix)
        #expect(try stageStarts(run).filter { $0.key != "attribution" } == before.filter { $0.key != "attribution" })

        // Committed bytes altered in place: evaluate refuses.
        let handle = try FileHandle(forUpdating: run.appendingPathComponent("matrix.npy"))
        try handle.seek(toOffset: UInt64(matrix.count - 8))
        try handle.write(contentsOf: Data([1, 2, 3, 4]))
        try handle.close()
        let altered = try ModScopeBinary.run(["evaluate", run.path, "--quiet"])
        #expect(altered.status == 2)
        #expect(altered.standardError.contains("differ from what was committed"), "\(altered.standardError)")
        #expect(try ModScopeBinary.run(["resume", run.path, "--workers", "1", "--quiet"]).status == 0)
        #expect(try Data(contentsOf: run.appendingPathComponent("matrix.npy")) == matrix)

        // A changed biclustering output is a changed input of evaluate and report: resume redoes them only.
        let stability = run.appendingPathComponent("bicluster/stability.json")
        try (Data(contentsOf: stability) + Data(" ".utf8)).write(to: stability)
        let beforeEdit = try stageStarts(run)
        #expect(try ModScopeBinary.run(["resume", run.path, "--workers", "1", "--quiet"]).status == 0)
        let afterEdit = try stageStarts(run)
        #expect(afterEdit["bicluster"] == beforeEdit["bicluster"])
        #expect(afterEdit["evaluate"] != beforeEdit["evaluate"] && afterEdit["report"] != beforeEdit["report"])

        // A run folder of an older version (no input_sha256): resume redoes the analysis once, then trusts it.
        let manifestURL = run.appendingPathComponent("run.json")
        let legacy = try String(contentsOf: manifestURL, encoding: .utf8)
            .split(separator: "\n").filter { !$0.contains("input_sha256") }.joined(separator: "\n")
        try legacy.write(to: manifestURL, atomically: true, encoding: .utf8)
        #expect(try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) is [String: Any])
        let beforeLegacy = try stageStarts(run)
        #expect(try ModScopeBinary.run(["resume", run.path, "--workers", "1", "--quiet"]).status == 0)
        #expect(try stageStarts(run)["bicluster"] != beforeLegacy["bicluster"])
    }
}
