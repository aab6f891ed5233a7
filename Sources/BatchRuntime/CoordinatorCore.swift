import Foundation

/// A ROUTER routing id: opaque bytes naming one worker connection.
public typealias PeerID = [UInt8]

/// Something that happened to the coordinator. `now` is monotonic seconds, passed with each event.
public enum CoordinatorEvent: Sendable {
    /// A decoded message from a peer.
    case message(PeerID, WireMessage)
    /// Time passed (the driver ticks about every 100 ms): lease expiry, stalls, heartbeats.
    case tick
    /// The staged commits are durable (matrix fdatasync'd, COMMIT records fsync'd).
    case commitsDurable([StagedCommit])
    /// A send to this peer failed (ROUTER_MANDATORY: its connection is gone, e.g. the process was killed).
    case peerUnreachable(PeerID)
}

/// A verified result waiting for its durability barrier.
public struct StagedCommit: Sendable, Equatable {
    public var shard: Int
    public var attempt: Int
    public var crc: UInt32
    public var peer: PeerID
    public var incarnation: UInt64
    public var worker: String
}

/// What the driver must do, in order.
public enum CoordinatorAction: Sendable, Equatable {
    /// Send a message to a peer.
    case send(PeerID, WireMessage)
    /// Read the shard's samples and send ASSIGN(shard, attempt) to the peer.
    case assign(PeerID, shard: Int, attempt: Int, incarnation: UInt64)
    /// Send MODEL_DATA from `offset` to the peer.
    case sendModel(PeerID, offset: UInt64, incarnation: UInt64)
    /// Send the STATUS reply to the peer.
    case sendStatus(PeerID, incarnation: UInt64)
    /// pwrite verified whole rows (float32 LE) starting at matrix row `row`.
    case write(shard: Int, row: Int, bytes: [UInt8])
    /// fdatasync the matrix, append COMMIT, fsync, then feed `.commitsDurable` back.
    case stageCommit(StagedCommit)
    /// Append (and fsync) a journal record now.
    case journal(JournalRecord)
    /// Every shard is committed or poisoned; DISCONNECT(done) has been sent to every worker (unless
    /// `config.dismissWorkersAtEnd` is false: the driver keeps them for a next job).
    case finished(poisoned: [Int])
    /// A line for the coordinator log.
    case log(String)
}

/// The coordinator as a pure state machine: events in, actions out; no sockets, no files, no clock.
///
/// Invariants: a shard is committed at most once; a copy (shard, attempt) is held by at most one worker; a
/// worker never holds more copies than its HELLO credit; every copy ends in commit, FAIL, lease expiry, stall
/// cancel or cancel-after-commit. Not thread-safe: owned by the driver thread.
public struct CoordinatorCore {
    public enum ShardStatus: Sendable, Equatable { case pending, running, committing, committed, poisoned }

    struct Shard {
        var status: ShardStatus = .pending
        var attempts = 0
        /// Copies handed back unfinished by a worker that said goodbye (scale-down, SIGTERM): they do not count
        /// towards `maxAttempts`, the shard did nothing wrong.
        var returned = 0
        /// Attempts that count towards `maxAttempts`.
        var chargedAttempts: Int { attempts - returned }
        var deaths = 0
        var failures = 0
        var lastFailedBy: UInt64?
        var copies: [UInt64: (attempt: Int, startedAt: Double)] = [:]  // by worker incarnation
        var backupIssued = false
    }

    struct Partial {
        var attempt: Int
        var nextChunk: UInt32 = 0
        var bytes: UInt64 = 0
        var crc: UInt32 = 0
        var chunkCount: UInt32
        var totalCRC: UInt32
    }

    struct Worker {
        var peer: PeerID
        var incarnation: UInt64
        var name: String
        /// "host:pid" of the worker process (stable across its reconnections).
        var process: String
        var credit: Int
        var held: [Int: Int] = [:]  // shard → attempt
        var computing: Int?
        var rowsDone: UInt32 = 0
        var rssBytes: UInt64 = 0
        var committed = 0
        var lastProgressAt: Double
        var lastSeen: Double
        var lastSent: Double
        var partials: [Int: Partial] = [:]
    }

