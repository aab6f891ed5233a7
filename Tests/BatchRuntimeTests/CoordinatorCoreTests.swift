import Foundation
import Testing
@testable import BatchRuntime

/// The coordinator state machine driven by hand: no sockets, no files, explicit time.
@Suite struct CoordinatorCoreTests {
    let job = try! SyntheticJob.job(rows: 40, columns: 4, shardSize: 10)  // 4 shards of 10 rows
    let runId: UInt64 = 77

    func makeCore(_ configure: (inout CoordinatorConfig) -> Void = { _ in }, committed: Set<Int> = []) throws -> CoordinatorCore {
        var config = CoordinatorConfig()
        configure(&config)
        return try CoordinatorCore(job: job, runId: runId, epoch: 1, config: config, committed: committed)
    }

    func msg(_ body: WireBody, _ type: MessageType, inc: UInt64, shard: Int? = nil, attempt: Int = 0) -> WireMessage {
        WireMessage(
            header: WireHeader(type: type, runId: runId, epoch: 1, shard: shard.map { UInt32($0) } ?? WireProtocol.noShard, incarnation: inc, attempt: UInt32(attempt)),
            body: body)
    }

    func hello(_ core: inout CoordinatorCore, peer: PeerID, inc: UInt64, credit: UInt32 = 1, now: Double = 0, pid: UInt32? = nil) -> [CoordinatorAction] {
        // Each incarnation is its own process unless a pid is given.
        core.handle(.message(peer, msg(.hello(credit: credit, threads: 1, pid: pid ?? UInt32(truncatingIfNeeded: inc), host: "h"), .hello, inc: inc)), now: now)
    }

    func assigns(_ actions: [CoordinatorAction]) -> [(PeerID, Int, Int)] {
        actions.compactMap { if case .assign(let p, let s, let a, _) = $0 { return (p, s, a) } else { return nil } }
    }

    /// Sends a full, correct result for `shard` and returns the actions (ends with stageCommit).
    func result(_ core: inout CoordinatorCore, peer: PeerID, inc: UInt64, shard: Int, attempt: Int, now: Double) throws -> [CoordinatorAction] {
        let rows = core.plan.rows(of: shard)
        let values = try SyntheticJob.expectedRows(job: job, rows: rows)
        let bytes = values.withUnsafeBytes { [UInt8]($0) }
        return core.handle(.message(peer, msg(
            .result(chunkIndex: 0, chunkCount: 1, byteOffset: 0, totalBytes: UInt64(bytes.count), totalCRC: CRC32C.checksum(bytes), bytes: bytes),
            .result, inc: inc, shard: shard, attempt: attempt)), now: now)
    }

    func staged(_ actions: [CoordinatorAction]) -> [StagedCommit] {
        actions.compactMap { if case .stageCommit(let c) = $0 { return c } else { return nil } }
    }

    @Test func helloGetsWelcomeThenWork() throws {
        var core = try makeCore()
        let actions = hello(&core, peer: [1], inc: 10, credit: 2)
        let firstSend = actions.first { if case .send = $0 { return true } else { return false } }
        guard case .send(_, let welcome) = firstSend, case .welcome = welcome.body else {
            Issue.record("expected WELCOME first, got \(actions)")
            return
        }
        #expect(assigns(actions).map(\.1) == [0, 1])
    }

    @Test func verifiedResultIsWrittenStagedThenAckedAfterDurability() throws {
        var core = try makeCore()
        _ = hello(&core, peer: [1], inc: 10)
        let actions = try result(&core, peer: [1], inc: 10, shard: 0, attempt: 1, now: 1)
        guard case .write(0, 0, let bytes) = actions.first else {
            Issue.record("expected a write at row 0, got \(actions)")
            return
        }
        #expect(bytes.count == 10 * 4 * 4)
        let commits = staged(actions)
        #expect(commits.count == 1)
        #expect(core.status(of: 0) == .committing)
        let after = core.handle(.commitsDurable(commits), now: 1.1)
        #expect(core.status(of: 0) == .committed)
        #expect(after.contains { if case .send(_, let m) = $0, case .ack(.max, .committed) = m.body { return true } else { return false } })
        // The worker's credit was freed when the result was complete: its next shard went out before the fsync.
        #expect(assigns(actions).map(\.1) == [1])
        #expect(assigns(after).isEmpty)
    }

