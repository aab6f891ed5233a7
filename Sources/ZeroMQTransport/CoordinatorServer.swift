import BatchRuntime
import CZeroMQ
import Foundation

/// How the coordinator listens.
public struct CoordinatorSettings: Sendable {
    /// The ROUTER endpoint, e.g. tcp://*:5555 or ipc://RUN/workers.ipc.
    public var endpoint: String
    /// CURVE server keys and the allow-list (public key → name); nil = plaintext (only with --insecure or ipc://).
    public var curve: (keys: CurveKeyPair, allowed: [String: String])?
    public var config = CoordinatorConfig()
    /// Seconds between status.json rewrites and `onStatus` calls.
    public var statusInterval = 1.0
    /// Called on the coordinator thread every `statusInterval` and once at the end.
    public var onStatus: @Sendable (RunStatus) -> Void = { _ in }
    /// Log lines (worker joins, lease expiries, poison, rejected results).
    public var onLog: @Sendable (String) -> Void = { _ in }
    /// Called once the socket is bound (e.g. to spawn local workers).
    public var onBound: @Sendable () -> Void = {}
    /// An endpoint bound beforehand and shared by several jobs of this process (nil: bind `endpoint` for this job).
    public var sharedEndpoint: CoordinatorEndpoint?
    /// After a complete run, keep the workers for a next job on `sharedEndpoint` instead of sending them
    /// DISCONNECT(done) (the pipeline's ablation job follows the attribution matrix).
    public var holdWorkersAtEnd = false

    public init(endpoint: String) { self.endpoint = endpoint }
}

/// The end of a coordinator run.
public struct CoordinatorOutcome: Sendable {
    /// Shards committed by this coordinator (not by earlier epochs).
    public var committedNow: Int
    /// Isolated shards with the reason, sorted by shard.
    public var poisoned: [(shard: Int, rows: Range<Int>, reason: String)]
    public var status: RunStatus
    /// False when stopped by `requestStop()` before the run was complete.
    public var complete: Bool
}

/// The ZeroMQ driver of `CoordinatorCore`: one thread, one ROUTER socket, a poll loop.
///
/// Threading: `run()` owns the socket, the journal and the matrix file on the calling thread; the ZAP handler
/// has its own thread and socket; `requestStop()` may be called from any thread (a signal handler's queue).
/// Commits are grouped: every message ready after a poll is processed, then one fdatasync of the matrix and one
/// journal fsync cover all results verified in that batch, then their ACKs go out.
public final class CoordinatorServer: @unchecked Sendable {
    public let folder: RunFolder
    public let manifest: RunManifest
    public let settings: CoordinatorSettings
    private let stopLock = NSLock()
    private var stopRequested = false

    /// Messages processed per poll batch before committing (bounds commit latency under load).
    static let batchLimit = 1024
    /// The core is ticked this often (lease/stall checks, heartbeats).
    static let tickInterval = 0.1
    /// Seconds the coordinator keeps answering late workers with DISCONNECT(done) after the run completes.
    public static let doneGrace = 0.3

    public init(folder: RunFolder, settings: CoordinatorSettings) throws {
        self.folder = folder
        self.manifest = try folder.loadManifest()
        self.settings = settings
    }

    private let endpointLock = NSLock()
    private var usedEndpoint: CoordinatorEndpoint?

    /// The endpoint this run uses (for `waitForLateWorkers`).
    fileprivate func recordEndpoint(_ endpoint: CoordinatorEndpoint) { endpointLock.withLock { usedEndpoint = endpoint } }

    /// Blocks until the coordinator has stopped answering late workers (at most `doneGrace` seconds after `run()`
    /// returned a complete run) and its socket is closed. Returns at once when the workers are held for a next
    /// job (the shared endpoint's owner finishes it). Call before the process exits.
    public func waitForLateWorkers() {
        endpointLock.withLock { usedEndpoint }?.waitUntilClosed()
    }