    public let config: CoordinatorConfig
    public let job: JobSpec
    public let plan: ShardPlan
    public let runId: UInt64
    public let epoch: UInt32
    let jobJSON: [UInt8]
    /// Bytes per RESULT chunk sent in WELCOME: `config.chunkBytes` rounded down to whole rows (at least one row),
    /// so every chunk is written as whole rows.
    public let chunkBytes: Int
    let rowBytes: Int

    private(set) var shards: [Shard]
    private var queue: [Int] = []
    private var queueHead = 0
    private var retryQueue: [Int] = []
    private var workers: [PeerID: Worker] = [:]
    private var durations: [Double] = []
    /// Shards blamed for the death of a worker process ("host:pid"). If that process says HELLO again it was
    /// paused or cut off, not killed by the shard, so the blame is withdrawn (a SIGSTOP is not a poison sign).
    private var blamedBy: [String: [Int]] = [:]
    private var finishedEmitted = false
    private var startTime: Double?
    private var commitLog: [(time: Double, rows: Int)] = []

    // Counters for status.
    public private(set) var retries = 0
    public private(set) var backups = 0
    public private(set) var leasesExpired = 0
    public private(set) var workersLost = 0
    public private(set) var duplicatesDropped = 0

    /// - Parameters:
    ///   - committed: shards already committed in the journal (resume).
    ///   - poisoned: shards isolated in the journal and not reset.
    public init(
        job: JobSpec, runId: UInt64, epoch: UInt32, config: CoordinatorConfig = CoordinatorConfig(),
        committed: Set<Int> = [], poisoned: Set<Int> = []
    ) throws {
        self.job = job
        self.plan = ShardPlan(job: job)
        self.runId = runId
        self.epoch = epoch
        self.config = config
        self.jobJSON = Array(try JSONEncoder().encode(job))
        rowBytes = job.columns * 4
        chunkBytes = max(rowBytes, config.chunkBytes / rowBytes * rowBytes)
        shards = Array(repeating: Shard(), count: plan.shardCount)
        for s in 0..<plan.shardCount {
            if committed.contains(s) {
                shards[s].status = .committed
            } else if poisoned.contains(s) {
                shards[s].status = .poisoned
            } else {
                queue.append(s)
            }
        }
    }

    // MARK: Queries

    public func status(of shard: Int) -> ShardStatus { shards[shard].status }
    public var workerCount: Int { workers.count }
    public var committedCount: Int { shards.lazy.filter { $0.status == .committed }.count }
    public var poisonedShards: [Int] { shards.indices.filter { shards[$0].status == .poisoned } }
    public func attempts(of shard: Int) -> Int { shards[shard].attempts }
    public func deaths(of shard: Int) -> Int { shards[shard].deaths }
    public var isFinished: Bool { shards.allSatisfy { $0.status == .committed || $0.status == .poisoned } }
    /// Connected workers (routing id, incarnation), for a shutdown broadcast.
    public var connectedPeers: [(peer: PeerID, incarnation: UInt64)] { workers.values.map { ($0.peer, $0.incarnation) } }
    public func heldShards(peer: PeerID) -> [Int] { workers[peer].map { Array($0.held.keys).sorted() } ?? [] }

    /// Progress for status.json / STATUS.
    public func status(now: Double, state: String? = nil) -> RunStatus {
        let done = committedCount
        let inFlight = shards.lazy.filter { $0.status == .running || $0.status == .committing }.count
        let failed = poisonedShards
        let rowsDone = shards.indices.reduce(0) { $0 + (shards[$1].status == .committed ? plan.rows(of: $1).count : 0) }
        let window = commitLog.filter { now - $0.time <= 10 }
        var rate = 0.0
        if let first = window.first, let start = startTime {
            let span = max(now - max(first.time, start) , 0.5)
            rate = Double(window.reduce(0) { $0 + $1.rows }) / max(span, min(10, now - start))
        }
        let remaining = plan.rowCount - rowsDone - failed.reduce(0) { $0 + plan.rows(of: $1).count }
        let eta: Double? = rate > 0 ? Double(remaining) / rate : nil
        let st = state ?? (isFinished ? (failed.isEmpty ? "done" : "failed-shards") : "running")
        return RunStatus(
            state: st, runId: String(runId, radix: 16), epoch: epoch, shardsTotal: plan.shardCount, shardsDone: done,
            shardsInFlight: inFlight, shardsPending: plan.shardCount - done - inFlight - failed.count,
            shardsFailed: failed, workers: workers.count, rowsDone: rowsDone, rowsTotal: plan.rowCount,
            rowsPerSecond: rate, etaSeconds: eta, retries: retries, backups: backups, leasesExpired: leasesExpired, workersLost: workersLost,
            duplicatesDropped: duplicatesDropped, workerDetails: workerDetails(now: now))
    }