    @Test func badChecksumIsRejectedAndRequeued() throws {
        var core = try makeCore()
        _ = hello(&core, peer: [1], inc: 10)
        _ = hello(&core, peer: [2], inc: 20)
        let bytes = [UInt8](repeating: 0, count: 160)
        let actions = core.handle(.message([1], msg(
            .result(chunkIndex: 0, chunkCount: 1, byteOffset: 0, totalBytes: 160, totalCRC: 1234, bytes: bytes), .result, inc: 10, shard: 0, attempt: 1)), now: 1)
        #expect(staged(actions).isEmpty)
        #expect(actions.contains { if case .send(_, let m) = $0, case .ack(_, .rejected) = m.body { return true } else { return false } })
        #expect(core.status(of: 0) != .committed && core.status(of: 0) != .poisoned)
        // Never given back to the worker that just failed it.
        #expect(!assigns(actions).contains { $0.0 == [1] && $0.1 == 0 })
    }

    @Test func nonFiniteResultIsRejected() throws {
        var core = try makeCore()
        _ = hello(&core, peer: [1], inc: 10)
        var values = [Float](repeating: 1, count: 40)
        values[7] = .nan
        let bytes = values.withUnsafeBytes { [UInt8]($0) }
        let actions = core.handle(.message([1], msg(
            .result(chunkIndex: 0, chunkCount: 1, byteOffset: 0, totalBytes: 160, totalCRC: CRC32C.checksum(bytes), bytes: bytes), .result, inc: 10, shard: 0, attempt: 1)), now: 1)
        #expect(staged(actions).isEmpty)
    }

    @Test func silentWorkerLosesItsLeaseAfterFiveSeconds() throws {
        var core = try makeCore()
        _ = hello(&core, peer: [1], inc: 10)
        _ = core.handle(.message([1], msg(.heartbeat(rowsDone: 3, held: 1, rssBytes: 0), .heartbeat, inc: 10, shard: 0)), now: 1)
        _ = core.handle(.tick, now: 5.9)
        #expect(core.workerCount == 1)
        _ = core.handle(.tick, now: 6.2)
        #expect(core.workerCount == 0)
        #expect(core.deaths(of: 0) == 1)
        #expect(core.status(of: 0) == .pending)
        // A new worker picks it up (attempt 2).
        let actions = hello(&core, peer: [2], inc: 20, now: 6.3)
        #expect(assigns(actions).first.map { [$0.1, $0.2] } == [0, 2])
    }

    @Test func shardThatKillsTwoWorkersIsIsolated() throws {
        var core = try makeCore()
        var actions: [CoordinatorAction] = []
        var now = 0.0
        for (i, inc) in [UInt64(10), 20].enumerated() {
            let peer: PeerID = [UInt8(i + 1)]
            _ = hello(&core, peer: peer, inc: inc, now: now)
            _ = core.handle(.message(peer, msg(.heartbeat(rowsDone: 0, held: 1, rssBytes: 0), .heartbeat, inc: inc, shard: 0)), now: now)
            now += 6
            actions = core.handle(.tick, now: now)
        }
        #expect(core.status(of: 0) == .poisoned)
        #expect(actions.contains { if case .journal(.poison(shard: 0, _)) = $0 { return true } else { return false } })
        // The rest completes; the run finishes with shard 0 named.
        _ = hello(&core, peer: [9], inc: 90, credit: 4, now: now)
        var finished: [Int]?
        for s in 1..<4 {
            let a = try result(&core, peer: [9], inc: 90, shard: s, attempt: core.attempts(of: s), now: now)
            for act in core.handle(.commitsDurable(staged(a)), now: now) {
                if case .finished(let p) = act { finished = p }
            }
        }
        #expect(finished == [0])
    }

    @Test func pausedWorkerThatComesBackIsNotBlamed() throws {
        var core = try makeCore()
        _ = hello(&core, peer: [1], inc: 10, pid: 500)
        _ = core.handle(.message([1], msg(.heartbeat(rowsDone: 1, held: 1, rssBytes: 0), .heartbeat, inc: 10, shard: 0)), now: 0.5)
        _ = core.handle(.tick, now: 6)  // SIGSTOP: lease expired, shard 0 blamed
        #expect(core.deaths(of: 0) == 1)
        _ = hello(&core, peer: [7], inc: 11, now: 9, pid: 500)  // SIGCONT: same process, new session
        #expect(core.deaths(of: 0) == 0)
    }