    /// Asks the loop to stop (DISCONNECT(shutdown) to workers, status "stopped"); safe from any thread.
    public func requestStop() {
        stopLock.lock()
        stopRequested = true
        stopLock.unlock()
    }

    private var shouldStop: Bool {
        stopLock.lock()
        defer { stopLock.unlock() }
        return stopRequested
    }

    public func run() throws -> CoordinatorOutcome {
        let session = try CoordinatorSession(server: self)
        defer {
            if !session.handedOff { session.endpoint.close() }
        }
        settings.onLog(
            "coordinator epoch \(session.epoch) listening on \(session.endpoint.endpoint); \(session.core.committedCount)/\(session.plan.shardCount) shards already committed")
        settings.onBound()
        do {
            try session.start()
            while !session.finished && !shouldStop { try session.step() }
        } catch {
            // A failure of the run folder (disk full, I/O error): committed shards are safe in the journal; tell
            // the workers and mark the status as stopped (best effort, the disk may be full), then report it.
            settings.onLog("coordinator stopping after an error: \(error)")
            session.sayShutdown()
            session.writeStatus(now: monotonicNow(), state: "stopped")
            throw error
        }
        return try session.end()
    }
}

/// One coordinator run's state and the effects of `CoordinatorCore`'s actions: the socket, the journal, the
/// matrix file and the commits staged until the next fdatasync. Lives on `CoordinatorServer.run`'s thread.
private final class CoordinatorSession {
    let server: CoordinatorServer
    var settings: CoordinatorSettings { server.settings }
    var manifest: RunManifest { server.manifest }
    let job: JobSpec
    let kind: JobKind
    let source: any SampleSource
    let journal: Journal
    let plan: ShardPlan
    let epoch: UInt32
    let matrix: MatrixFile
    var core: CoordinatorCore
    let endpoint: CoordinatorEndpoint
    let router: ZMQSocket
    let heldWorkers: CoordinatorEndpoint.HeldWorkers?
    /// The endpoint was handed to a next job or to its finishing thread: not closed by `run`.
    var handedOff = false
    var finished = false
    var committedNow = 0
    private var model: Data?
    private var modelLoaded = false
    private var staged: [StagedCommit] = []
    private var malformed = 0
    private var lastMalformedLog = 0.0
    private var nextTick = monotonicNow()
    private var nextStatus = monotonicNow()

    /// Opens the journal (a new epoch), the matrix and the endpoint.
    init(server: CoordinatorServer) throws {
        self.server = server
        let settings = server.settings, manifest = server.manifest, folder = server.folder
        job = manifest.job
        kind = try JobRegistry.shared.kind(named: job.kind)
        source = try kind.makeSampleSource(job)
        journal = try Journal(url: folder.journalURL)
        if journal.droppedTailBytes > 0 {
            settings.onLog("journal: dropped a torn tail of \(journal.droppedTailBytes) bytes (crash during an append)")
        }
        plan = ShardPlan(job: job)
        if journal.records.isEmpty {
            try journal.append([.runStart(runId: manifest.runId, shards: plan.shardCount)])
        } else if journal.state.runId != manifest.runId || journal.state.shardCount != plan.shardCount {
            throw RuntimeError("\(folder.journalURL.path) belongs to another run; the run folder is inconsistent")
        }
        epoch = journal.state.epoch + 1
        try journal.append([.epoch(epoch)])
        let shape = job.matrixShape
        matrix = try MatrixFile(url: folder.matrixURL, rows: shape.rows, columns: shape.columns, rowsPerJobRow: job.matrixRowsPerRow ?? 1)
        var config = settings.config
        config.dismissWorkersAtEnd = !(settings.holdWorkersAtEnd && settings.sharedEndpoint != nil)
        core = try CoordinatorCore(
            job: job, runId: manifest.runId, epoch: epoch, config: config,
            committed: Set(journal.state.committed.keys), poisoned: Set(journal.state.poisoned.keys))
        endpoint = try settings.sharedEndpoint ?? CoordinatorEndpoint(endpoint: settings.endpoint, curve: settings.curve, onLog: settings.onLog)
        server.recordEndpoint(endpoint)
        endpoint.setLog(settings.onLog)
        router = endpoint.router
        heldWorkers = endpoint.takeOver()
    }

