import BatchRuntime
import Foundation
import Testing

/// The fault matrix of issue 5 with real processes and the synthetic kernel (no ML).
@Suite(.serialized) struct RuntimeFaultTests {
    /// 480 rows × 64 columns in 60 shards of 8 rows at 20 ms/row: ~160 ms per shard, a few seconds per run.
    let job = ["--synthetic", "480,64", "--shard-size", "8", "--synthetic-row-ms", "20"]

    @Test(.timeLimit(.minutes(1))) func sigkilledWorkerIsReplacedAndTheMatrixIsByteIdentical() throws {
        // Fault-free reference run.
        let clean = RunProbe(RunProbe.fresh())
        defer { clean.remove() }
        let reference = try BackgroundModScope(["run", "--workers", "3", "--out", clean.folder.url.path] + job + fastRuntimeFlags)
        #expect(reference.wait(seconds: 30) == 0)

        let run = RunProbe(RunProbe.fresh())
        defer { run.remove() }
        let coordinator = try BackgroundModScope(["coordinator", "--out", run.folder.url.path, "--workers", "0"] + job + fastRuntimeFlags)
        let endpoint = run.folder.ipcEndpoint
        #expect(run.waitFor(seconds: 5) { FileManager.default.fileExists(atPath: String(endpoint.dropFirst(6))) })
        var workers = try (0..<3).map { _ in try BackgroundModScope(["worker", "--connect", endpoint]) }
        #expect(run.waitFor(seconds: 10) { (run.status()?.shardsDone ?? 0) >= 10 })
        workers[0].signal(SIGKILL)
        usleep(300_000)
        workers.append(try BackgroundModScope(["worker", "--connect", endpoint]))
        #expect(coordinator.wait(seconds: 40) == 0, "coordinator stderr: \(coordinator.stderr)")
        for w in workers.dropFirst() { #expect(w.wait(seconds: 5) == 0) }
        let status = try #require(run.status())
        #expect(status.leasesExpired + status.workersLost >= 1)
        #expect(try run.matrixIsExact())
        #expect(try Data(contentsOf: run.folder.matrixURL) == Data(contentsOf: clean.folder.matrixURL))
        let commits = try run.commitsByEpoch().flatMap { $0 }
        #expect(commits.count == 60 && Set(commits).count == 60)
    }

    @Test(.timeLimit(.minutes(1))) func sigstoppedWorkerLosesItsLeaseAndItsLateResultIsDropped() throws {
        let run = RunProbe(RunProbe.fresh())
        defer { run.remove() }
        let coordinator = try BackgroundModScope(["coordinator", "--out", run.folder.url.path, "--workers", "0", "--no-speculation"] + job + fastRuntimeFlags)
        let endpoint = run.folder.ipcEndpoint
        #expect(run.waitFor(seconds: 5) { FileManager.default.fileExists(atPath: String(endpoint.dropFirst(6))) })
        let paused = try BackgroundModScope(["worker", "--connect", endpoint, "--credit", "1"])
        usleep(500_000)
        let healthy = try BackgroundModScope(["worker", "--connect", endpoint, "--credit", "1"])
        #expect(run.waitFor(seconds: 10) { (run.status()?.shardsDone ?? 0) >= 4 })
        paused.signal(SIGSTOP)
        let stoppedAt = Date()
        // Lease (2 s here, 5 s by default) expires; the shard is recomputed by the healthy worker.
        #expect(run.waitFor(seconds: 8) { (run.status()?.leasesExpired ?? 0) >= 1 })
        let detection = Date().timeIntervalSince(stoppedAt)
        #expect(detection < 2 + 1.5)
        usleep(1_000_000)
        paused.signal(SIGCONT)
        #expect(coordinator.wait(seconds: 40) == 0, "coordinator stderr: \(coordinator.stderr)")
        _ = paused.wait(seconds: 5)
        _ = healthy.wait(seconds: 5)
        let status = try #require(run.status())
        // The paused copy's result is dropped either by the coordinator (ACK duplicate, counted in
        // duplicatesDropped) or by the worker itself, which notices the silence on waking and starts a new session
        // without sending it; in both cases the shard is committed exactly once.
        #expect(status.duplicatesDropped >= 1 || paused.stderr.contains("reconnect"))
        #expect(try run.matrixIsExact())
        let commits = try run.commitsByEpoch().flatMap { $0 }
        #expect(commits.count == 60 && Set(commits).count == 60)
        print("SIGSTOP detected after \(String(format: "%.2f", detection)) s; late results dropped: \(status.duplicatesDropped)")
    }

    /// SIGTERM (Kubernetes scale-down, Ctrl-C) makes a worker say goodbye: it exits 0 at once, its shards are
    /// re-queued without waiting for the lease and without blame, and the run completes exactly.
    @Test(.timeLimit(.minutes(1))) func sigtermedWorkerSaysGoodbyeAndItsShardsAreRequeuedAtOnce() throws {
        let run = RunProbe(RunProbe.fresh())
        defer { run.remove() }
        let coordinator = try BackgroundModScope(["coordinator", "--out", run.folder.url.path, "--workers", "0", "--no-speculation"] + job + fastRuntimeFlags)
        let endpoint = run.folder.ipcEndpoint
        #expect(run.waitFor(seconds: 5) { FileManager.default.fileExists(atPath: String(endpoint.dropFirst(6))) })
        let leaving = try BackgroundModScope(["worker", "--connect", endpoint, "--credit", "2"])
        let staying = try BackgroundModScope(["worker", "--connect", endpoint, "--credit", "2"])
        // Both workers appear in status.json with the memory they report in heartbeats.
        #expect(run.waitFor(seconds: 10) {
            guard let s = run.status(), (s.shardsDone) >= 4, let details = s.workerDetails else { return false }
            return details.count == 2 && details.allSatisfy { $0.rssBytes > 1_000_000 }
        })
        leaving.signal(SIGTERM)
        let stoppedAt = Date()
        #expect(leaving.wait(seconds: 5) == 0, "worker stderr: \(leaving.stderr)")
        let exitSeconds = Date().timeIntervalSince(stoppedAt)
        #expect(exitSeconds < 3)
        #expect(leaving.stderr.contains("goodbye"))
        #expect(coordinator.wait(seconds: 40) == 0, "coordinator stderr: \(coordinator.stderr)")
        #expect(staying.wait(seconds: 5) == 0)
        let status = try #require(run.status())
        #expect(status.leasesExpired == 0 && status.workersLost == 0 && status.shardsFailed.isEmpty)
        let log = try String(contentsOf: run.folder.logURL, encoding: .utf8)
        #expect(log.contains("left (goodbye)"))
        #expect(try run.matrixIsExact())
        let commits = try run.commitsByEpoch().flatMap { $0 }
        #expect(commits.count == 60 && Set(commits).count == 60)
        print("SIGTERMed worker exited after \(String(format: "%.2f", exitSeconds)) s")
    }

    /// The disk fills up mid-run (simulated with a file-size limit: the journal cannot grow): the coordinator stops
    /// with exit 1 and a sentence naming the file and `resume`, status.json says "stopped", and `resume` with room
    /// again completes a byte-identical matrix.
    @Test(.timeLimit(.minutes(1))) func fullDiskStopsCleanlyAndResumeCompletes() throws {
        let tiny = ["--synthetic", "2000,1", "--shard-size", "1", "--quiet"]  // 8 KB matrix, 2000 journal commits
        let clean = RunProbe(RunProbe.fresh())
        defer { clean.remove() }
        #expect(try BackgroundModScope(["run", "--workers", "1", "--out", clean.folder.url.path] + tiny).wait(seconds: 30) == 0)

        let run = RunProbe(RunProbe.fresh())
        defer { run.remove() }
        let full = try BackgroundModScope(["run", "--workers", "1", "--out", run.folder.url.path] + tiny, fileSizeLimitKiB: 8)
        #expect(full.wait(seconds: 30) == 1)
        #expect(full.stderr.contains("cannot append to the journal") && full.stderr.contains("modscope resume"), "stderr: \(full.stderr)")
        let stopped = try #require(run.status())
        #expect(stopped.state == "stopped")
        let committedBefore = try run.journal().state.committed.count
        #expect(committedBefore > 0 && committedBefore < 2000)

        let resumed = try BackgroundModScope(["resume", run.folder.url.path, "--workers", "1", "--quiet"])
        #expect(resumed.wait(seconds: 30) == 0, "stderr: \(resumed.stderr)")
        #expect(try Data(contentsOf: run.folder.matrixURL) == Data(contentsOf: clean.folder.matrixURL))
        #expect(try run.journal().state.committed.count == 2000)
    }

    @Test(.timeLimit(.minutes(1))) func poisonSampleIsIsolatedThenResubmitted() throws {
        let run = RunProbe(RunProbe.fresh())
        defer { run.remove() }
        // Row 203 is in shard 25 (rows 200..<208); every worker aborts on it.
        let first = try BackgroundModScope(
            ["run", "--workers", "3", "--out", run.folder.url.path] + job + fastRuntimeFlags,
            environment: ["MODSCOPE_FAILPOINT": "crash-on-row:203"])
        let started = Date()
        #expect(first.wait(seconds: 40) == 3)
        #expect(first.stderr.contains("shard 25 (rows 200..<208)"))
        #expect(first.stderr.contains("resubmit"))
        let journal = try run.journal()
        #expect(journal.state.poisoned.keys.sorted() == [25])
        #expect(journal.state.committed.count == 59)
        let log = try String(contentsOf: run.folder.logURL, encoding: .utf8)
        let deaths = log.components(separatedBy: "lease of").count - 1 + log.components(separatedBy: "lost worker").count - 1
        #expect(deaths <= 2)
        #expect(log.contains("killed 2 workers"))
        print("poison run exited 3 after \(String(format: "%.1f", Date().timeIntervalSince(started))) s with \(deaths) worker deaths")

        let second = try BackgroundModScope(["resubmit", run.folder.url.path, "--workers", "2"] + fastRuntimeFlags)
        #expect(second.wait(seconds: 30) == 0, "resubmit stderr: \(second.stderr)")
        #expect(try run.matrixIsExact())
        let epochs = try run.commitsByEpoch()
        #expect(epochs.last == [25])
    }

    @Test(.timeLimit(.minutes(1))) func coordinatorKilledMidRunResumesOnlyUncommittedShards() throws {
        let run = RunProbe(RunProbe.fresh())
        defer { run.remove() }
        let first = try BackgroundModScope(["run", "--workers", "2", "--out", run.folder.url.path] + job + fastRuntimeFlags)
        #expect(run.waitFor(seconds: 15) { (run.status()?.shardsDone ?? 0) >= 15 })
        first.signal(SIGKILL)
        _ = first.wait(seconds: 5)
        usleep(1_500_000)  // local workers notice their parent is gone (checked every second) and exit
        let before = try run.commitsByEpoch()
        let committedBefore = Set(before.flatMap { $0 })
        #expect(committedBefore.count >= 15 && committedBefore.count < 60)
        // A crash mid-append leaves a torn record: resume must drop it.
        let handle = try FileHandle(forWritingTo: run.folder.journalURL)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([40, 0, 0, 0, 1, 2, 3]))
        try handle.close()

        let resume = try BackgroundModScope(["resume", run.folder.url.path, "--workers", "2"] + fastRuntimeFlags)
        #expect(resume.wait(seconds: 40) == 0, "resume stderr: \(resume.stderr)")
        #expect(try run.matrixIsExact())
        let after = try run.commitsByEpoch()
        let recomputed = after.last ?? []
        #expect(Set(recomputed).isDisjoint(with: committedBefore))
        #expect(Set(recomputed).union(committedBefore) == Set(0..<60))
        #expect(recomputed.count == 60 - committedBefore.count)
        print("coordinator killed after \(committedBefore.count) commits; resume recomputed \(recomputed.count) shards, none twice")
    }

    @Test(.timeLimit(.minutes(1))) func unknownCurveKeyWorkerExitsWithAMessageWithinFiveSeconds() throws {
        let keys = RunProbe.fresh(), otherKeys = RunProbe.fresh()
        let run = RunProbe(RunProbe.fresh())
        defer {
            run.remove()
            try? FileManager.default.removeItem(atPath: keys)
            try? FileManager.default.removeItem(atPath: otherKeys)
        }
        #expect(try ModScopeBinary.run(["keys", "generate", "--out", keys, "--workers", "1"]).status == 0)
        #expect(try ModScopeBinary.run(["keys", "generate", "--out", otherKeys, "--workers", "1"]).status == 0)
        let port = Int.random(in: 20_000...60_000)
        let coordinator = try BackgroundModScope(
            ["coordinator", "--out", run.folder.url.path, "--bind", "tcp://127.0.0.1:\(port)", "--keys", keys,
             "--synthetic", "480,64", "--shard-size", "8", "--synthetic-row-ms", "4"] + fastRuntimeFlags)
        usleep(500_000)
        let started = Date()
        let stranger = try BackgroundModScope([
            "worker", "--connect", "tcp://127.0.0.1:\(port)", "--keys", otherKeys, "--server-key", "\(keys)/coordinator.pub",
        ])
        let code = stranger.wait(seconds: 6)
        let elapsed = Date().timeIntervalSince(started)
        #expect(code == 1)
        #expect(elapsed < 5)
        #expect(stranger.stderr.contains("rejected this worker's CURVE key"))
        #expect(run.status()?.shardsDone ?? 0 == 0)
        // A plaintext worker against the CURVE coordinator also stops with a message.
        let plain = try BackgroundModScope(["worker", "--connect", "tcp://127.0.0.1:\(port)", "--insecure"])
        let plainStarted = Date()
        #expect(plain.wait(seconds: 6) == 1)
        #expect(Date().timeIntervalSince(plainStarted) < 5)
        #expect(plain.stderr.contains("security handshake"))
        // status ENDPOINT asks the live coordinator over CURVE.
        let live = try ModScopeBinary.run(["status", "tcp://127.0.0.1:\(port)", "--keys", keys])
        #expect(live.status == 0)
        #expect(live.standardOutput.contains("shards 0/60"))
        let allowed = try BackgroundModScope(["worker", "--connect", "tcp://127.0.0.1:\(port)", "--keys", keys])
        #expect(coordinator.wait(seconds: 40) == 0, "coordinator stderr: \(coordinator.stderr)")
        #expect(allowed.wait(seconds: 5) == 0)
        #expect(try run.matrixIsExact())
        print("unknown-key worker exited after \(String(format: "%.2f", elapsed)) s: \(stranger.stderr.split(separator: "\n").last ?? "")")
    }

    @Test(.timeLimit(.minutes(1))) func hungComputeIsDetectedByStalledProgressWhileHeartbeatsFlow() throws {
        let run = RunProbe(RunProbe.fresh())
        defer { run.remove() }
        let coordinator = try BackgroundModScope(
            ["coordinator", "--out", run.folder.url.path, "--workers", "0", "--stall-timeout", "2", "--no-speculation",
             "--synthetic", "160,64", "--shard-size", "8", "--synthetic-row-ms", "10"] + fastRuntimeFlags)
        let endpoint = run.folder.ipcEndpoint
        #expect(run.waitFor(seconds: 5) { FileManager.default.fileExists(atPath: String(endpoint.dropFirst(6))) })
        // This worker's compute thread blocks on every shard, but its I/O thread keeps heartbeating.
        let hung = try BackgroundModScope(["worker", "--connect", endpoint, "--credit", "1"], environment: ["MODSCOPE_FAILPOINT": "hang"])
        let healthy = try BackgroundModScope(["worker", "--connect", endpoint, "--credit", "1"])
        #expect(coordinator.wait(seconds: 40) == 0, "coordinator stderr: \(coordinator.stderr)")
        _ = hung.wait(seconds: 5)
        _ = healthy.wait(seconds: 5)
        let status = try #require(run.status())
        #expect(status.leasesExpired == 0)  // heartbeats kept flowing: not a lease expiry
        #expect(status.retries >= 1)
        let log = try String(contentsOf: run.folder.logURL, encoding: .utf8)
        #expect(log.contains("stalled on"))
        #expect(try run.matrixIsExact())
    }

    @Test func tcpWithoutKeysIsAUsageError() throws {
        let run = RunProbe.fresh()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let result = try ModScopeBinary.run(["coordinator", "--out", run, "--bind", "tcp://127.0.0.1:5999"] + job)
        #expect(result.status == 2)
        #expect(result.standardError.contains("require CURVE"))
        let worker = try ModScopeBinary.run(["worker", "--connect", "tcp://127.0.0.1:5999"])
        #expect(worker.status == 2)
    }

    @Test func statusReadsTheRunFolder() throws {
        let run = RunProbe(RunProbe.fresh())
        defer { run.remove() }
        #expect(try ModScopeBinary.run(["run", "--workers", "1", "--out", run.folder.url.path, "--synthetic", "64,8", "--shard-size", "16", "--quiet"]).status == 0)
        let result = try ModScopeBinary.run(["status", run.folder.url.path])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("4/4 shards committed"))
    }
}