    @Test func lateDuplicateIsAckedAndDropped() throws {
        var core = try makeCore()
        _ = hello(&core, peer: [1], inc: 10)
        _ = core.handle(.tick, now: 6)  // worker 1 silent → lease expired, shard 0 re-queued
        _ = hello(&core, peer: [2], inc: 20, now: 6)
        let a = try result(&core, peer: [2], inc: 20, shard: 0, attempt: 2, now: 7)
        _ = core.handle(.commitsDurable(staged(a)), now: 7)
        // Worker 1 wakes up (SIGCONT) and delivers its stale copy: no second commit.
        let late = try result(&core, peer: [1], inc: 10, shard: 0, attempt: 1, now: 8)
        #expect(staged(late).isEmpty)
        #expect(core.duplicatesDropped == 1)
        #expect(late.contains { if case .send(_, let m) = $0, case .disconnect(.reregister, _) = m.body { return true } else { return false } })
    }

    @Test func stalledProgressIsCancelledAndRequeued() throws {
        var core = try makeCore { $0.stallTimeoutMinimum = 10 }
        _ = hello(&core, peer: [1], inc: 10)
        _ = hello(&core, peer: [2], inc: 20)
        var actions: [CoordinatorAction] = []
        for t in stride(from: 1.0, through: 12, by: 1) {
            _ = core.handle(.message([1], msg(.heartbeat(rowsDone: 2, held: 1, rssBytes: 0), .heartbeat, inc: 10, shard: 0)), now: t)
            _ = core.handle(.message([2], msg(.heartbeat(rowsDone: UInt32(t), held: 1, rssBytes: 0), .heartbeat, inc: 20, shard: 1)), now: t)
            actions += core.handle(.tick, now: t)
        }
        #expect(actions.contains { if case .send([1], let m) = $0, case .cancel = m.body { return m.header.shard == 0 } else { return false } })
        #expect(!actions.contains { if case .send([2], let m) = $0, case .cancel = m.body { return true } else { return false } })
    }

    @Test func failedShardGoesToAnotherWorkerAndStopsAfterMaxAttempts() throws {
        var core = try makeCore { $0.maxAttempts = 2 }
        _ = hello(&core, peer: [1], inc: 10)
        _ = hello(&core, peer: [2], inc: 20)
        // Worker 1 holds shard 0, worker 2 shard 1.
        let a = core.handle(.message([1], msg(.fail(failureClass: .computation, sampleRow: 3, message: "bad"), .fail, inc: 10, shard: 0, attempt: 1)), now: 1)
        #expect(!assigns(a).contains { $0.1 == 0 })  // worker 1 just failed it; worker 2 is busy
        let b = try result(&core, peer: [2], inc: 20, shard: 1, attempt: 1, now: 2)
        let c = core.handle(.commitsDurable(staged(b)), now: 2)
        #expect(assigns(b + c).contains { $0.0 == [2] && $0.1 == 0 && $0.2 == 2 })
        let d = core.handle(.message([2], msg(.fail(failureClass: .computation, sampleRow: 3, message: "bad"), .fail, inc: 20, shard: 0, attempt: 2)), now: 3)
        #expect(core.status(of: 0) == .poisoned)
        #expect(d.contains { if case .journal(.poison(shard: 0, _)) = $0 { return true } else { return false } })
    }

    /// With one worker connected, a failed shard is retried on it (no other worker may ever come) until it is
    /// poisoned, so the run ends instead of waiting forever (seen: a multi-layer ablation hung on --workers 1).
    @Test func loneWorkerRetriesItsFailedShardUntilPoisoned() throws {
        var core = try makeCore { $0.maxAttempts = 2 }
        _ = hello(&core, peer: [1], inc: 10)
        let a = core.handle(.message([1], msg(.fail(failureClass: .computation, sampleRow: 3, message: "bad"), .fail, inc: 10, shard: 0, attempt: 1)), now: 1)
        #expect(assigns(a).contains { $0.0 == [1] && $0.1 == 0 && $0.2 == 2 })
        _ = core.handle(.message([1], msg(.fail(failureClass: .computation, sampleRow: 3, message: "bad"), .fail, inc: 10, shard: 0, attempt: 2)), now: 2)
        #expect(core.status(of: 0) == .poisoned)
    }