    /// The core's first actions; workers held from the previous job re-register.
    func start() throws {
        try perform(core.start(now: monotonicNow()), now: monotonicNow())
        guard let heldWorkers else { return }
        // Workers kept from the previous job: their HELLOs join this run; the others re-register at once.
        for (peer, inc) in heldWorkers.peers {
            let m = WireMessage(
                header: WireHeader(type: .disconnect, runId: manifest.runId, epoch: epoch, incarnation: inc),
                body: .disconnect(reason: .reregister, message: "the next job of this coordinator starts; send HELLO"))
            _ = try? router.send([peer] + WireCodec.encode(m), dontWait: true)
        }
        for (peer, hello) in heldWorkers.hellos {
            try perform(core.handle(.message(peer, hello), now: monotonicNow()), now: monotonicNow())
        }
    }

    /// One poll: every ready message (up to `batchLimit`), their commits, the tick and the status when due.
    func step() throws {
        let wait = max(0, Int((nextTick - monotonicNow()) * 1000))
        if ZMQPoll.readable([router], timeoutMs: min(wait, 100))[0] {
            var count = 0
            while count < CoordinatorServer.batchLimit, let frames = try router.receive(dontWait: true) {
                count += 1
                try receive(frames, now: monotonicNow())
            }
            try flushCommits(now: monotonicNow())
        }
        let now = monotonicNow()
        if now >= nextTick {
            try perform(core.handle(.tick, now: now), now: now)
            try flushCommits(now: now)
            nextTick = now + CoordinatorServer.tickInterval
        }
        if now >= nextStatus {
            writeStatus(now: now)
            nextStatus = now + settings.statusInterval
        }
    }

    /// One received message; a malformed one is dropped and counted (logged at most once a second).
    private func receive(_ frames: [[UInt8]], now: Double) throws {
        guard frames.count >= 2 else { return }
        let peer = frames[0]
        do {
            let message = try WireCodec.decode(Array(frames.dropFirst()))
            try perform(core.handle(.message(peer, message), now: now), now: now)
        } catch let error as RuntimeError {
            malformed += 1
            if now - lastMalformedLog > 1 {
                settings.onLog("dropped malformed message(s) (\(malformed) so far): \(error.message)")
                lastMalformedLog = now
            }
        }
    }

    /// Runs the core's actions; actions they cause (an unreachable peer) join the queue.
    func perform(_ actions: [CoordinatorAction], now: Double) throws {
        var queue = actions[...]
        while let action = queue.popFirst() {
            switch action {
            case .send(let peer, let message):
                if try !router.send([peer] + WireCodec.encode(message), dontWait: true), message.header.type != .disconnect {
                    // Unreachable or at its HWM: treat the peer as gone so its shards are re-queued.
                    queue.append(contentsOf: core.handle(.peerUnreachable(peer), now: now))
                }
            case .assign(let peer, let shard, let attempt, let inc):
                queue.append(.send(peer, try assignment(shard: shard, attempt: attempt, incarnation: inc)))
            case .sendModel(let peer, let offset, let inc):
                queue.append(.send(peer, try modelChunk(offset: offset, incarnation: inc)))
            case .sendStatus(let peer, let inc):
                let json = try core.status(now: now).jsonData()
                let m = WireMessage(header: WireHeader(type: .status, runId: manifest.runId, epoch: epoch, incarnation: inc), body: .status(json: [UInt8](json)))
                _ = try router.send([peer] + WireCodec.encode(m), dontWait: true)
            case .write(_, let row, let bytes):
                try matrix.write(rowBytes: bytes, startingAt: row)
            case .stageCommit(let commit):
                staged.append(commit)
            case .journal(let record):
                try journal.append([record])
            case .finished:
                finished = true
            case .log(let line):
                settings.onLog(line)
            }
        }
    }