    func workerDetails(now: Double) -> [WorkerStatus] {
        workers.values.map { w in
            WorkerStatus(
                name: w.name, computing: w.computing, rowsDone: Int(w.rowsDone), held: w.held.count, shardsCommitted: w.committed,
                rssBytes: w.rssBytes, silentSeconds: max(0, now - w.lastSeen))
        }.sorted { $0.name < $1.name }
    }

    // MARK: Events

    public mutating func handle(_ event: CoordinatorEvent, now: Double) -> [CoordinatorAction] {
        if startTime == nil { startTime = now }
        var out: [CoordinatorAction] = []
        switch event {
        case .message(let peer, let message): receive(message, from: peer, now: now, &out)
        case .tick: tick(now: now, &out)
        case .commitsDurable(let commits): durable(commits, now: now, &out)
        case .peerUnreachable(let peer):
            if let w = workers[peer] {
                workersLost += 1
                out.append(.log("lost worker \(w.name) (connection dropped); re-queueing \(w.held.keys.sorted())"))
                dropWorker(peer, blame: true, now: now, &out)
            }
        }
        assignWork(now: now, &out)
        checkFinished(&out)
        return out
    }

    /// Actions to run once at start (a resumed run may already be complete).
    public mutating func start(now: Double) -> [CoordinatorAction] {
        startTime = now
        var out: [CoordinatorAction] = []
        checkFinished(&out)
        return out
    }

    private func header(_ type: MessageType, shard: Int? = nil, attempt: Int = 0, incarnation: UInt64) -> WireHeader {
        WireHeader(
            type: type, runId: runId, epoch: epoch, shard: shard.map { UInt32($0) } ?? WireProtocol.noShard,
            incarnation: incarnation, attempt: UInt32(attempt))
    }

    private mutating func send(_ peer: PeerID, _ message: WireMessage, now: Double, _ out: inout [CoordinatorAction]) {
        workers[peer]?.lastSent = now
        out.append(.send(peer, message))
    }

