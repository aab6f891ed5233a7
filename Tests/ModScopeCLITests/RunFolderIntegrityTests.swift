import BatchRuntime
import Foundation
import Testing

/// Issue 16, run-folder integrity and exclusion, with `modscope` processes on the synthetic job: `resume`
/// verifies every committed shard against the journal, and a run folder has one writer at a time.
@Suite(.serialized, .timeLimit(.minutes(2))) struct RunFolderIntegrityTests {
    /// 256 rows × 16 columns in 32 shards of 8 rows: well under a second.
    let job = ["--synthetic", "256,16", "--shard-size", "8"]

    func finishedRun() throws -> RunProbe {
        let run = RunProbe(RunProbe.fresh())
        let result = try ModScopeBinary.run(["run", "--workers", "2", "--out", run.folder.url.path] + job + fastRuntimeFlags, timeout: 60)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try run.matrixIsExact())
        return run
    }

    func resume(_ run: RunProbe) throws -> CommandResult {
        try ModScopeBinary.run(["resume", run.folder.url.path, "--workers", "2"] + fastRuntimeFlags, timeout: 60)
    }

    /// Overwrites `count` bytes of the matrix's data at `offset` (from the first data byte) with their complement.
    func corrupt(_ run: RunProbe, atDataOffset offset: Int, count: Int = 4) throws {
        let job = try run.folder.loadManifest().job
        let handle = try FileHandle(forUpdating: run.folder.matrixURL)
        defer { try? handle.close() }
        let position = UInt64(MatrixFile.headerSize(rows: job.rowCount, columns: job.columns) + offset)
        try handle.seek(toOffset: position)
        let original = try #require(try handle.read(upToCount: count))
        try handle.seek(toOffset: position)
        try handle.write(contentsOf: Data(original.map { ~$0 }))
    }

    @Test func resumeRecomputesEveryShardWhenTheMatrixIsMissing() throws {
        let run = try finishedRun()
        defer { run.remove() }
        try FileManager.default.removeItem(at: run.folder.matrixURL)
        let result = try resume(run)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try run.matrixIsExact(), "committed shards must be recomputed, never left as zeros")
        #expect(Set(try run.commitsByEpoch().last ?? []) == Set(0..<32))
    }

    @Test func resumeRecomputesExactlyTheShardWhoseBytesChanged() throws {
        let run = try finishedRun()
        defer { run.remove() }
        let rowBytes = 16 * 4
        try corrupt(run, atDataOffset: 8 * 7 * rowBytes + 5 * rowBytes + 12)  // shard 7, row 5
        let result = try resume(run)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try run.matrixIsExact())
        #expect(try run.commitsByEpoch().last == [7])
        let log = try String(contentsOf: run.folder.logURL, encoding: .utf8)
        #expect(log.contains("shard(s) [7] differ from their commit records"), "\(log)")
    }

    @Test func aMatrixOfTheWrongSizeIsMovedAsideAndRecomputed() throws {
        let run = try finishedRun()
        defer { run.remove() }
        let handle = try FileHandle(forUpdating: run.folder.matrixURL)
        try handle.truncate(atOffset: 1000)
        try handle.close()
        let result = try resume(run)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try run.matrixIsExact())
        #expect(FileManager.default.fileExists(atPath: run.folder.url.appendingPathComponent("matrix.npy.damaged").path))
        #expect(Set(try run.commitsByEpoch().last ?? []) == Set(0..<32))
    }

    @Test func anIntactRunIsConfirmedWithoutRecomputing() throws {
        let run = try finishedRun()
        defer { run.remove() }
        let result = try resume(run)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("32/32 shards committed (0 this session)"), "\(result.standardOutput)")
    }

    /// A second writer of a folder that is being written exits 2 at once, naming the holder's pid; the first
    /// run is not disturbed.
    @Test func aSecondWriterIsRefusedNamingTheHolder() throws {
        let run = RunProbe(RunProbe.fresh())
        defer { run.remove() }
        let slow = ["--synthetic", "256,16", "--shard-size", "8", "--synthetic-row-ms", "100"]  // ~13 s with 2 workers
        let first = try BackgroundModScope(["run", "--workers", "2", "--out", run.folder.url.path] + slow + fastRuntimeFlags)
        #expect(run.waitFor(seconds: 10) { (run.status()?.shardsDone ?? 0) >= 1 })
        for command in [
            ["resume", run.folder.url.path, "--workers", "1"],
            ["resubmit", run.folder.url.path, "--shards", "1"],
            ["coordinator", "--out", run.folder.url.path, "--workers", "0"] + job,
            ["run", "--out", run.folder.url.path, "--workers", "1"] + job,
            ["evaluate", run.folder.url.path],
            ["report", run.folder.url.path],
        ] {
            let started = Date()
            let second = try ModScopeBinary.run(command + ["--quiet"], timeout: 20)
            #expect(second.status == 2, "\(command[0]): \(second.standardError)")
            #expect(second.standardError.contains("is being written by process \(first.pid) (modscope run)"), "\(command[0]): \(second.standardError)")
            #expect(Date().timeIntervalSince(started) < 5)
        }
        #expect(first.process.isRunning, "the first run must still be running for the checks above to mean anything")
        first.signal(SIGTERM)
        #expect(first.wait(seconds: 20) == 1, "\(first.stderr)")
        // The lock went with its holder: the folder can be written again, and the run completes.
        #expect(try resume(run).status == 0)
        #expect(try run.matrixIsExact())
    }

    @Test func aNewRunRefusesAFolderThatIsNotARun() throws {
        let folder = RunProbe.fresh()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let precious = URL(fileURLWithPath: folder).appendingPathComponent("thesis.tex")
        try Data("do not overwrite".utf8).write(to: precious)
        let result = try ModScopeBinary.run(["run", "--out", folder, "--workers", "1"] + job + ["--quiet"])
        #expect(result.status == 2)
        #expect(result.standardError.contains("is an existing folder that is not a ModScope run"), "\(result.standardError)")
        #expect(try Data(contentsOf: precious) == Data("do not overwrite".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["thesis.tex"])

        let file = precious.path
        let onFile = try ModScopeBinary.run(["run", "--out", file, "--workers", "1"] + job + ["--quiet"])
        #expect(onFile.status == 2)
        #expect(onFile.standardError.contains("is not a folder"), "\(onFile.standardError)")

        // An empty existing folder is fine, and so is a finished run pointing to resume (exit 2, not 1).
        let empty = RunProbe(RunProbe.fresh())
        defer { empty.remove() }
        try FileManager.default.createDirectory(at: empty.folder.url, withIntermediateDirectories: true)
        #expect(try ModScopeBinary.run(["run", "--out", empty.folder.url.path, "--workers", "1"] + job + ["--quiet"]).status == 0)
        let again = try ModScopeBinary.run(["run", "--out", empty.folder.url.path, "--workers", "1"] + job + ["--quiet"])
        #expect(again.status == 2)
        #expect(again.standardError.contains("already holds a run"))
    }
}