    /// Workers that say goodbye (scale-down, SIGTERM) hand their shards back: re-queued at once, never blamed,
    /// and the copies do not use up the shard's attempts.
    @Test func goodbyeHandsShardsBackWithoutUsingAttempts() throws {
        var core = try makeCore { $0.maxAttempts = 2 }
        for round in 0..<5 {
            let inc = UInt64(100 + round)
            let joined = hello(&core, peer: [UInt8(round)], inc: inc)
            #expect(assigns(joined).map(\.1) == [0], "round \(round)")
            let left = core.handle(.message([UInt8(round)], msg(.disconnect(reason: .goodbye, message: "stopping"), .disconnect, inc: inc)), now: Double(round))
            #expect(left.contains { if case .log(let line) = $0 { return line.contains("left (goodbye)") } else { return false } })
            #expect(core.status(of: 0) == .pending)
        }
        #expect(core.attempts(of: 0) == 5 && core.deaths(of: 0) == 0)
        #expect(core.status(now: 5).workersLost == 0)
    }

    @Test func statusListsWorkersWithMemoryAndCommits() throws {
        var core = try makeCore()
        _ = hello(&core, peer: [1], inc: 10, credit: 1)
        _ = core.handle(.message([1], msg(.heartbeat(rowsDone: 3, held: 1, rssBytes: 123_000_000), .heartbeat, inc: 10, shard: 0)), now: 0.5)
        var details = try #require(core.status(now: 1).workerDetails)
        #expect(details.count == 1 && details[0].rssBytes == 123_000_000 && details[0].computing == 0 && details[0].rowsDone == 3)
        let r = try result(&core, peer: [1], inc: 10, shard: 0, attempt: 1, now: 1)
        _ = core.handle(.commitsDurable(staged(r)), now: 1.2)
        details = try #require(core.status(now: 2).workerDetails)
        #expect(details[0].shardsCommitted == 1 && details[0].held == 1)
        #expect(abs(details[0].silentSeconds - 1) < 1e-9)
        #expect(core.status(now: 2).workerLines.first?.contains("RSS 123 MB") == true)
    }

    /// Workers kept for a next job of the same coordinator get no DISCONNECT(done) when the run completes.
    @Test func finishedRunDismissesWorkersUnlessTheyAreKept() throws {
        for dismiss in [true, false] {
            var core = try makeCore({ $0.dismissWorkersAtEnd = dismiss }, committed: [1, 2, 3])
            _ = hello(&core, peer: [1], inc: 10)
            let r = try result(&core, peer: [1], inc: 10, shard: 0, attempt: 1, now: 1)
            let end = core.handle(.commitsDurable(staged(r)), now: 1)
            #expect(end.contains { if case .finished = $0 { return true } else { return false } })
            let saidDone = end.contains { if case .send(_, let m) = $0, case .disconnect(.done, _) = m.body { return true } else { return false } }
            #expect(saidDone == dismiss)
        }
    }

    @Test func resumedCoreOnlyAssignsUncommittedShards() throws {
        var core = try makeCore(committed: [0, 2])
        let actions = hello(&core, peer: [1], inc: 10, credit: 4)
        #expect(assigns(actions).map(\.1) == [1, 3])
    }

    @Test func chunkedResultNeedsEveryChunkInOrder() throws {
        var core = try makeCore { $0.chunkBytes = 70 }  // rounded down to 4 rows = 64 bytes
        _ = hello(&core, peer: [1], inc: 10)
        let values = try SyntheticJob.expectedRows(job: job, rows: 0..<10)
        let bytes = values.withUnsafeBytes { [UInt8]($0) }  // 160 bytes → 3 chunks of ≤ 64
        let crc = CRC32C.checksum(bytes)
        var acks = 0
        var commits: [StagedCommit] = []
        for (i, start) in stride(from: 0, to: 160, by: 64).enumerated() {
            let chunk = Array(bytes[start..<min(start + 64, 160)])
            let a = core.handle(.message([1], msg(
                .result(chunkIndex: UInt32(i), chunkCount: 3, byteOffset: UInt64(start), totalBytes: 160, totalCRC: crc, bytes: chunk),
                .result, inc: 10, shard: 0, attempt: 1)), now: 1)
            acks += a.filter { if case .send(_, let m) = $0, case .ack(_, .chunkReceived) = m.body { return true } else { return false } }.count
            commits += staged(a)
        }
        #expect(acks == 2)
        #expect(commits.count == 1)
    }