    private mutating func receive(_ m: WireMessage, from peer: PeerID, now: Double, _ out: inout [CoordinatorAction]) {
        let inc = m.header.incarnation
        switch m.body {
        case .statusRequest:
            out.append(.sendStatus(peer, incarnation: inc))
            return
        case .hello(let credit, let threads, let pid, let host):
            if workers[peer] != nil { dropWorker(peer, blame: false, now: now, &out) }
            let process = "\(PeerText.escaped(host)):\(pid)"
            let name = "\(process)#\(String(inc, radix: 16).prefix(8))"
            for s in blamedBy.removeValue(forKey: process) ?? [] where shards[s].status != .poisoned && shards[s].deaths > 0 {
                shards[s].deaths -= 1
                out.append(.log("worker process \(process) is back: shard \(s) is no longer blamed for its loss"))
            }
            workers[peer] = Worker(
                peer: peer, incarnation: inc, name: name, process: process, credit: Int(credit), lastProgressAt: now, lastSeen: now,
                lastSent: now)
            out.append(.log("worker \(name) joined (credit \(credit), \(threads) threads)"))
            let welcome = WireMessage(
                header: header(.welcome, incarnation: inc),
                body: .welcome(
                    heartbeatMs: UInt32(config.heartbeatInterval * 1000), leaseMs: UInt32(config.leaseTimeout * 1000),
                    chunkBytes: UInt32(chunkBytes), maxChunksInFlight: UInt32(config.maxChunksInFlight),
                    job: jobJSON))
            send(peer, welcome, now: now, &out)
            return
        default:
            break
        }
        guard m.header.runId == runId else {
            send(peer, WireMessage(
                header: header(.disconnect, incarnation: inc),
                body: .disconnect(reason: .reregister, message: "this coordinator runs another run; send HELLO")), now: now, &out)
            return
        }
        guard var worker = workers[peer], worker.incarnation == inc else {
            if case .result = m.body, let s = m.header.shardIndex, s < shards.count, shards[s].status == .committed {
                duplicatesDropped += 1
                out.append(.log("dropped a late result for committed shard \(s) from an expired worker"))
            }
            if case .disconnect = m.body { return }
            send(peer, WireMessage(
                header: header(.disconnect, incarnation: inc),
                body: .disconnect(reason: .reregister, message: "unknown worker (lease expired or coordinator restarted); send HELLO")),
                now: now, &out)
            return
        }
        guard m.header.epoch == epoch else {
            // Stamped for another coordinator incarnation: nothing in it is used (a RESULT is never committed).
            out.append(.log("dropped \(m.header.type) of epoch \(m.header.epoch) from \(worker.name) (this coordinator is epoch \(epoch)); it must send HELLO again"))
            if case .disconnect = m.body {} else {
                send(peer, WireMessage(
                    header: header(.disconnect, incarnation: inc),
                    body: .disconnect(reason: .reregister, message: "epoch \(m.header.epoch) is not this coordinator's epoch \(epoch); send HELLO")),
                    now: now, &out)
            }
            dropWorker(peer, blame: false, now: now, &out)
            return
        }
        worker.lastSeen = now
        workers[peer] = worker
        switch m.body {
        case .heartbeat(let rowsDone, _, let rss):
            let computing = m.header.shardIndex
            if rss > 0 { workers[peer]!.rssBytes = rss }
            if computing != worker.computing || rowsDone != worker.rowsDone {
                workers[peer]!.lastProgressAt = now
            }
            workers[peer]!.computing = computing
            workers[peer]!.rowsDone = rowsDone
        case .modelRequest(let offset, let hash):
            guard hash == job.modelHash else {
                protocolError(peer, "MODEL_REQUEST for an unknown model hash", now: now, &out)
                return
            }
            out.append(.sendModel(peer, offset: offset, incarnation: inc))
        case .result(let index, let count, let offset, let total, let totalCRC, let bytes):
            receiveChunk(
                peer: peer, shard: m.header.shardIndex, attempt: Int(m.header.attempt), index: index, count: count,
                offset: offset, total: total, totalCRC: totalCRC, bytes: bytes, bodyCRC: m.bodyCRC, now: now, &out)
        case .fail(let cls, let row, let peerText):
            guard let s = m.header.shardIndex, worker.held[s] == Int(m.header.attempt) else { return }
            let text = PeerText.escaped(peerText, limit: PeerText.maxScalars * 4)
            out.append(.log("shard \(s) failed on \(worker.name) (\(cls), row \(row)): \(text)"))
            release(peer, shard: s)
            shards[s].failures += 1
            shards[s].lastFailedBy = inc
            copyEnded(s, reason: "failed: \(text)", now: now, &out)
        case .disconnect(let reason, _):
            let held = worker.held.keys.sorted()
            out.append(.log("worker \(worker.name) left (\(reason))" + (held.isEmpty ? "" : "; re-queueing \(held)")))
            // A goodbye hands its unfinished copies back: they are not failures of the shard.
            if reason == .goodbye { for s in held { shards[s].returned += 1 } }
            dropWorker(peer, blame: false, now: now, &out)
        case .hello, .statusRequest:
            break
        case .welcome, .modelData, .assign, .ack, .cancel, .status:
            protocolError(peer, "\(m.header.type) is a coordinator-to-worker message", now: now, &out)
        }
    }

    private mutating func protocolError(_ peer: PeerID, _ text: String, now: Double, _ out: inout [CoordinatorAction]) {
        let inc = workers[peer]?.incarnation ?? 0
        out.append(.log("protocol error from \(workers[peer]?.name ?? "unknown peer"): \(text)"))
        send(peer, WireMessage(header: header(.disconnect, incarnation: inc), body: .disconnect(reason: .protocolError, message: text)), now: now, &out)
        dropWorker(peer, blame: false, now: now, &out)
    }