    /// ASSIGN with the shard's samples.
    private func assignment(shard: Int, attempt: Int, incarnation: UInt64) throws -> WireMessage {
        let rows = plan.rows(of: shard)
        let samples = try source.samples(rows: rows)
        let bytes = samples.withUnsafeBytes { [UInt8]($0) }
        return WireMessage(
            header: WireHeader(type: .assign, runId: manifest.runId, epoch: epoch, shard: UInt32(shard), incarnation: incarnation, attempt: UInt32(attempt)),
            body: .assign(firstRow: UInt64(rows.lowerBound), rowCount: UInt32(rows.count), elementsPerRow: UInt32(job.sampleElementsPerRow), samples: bytes))
    }

    /// MODEL_DATA: the chunk of the model's bytes at `offset` (loaded on first use).
    private func modelChunk(offset: UInt64, incarnation: UInt64) throws -> WireMessage {
        if !modelLoaded {
            model = try kind.loadModel(job)
            modelLoaded = true
        }
        let bytes = model ?? Data()
        let start = Int(min(offset, UInt64(bytes.count)))
        let end = min(start + core.chunkBytes, bytes.count)
        return WireMessage(
            header: WireHeader(type: .modelData, runId: manifest.runId, epoch: epoch, incarnation: incarnation),
            body: .modelData(offset: UInt64(start), total: UInt64(bytes.count), bytes: [UInt8](bytes[start..<end])))
    }

    /// One fdatasync of the matrix and one journal append for every staged commit, then their ACKs.
    private func flushCommits(now: Double) throws {
        guard !staged.isEmpty else { return }
        try matrix.synchronize()
        try journal.append(staged.map { .commit(shard: $0.shard, attempt: $0.attempt, crc: $0.crc, worker: $0.worker) })
        committedNow += staged.count
        let batch = staged
        staged = []
        try perform(core.handle(.commitsDurable(batch), now: now), now: now)
    }

    func writeStatus(now: Double, state: String? = nil) {
        let status = core.status(now: now, state: state)
        if let data = try? status.jsonData() { try? AtomicFile.write(data, to: server.folder.statusURL) }
        settings.onStatus(status)
    }

    func sayShutdown() {
        for peer in core.connectedPeers {
            let m = WireMessage(
                header: WireHeader(type: .disconnect, runId: manifest.runId, epoch: epoch, incarnation: peer.incarnation),
                body: .disconnect(reason: .shutdown, message: "coordinator stopping"))
            _ = try? router.send([peer.peer] + WireCodec.encode(m), dontWait: true)
        }
        // Let the DISCONNECTs reach the workers before the socket closes (LINGER 0 would drop them).
        try? router.setOption(ZMQ_LINGER, 1000)
    }

    /// After the loop: run-done and the held or finishing endpoint for a complete run, shutdown otherwise.
    func end() throws -> CoordinatorOutcome {
        let now = monotonicNow()
        if finished {
            try journal.append([.runDone])
            writeStatus(now: now)
            handedOff = true
            if settings.holdWorkersAtEnd && settings.sharedEndpoint != nil {
                endpoint.hold(runId: manifest.runId, epoch: epoch, peers: core.connectedPeers)
            } else {
                // Workers that connect in the last moments get DISCONNECT(done) rather than silence. That happens
                // on a thread of its own, so the caller goes on (the matrix is complete and durable) meanwhile.
                endpoint.finish(runId: manifest.runId, epoch: epoch, grace: CoordinatorServer.doneGrace)
            }
        } else {
            sayShutdown()
            writeStatus(now: now, state: "stopped")
        }
        let poisoned = core.poisonedShards.map { s in
            (shard: s, rows: plan.rows(of: s), reason: journal.state.poisoned[s] ?? "isolated")
        }
        return CoordinatorOutcome(committedNow: committedNow, poisoned: poisoned, status: core.status(now: now), complete: finished)
    }
}