    @Test func stragglerGetsOneBackupLateInTheRun() throws {
        let bigJob = try SyntheticJob.job(rows: 80, columns: 4, shardSize: 10)  // 8 shards
        var core = try CoordinatorCore(job: bigJob, runId: runId, epoch: 1)
        _ = hello(&core, peer: [1], inc: 10)
        _ = hello(&core, peer: [2], inc: 20)
        var now = 0.0
        // Worker 2 sits on its first shard; worker 1 finishes the others quickly.
        let slowShard = core.heldShards(peer: [2]).first!
        while core.committedCount < 7 {
            now += 1
            _ = core.handle(.message([2], msg(.heartbeat(rowsDone: UInt32(now), held: 1, rssBytes: 0), .heartbeat, inc: 20, shard: slowShard)), now: now)
            guard let s = core.heldShards(peer: [1]).first else { break }
            let values = try SyntheticJob.expectedRows(job: bigJob, rows: core.plan.rows(of: s))
            let bytes = values.withUnsafeBytes { [UInt8]($0) }
            let a = core.handle(.message([1], msg(
                .result(chunkIndex: 0, chunkCount: 1, byteOffset: 0, totalBytes: UInt64(bytes.count), totalCRC: CRC32C.checksum(bytes), bytes: bytes),
                .result, inc: 10, shard: s, attempt: core.attempts(of: s))), now: now)
            _ = core.handle(.commitsDurable(staged(a)), now: now)
        }
        #expect(core.backups == 1)
        #expect(core.heldShards(peer: [1]) == [slowShard])
    }

    /// Issue 16: a RESULT stamped with another coordinator epoch is never written or committed, even from a
    /// known incarnation holding the shard's lease; the worker is sent away to say HELLO again, unblamed.
    @Test func resultOfAnotherEpochIsNotCommitted() throws {
        var core = try makeCore()
        _ = hello(&core, peer: [1], inc: 10)
        let rows = core.plan.rows(of: 0)
        let bytes = try SyntheticJob.expectedRows(job: job, rows: rows).withUnsafeBytes { [UInt8]($0) }
        for stale in [UInt32(0), 2] {
            var m = msg(
                .result(chunkIndex: 0, chunkCount: 1, byteOffset: 0, totalBytes: UInt64(bytes.count), totalCRC: CRC32C.checksum(bytes), bytes: bytes),
                .result, inc: 10, shard: 0, attempt: 1)
            m.header.epoch = stale
            let actions = core.handle(.message([1], m), now: 1)
            #expect(staged(actions).isEmpty)
            #expect(!actions.contains { if case .write = $0 { return true } else { return false } })
            #expect(actions.contains { if case .send(_, let d) = $0, case .disconnect(.reregister, _) = d.body { return true } else { return false } })
            #expect(core.status(of: 0) == .pending)
            #expect(core.deaths(of: 0) == 0)
            _ = hello(&core, peer: [1], inc: 10, now: 1)
        }
        // With the right epoch the same bytes are committed.
        let actions = try result(&core, peer: [1], inc: 10, shard: 0, attempt: 3, now: 2)
        #expect(staged(actions).count == 1)
    }

    /// A RESULT for a shard the sender holds no lease on (never assigned, or another attempt) is dropped.
    @Test func resultWithoutALeaseIsDropped() throws {
        var core = try makeCore()
        _ = hello(&core, peer: [1], inc: 10)
        #expect(staged(try result(&core, peer: [1], inc: 10, shard: 3, attempt: 1, now: 1)).isEmpty)
        #expect(staged(try result(&core, peer: [1], inc: 10, shard: 0, attempt: 2, now: 1)).isEmpty)
        #expect(core.status(of: 3) == .pending)
    }

    /// A peer's host name reaches log lines and status.json only escaped: one line, no terminal controls.
    @Test func peerHostNamesAreEscaped() throws {
        var core = try makeCore()
        let host = "evil\n2026-01-01 worker joined\u{1B}[31m\u{202E}\\"
        let actions = core.handle(.message([1], msg(.hello(credit: 1, threads: 1, pid: 5, host: host), .hello, inc: 10)), now: 0)
        let lines = actions.compactMap { if case .log(let l) = $0 { return l } else { return nil } }
        #expect(!lines.isEmpty)
        for line in lines + (core.status(now: 0).workerDetails ?? []).map(\.name) {
            #expect(!line.unicodeScalars.contains { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format }, "\(line.debugDescription)")
        }
        #expect(lines[0].contains("evil\\u{a}2026-01-01 worker joined\\u{1b}[31m\\u{202e}\\\\:5"), "\(lines[0])")
        #expect(PeerText.escaped(String(repeating: "a", count: 1000)).count == PeerText.maxScalars + 1)
    }
}