    private mutating func receiveChunk(
        peer: PeerID, shard: Int?, attempt: Int, index: UInt32, count: UInt32, offset: UInt64, total: UInt64,
        totalCRC: UInt32, bytes: [UInt8], bodyCRC: UInt32?, now: Double, _ out: inout [CoordinatorAction]
    ) {
        guard let worker = workers[peer] else { return }
        let inc = worker.incarnation
        func ack(_ chunk: UInt32, _ status: AckStatus) -> WireMessage {
            WireMessage(header: header(.ack, shard: shard, attempt: attempt, incarnation: inc), body: .ack(chunkIndex: chunk, status: status))
        }
        guard let s = shard, s < shards.count else {
            protocolError(peer, "RESULT for a shard that does not exist", now: now, &out)
            return
        }
        guard worker.held[s] == attempt, shards[s].status == .running else {
            // Cancelled copy, or the shard is already committed: drop it, tell the worker to stop sending.
            duplicatesDropped += index == 0 ? 1 : 0
            send(peer, ack(.max, .duplicate), now: now, &out)
            return
        }
        var partial = worker.partials[s] ?? Partial(attempt: attempt, chunkCount: count, totalCRC: totalCRC)
        let expectedTotal = UInt64(plan.resultBytes(of: s))
        var problem: String?
        if total != expectedTotal {
            problem = "result of \(total) bytes, expected \(expectedTotal) (\(plan.rows(of: s).count)×\(plan.columns) float32)"
        } else if index != partial.nextChunk || offset != partial.bytes || count != partial.chunkCount
            || totalCRC != partial.totalCRC
        {
            problem = "chunk \(index) at \(offset) out of sequence"
        } else if bytes.count > chunkBytes || bytes.count % rowBytes != 0 || offset % UInt64(rowBytes) != 0 {
            problem = "chunk of \(bytes.count) bytes at \(offset) is not whole rows within \(chunkBytes) bytes"
        } else if !Self.allFinite(bytes) {
            problem = "non-finite values in the result"
        }
        if problem == nil {
            // The decoder already computed the chunk's CRC: extend the running CRC without another pass.
            partial.crc = CRC32C.combine(partial.crc, bodyCRC ?? CRC32C.checksum(bytes), lengthB: bytes.count)
            partial.bytes += UInt64(bytes.count)
            partial.nextChunk += 1
            if index + 1 == count, partial.bytes != total || partial.crc != totalCRC {
                problem = "result checksum mismatch"
            }
        }
        if let problem {
            out.append(.log("rejected shard \(s) attempt \(attempt) from \(worker.name): \(problem)"))
            send(peer, ack(.max, .rejected), now: now, &out)
            release(peer, shard: s)
            shards[s].failures += 1
            shards[s].lastFailedBy = inc
            copyEnded(s, reason: "rejected result: \(problem)", now: now, &out)
            return
        }
        out.append(.write(shard: s, row: plan.rows(of: s).lowerBound + Int(offset) / rowBytes, bytes: bytes))
        if index + 1 == count {
            // The copy is complete: free the worker's credit now, so it gets new work while the commit is fsync'd.
            if let started = shards[s].copies[inc]?.startedAt { durations.append(now - started) }
            release(peer, shard: s)
            shards[s].status = .committing
            out.append(.stageCommit(StagedCommit(shard: s, attempt: attempt, crc: partial.crc, peer: peer, incarnation: inc, worker: worker.name)))
        } else {
            workers[peer]!.partials[s] = partial
            send(peer, ack(index, .chunkReceived), now: now, &out)
        }
    }

    static func allFinite(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            let words = raw.bindMemory(to: UInt32.self)
            for w in words where w & 0x7F80_0000 == 0x7F80_0000 { return false }
            return true
        }
    }

    private mutating func durable(_ commits: [StagedCommit], now: Double, _ out: inout [CoordinatorAction]) {
        for c in commits where shards[c.shard].status == .committing {
            shards[c.shard].status = .committed
            commitLog.append((now, plan.rows(of: c.shard).count))
            for (inc, copy) in shards[c.shard].copies where inc != c.incarnation {
                if let peer = workers.first(where: { $0.value.incarnation == inc })?.key {
                    send(peer, WireMessage(header: header(.cancel, shard: c.shard, attempt: copy.attempt, incarnation: inc), body: .cancel(reason: 0)), now: now, &out)
                    release(peer, shard: c.shard)
                }
            }
            shards[c.shard].copies = [:]
            if workers[c.peer]?.incarnation == c.incarnation {
                workers[c.peer]!.committed += 1
                send(c.peer, WireMessage(
                    header: header(.ack, shard: c.shard, attempt: c.attempt, incarnation: c.incarnation),
                    body: .ack(chunkIndex: .max, status: .committed)), now: now, &out)
            }
        }
        commitLog.removeAll { now - $0.time > 10 }
    }

    /// Removes a copy from a worker (the shard's `copies` entry too).
    private mutating func release(_ peer: PeerID, shard s: Int) {
        guard let w = workers[peer] else { return }
        workers[peer]!.held[s] = nil
        workers[peer]!.partials[s] = nil
        if w.computing == s { workers[peer]!.computing = nil }
        shards[s].copies[w.incarnation] = nil
    }

    /// A copy ended without a commit: re-queue the shard, or isolate it.
    private mutating func copyEnded(_ s: Int, reason: String, now: Double, _ out: inout [CoordinatorAction]) {
        guard shards[s].status == .running || shards[s].status == .committing else { return }
        if shards[s].status == .committing { return }
        guard shards[s].copies.isEmpty else { return }  // another copy still runs
        if shards[s].deaths >= config.poisonDeaths || shards[s].chargedAttempts >= config.maxAttempts {
            let why = shards[s].deaths >= config.poisonDeaths
                ? "killed \(shards[s].deaths) workers" : "failed \(shards[s].chargedAttempts) attempts (last: \(reason))"
            shards[s].status = .poisoned
            out.append(.journal(.poison(shard: s, reason: why)))
            out.append(.log("shard \(s) (rows \(plan.rows(of: s))) isolated: \(why)"))
        } else {
            shards[s].status = .pending
            retries += 1
            retryQueue.append(s)
        }
    }

    private mutating func dropWorker(_ peer: PeerID, blame: Bool, now: Double, _ out: inout [CoordinatorAction]) {
        guard let w = workers[peer] else { return }
        // Blame only the shard being computed (or the oldest held copy when no heartbeat named one yet).
        let oldest = w.held.keys.min { (shards[$0].copies[w.incarnation]?.startedAt ?? 0) < (shards[$1].copies[w.incarnation]?.startedAt ?? 0) }
        let blamed = blame ? (w.computing ?? oldest) : nil
        for s in w.held.keys.sorted() {
            release(peer, shard: s)
            if s == blamed {
                shards[s].deaths += 1
                shards[s].lastFailedBy = w.incarnation
                blamedBy[w.process, default: []].append(s)
            }
            copyEnded(s, reason: s == blamed ? "worker died" : "worker left", now: now, &out)
        }
        workers[peer] = nil
    }

    private mutating func tick(now: Double, _ out: inout [CoordinatorAction]) {
        let stallTimeout = max(config.stallTimeoutMinimum, config.stallMedianMultiple * medianDuration)
        for peer in workers.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            guard let w = workers[peer] else { continue }
            if now - w.lastSeen > config.leaseTimeout {
                leasesExpired += 1
                out.append(.log("lease of \(w.name) expired after \(String(format: "%.1f", now - w.lastSeen)) s of silence; re-queueing \(w.held.keys.sorted())"))
                send(peer, WireMessage(header: header(.disconnect, incarnation: w.incarnation), body: .disconnect(reason: .reregister, message: "lease expired")), now: now, &out)
                dropWorker(peer, blame: true, now: now, &out)
                continue
            }
            if let s = w.computing, w.held[s] != nil, now - w.lastProgressAt > stallTimeout {
                out.append(.log("shard \(s) stalled on \(w.name) for \(Int(now - w.lastProgressAt)) s; cancelling"))
                send(peer, WireMessage(header: header(.cancel, shard: s, attempt: w.held[s]!, incarnation: w.incarnation), body: .cancel(reason: 1)), now: now, &out)
                release(peer, shard: s)
                workers[peer]!.lastProgressAt = now
                shards[s].failures += 1
                shards[s].lastFailedBy = w.incarnation
                copyEnded(s, reason: "stalled", now: now, &out)
            }
            if let w = workers[peer], now - w.lastSent >= config.heartbeatInterval {
                send(peer, WireMessage(header: header(.heartbeat, incarnation: w.incarnation), body: .heartbeat(rowsDone: 0, held: 0, rssBytes: 0)), now: now, &out)
            }
        }
    }

    var medianDuration: Double {
        guard !durations.isEmpty else { return 0 }
        return durations.sorted()[durations.count / 2]
    }

    /// The next shard this worker may take, or nil. A shard that failed goes to another worker than the one it
    /// last failed on, unless that worker is the only one connected: then it retries there (and is poisoned
    /// after `maxAttempts`), so a deterministic failure ends the run instead of waiting for a worker that may
    /// never come.
    private mutating func nextShard(for w: Worker) -> Int? {
        let alone = workers.count <= 1
        if let i = retryQueue.firstIndex(where: { shards[$0].status == .pending && (alone || shards[$0].lastFailedBy != w.incarnation) }) {
            return retryQueue.remove(at: i)
        }
        retryQueue.removeAll { shards[$0].status != .pending }
        var i = queueHead
        while i < queue.count {
            let s = queue[i]
            if shards[s].status != .pending {
                if i == queueHead { queueHead += 1 }
                i += 1
                continue
            }
            if alone || shards[s].lastFailedBy != w.incarnation {
                if i == queueHead { queueHead += 1 } else { queue.remove(at: i) }
                return s
            }
            i += 1
        }
        return nil
    }

    /// A straggler that deserves a backup on worker `w`, if speculation applies.
    private func straggler(for w: Worker, now: Double) -> Int? {
        guard config.speculation, durations.count >= 3,
            Double(committedCount) >= config.speculationStartFraction * Double(plan.shardCount)
        else { return nil }
        let limit = config.speculationMultiplier * medianDuration
        var best: (shard: Int, age: Double)?
        for s in shards.indices where shards[s].status == .running && !shards[s].backupIssued
            && shards[s].copies.count == 1 && shards[s].copies[w.incarnation] == nil
            && shards[s].chargedAttempts < config.maxAttempts
        {
            let age = now - shards[s].copies.values.first!.startedAt
            if age > limit, age > (best?.age ?? 0) { best = (s, age) }
        }
        return best?.shard
    }

    private mutating func assignWork(now: Double, _ out: inout [CoordinatorAction]) {
        for peer in workers.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            while let w = workers[peer], w.held.count < w.credit {
                var backup = false
                var shard = nextShard(for: w)
                if shard == nil, let s = straggler(for: w, now: now) {
                    shard = s
                    backup = true
                }
                guard let s = shard else { break }
                shards[s].attempts += 1
                let attempt = shards[s].attempts
                shards[s].status = .running
                shards[s].copies[w.incarnation] = (attempt, now)
                if backup {
                    shards[s].backupIssued = true
                    backups += 1
                    out.append(.log("backup copy of straggling shard \(s) on \(w.name)"))
                }
                workers[peer]!.held[s] = attempt
                workers[peer]!.lastSent = now
                out.append(.assign(peer, shard: s, attempt: attempt, incarnation: w.incarnation))
            }
        }
    }

    private mutating func checkFinished(_ out: inout [CoordinatorAction]) {
        guard !finishedEmitted, isFinished else { return }
        finishedEmitted = true
        for (peer, w) in workers where config.dismissWorkersAtEnd {
            out.append(.send(peer, WireMessage(header: header(.disconnect, incarnation: w.incarnation), body: .disconnect(reason: .done, message: "run complete"))))
        }
        out.append(.finished(poisoned: poisonedShards))
    }
}
