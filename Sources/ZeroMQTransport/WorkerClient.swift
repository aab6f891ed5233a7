import BatchRuntime
import CZeroMQ
import Foundation

/// How a worker connects.
public struct WorkerSettings: Sendable {
    public var endpoint: String
    /// CURVE client keys and the coordinator's public key; nil = plaintext.
    public var curve: (serverKey: String, keys: CurveKeyPair)?
    /// Compute threads the job may use (passed to `configureComputeThread` and reported in HELLO).
    public var threads = 1
    /// Assignments held at once (one computing, the rest queued so the next starts without a round trip).
    public var credit = 4
    /// Exit when this process is no longer our parent (local workers of `modscope run` die with it).
    public var parentPID: Int32?
    /// Folder of model files named by their SHA-256 (`modscope worker --model-cache`), kept across runs so a model
    /// crosses the network once per machine; nil = memory only. Files are verified against the hash when read.
    public var modelCacheFolder: URL?
    /// Give up when no coordinator has welcomed us for this many seconds (nil = keep trying forever).
    public var giveUpAfter: Double?
    /// Runs first on the compute thread with `threads` (the attribution side pins BLAS threads here).
    public var configureComputeThread: @Sendable (Int) -> Void = { _ in }
    public var onLog: @Sendable (String) -> Void = { _ in }

    public init(endpoint: String) { self.endpoint = endpoint }
}

/// The ZeroMQ worker: a DEALER on the calling (I/O) thread and a separate compute thread.
///
/// The I/O thread polls the DEALER, the compute thread's wake-up PAIR and the socket monitor every ≤ 100 ms,
/// so heartbeats (with row progress) flow every second however long a shard takes. On DISCONNECT(reregister),
/// coordinator silence beyond the lease, or a protocol error, it drops queued work, recreates the socket with
/// backoff (1 s → 32 s, jittered) and says HELLO again (Paranoid Pirate); finished results of the same run are
/// offered again after the new WELCOME (see `Outgoing`). It returns when told the run is done
/// and throws `RuntimeTransportError` with a clear message when authentication fails.
public final class WorkerClient: @unchecked Sendable {
    public let settings: WorkerSettings

    /// App-level reconnect backoff bounds, seconds (PPP: 1 → 32).
    static let backoffInitial = 1.0
    static let backoffMax = 32.0
    /// Handshake failures without a success after which a CURVE worker stops (wrong server key).
    static let handshakeFailureLimit = 10

    public init(settings: WorkerSettings) { self.settings = settings }

    private let stopLock = NSLock()
    private var stopRequested = false

    /// Asks the worker to leave (SIGTERM, SIGINT; safe from any thread): it stops computing, delivers results it
    /// has already finished (for up to `drainSeconds`), says DISCONNECT(goodbye) so the coordinator re-queues
    /// its other shards at once without blaming them, and `run()` returns.
    public func requestStop() { stopLock.withLock { stopRequested = true } }
    private var shouldStop: Bool { stopLock.withLock { stopRequested } }

    /// Seconds a stopping worker waits for ACKs of results it already finished.
    static let drainSeconds = 2.0

    /// A finished result waiting for its ACK. Kept across reconnects: after the next WELCOME of the same run it
    /// is offered again from its first chunk (the coordinator commits it if the shard is still pending, or ACKs and
    /// drops it as a late duplicate), so a worker cut off while finishing a shard does not throw its work away.
    struct Outgoing {
        var run: UInt64, shard: Int, attempt: Int, bytes: [UInt8], crc: UInt32, chunkCount: Int, nextChunk = 0, unacked = 0
    }

    public func run() throws {
        let context = try ZMQContext()
        let wakeEndpoint = "inproc://modscope-wake-\(getpid())"
        let wakeReceiver = try ZMQSocket(context: context, type: .pair)
        try wakeReceiver.bind(wakeEndpoint)
        let wakeSender = try ZMQSocket(context: context, type: .pair)
        try wakeSender.connect(wakeEndpoint)
        let engine = ComputeEngine(wake: wakeSender, threads: settings.threads, configureThread: settings.configureComputeThread)
        engine.start()
        defer {
            engine.stop()
            usleep(20_000)
            wakeReceiver.close()
        }
        var modelCache: [String: Data] = [:]
        var backoff = Self.backoffInitial
        let startedAt = monotonicNow()
        var everWelcomed = false
        var modelMismatches = 0
        let log = settings.onLog
        var outgoing: [Outgoing] = []
        /// The run each compute generation worked for, so results finished after a reconnect keep their run.
        var runOfGeneration: [Int: UInt64] = [:]

        connectionLoop: while true {
            let generation = engine.reset()
            for i in outgoing.indices {
                outgoing[i].nextChunk = 0
                outgoing[i].unacked = 0
            }
            var incarnation: UInt64 = 0
            while incarnation == 0 { incarnation = UInt64.random(in: 1...UInt64.max) }
            let socket = try ZMQSocket(context: context, type: .dealer)
            try SocketTuning.apply(to: socket)
            if let curve = settings.curve {
                try socket.makeCurveClient(serverKey: curve.serverKey, publicKey: curve.keys.publicKey, secretKey: curve.keys.secretKey)
            }
            let monitor = try ZMQMonitor(context: context, watching: socket)
            defer {
                socket.close()
                monitor.socket.close()
            }
            try socket.connect(settings.endpoint)

            var runId: UInt64 = 0, epoch: UInt32 = 0
            var heartbeat = 1.0, lease = 5.0, chunkBytes = 4 << 20, maxInFlight = 4
            var welcomed = false
            var job: JobSpec?
            var computer: (any ShardComputer)?
            var modelBuffer = Data()
            var lastHeard = monotonicNow(), lastSent = 0.0, lastParentCheck = 0.0
            var handshakeFailures = 0
            var lastAnnounced: Int?
            var sessionBroken = false

            func send(_ type: MessageType, _ body: WireBody, shard: Int? = nil, attempt: Int = 0, bodyCRC: UInt32? = nil) throws {
                let m = WireMessage(
                    header: WireHeader(type: type, runId: runId, epoch: epoch, shard: shard.map { UInt32($0) } ?? WireProtocol.noShard,
                        incarnation: incarnation, attempt: UInt32(attempt)),
                    body: body)
                if try socket.send(WireCodec.encode(m, bodyCRC: bodyCRC), dontWait: true) {
                    lastSent = monotonicNow()
                } else if type == .result {
                    // A lost chunk would leave the coordinator waiting forever: start a clean session instead.
                    sessionBroken = true
                }
            }
            func pump() throws {
                // Send chunks of the oldest unfinished result within the chunk credit (only once welcomed).
                guard welcomed else { return }
                for i in outgoing.indices where outgoing[i].run == runId {
                    while outgoing[i].nextChunk < outgoing[i].chunkCount && outgoing[i].unacked < maxInFlight {
                        let o = outgoing[i]
                        let start = o.nextChunk * chunkBytes
                        let end = min(start + chunkBytes, o.bytes.count)
                        try send(.result, .result(
                            chunkIndex: UInt32(o.nextChunk), chunkCount: UInt32(o.chunkCount), byteOffset: UInt64(start),
                            totalBytes: UInt64(o.bytes.count), totalCRC: o.crc,
                            bytes: o.chunkCount == 1 ? o.bytes : Array(o.bytes[start..<end])),
                            shard: o.shard, attempt: o.attempt, bodyCRC: o.chunkCount == 1 ? o.crc : nil)
                        outgoing[i].nextChunk += 1
                        outgoing[i].unacked += 1
                    }
                    if outgoing[i].nextChunk < outgoing[i].chunkCount { break }  // keep order: finish this one first
                }
            }
            func modelReady() {
                guard let job, let computer else { return }
                engine.configure(job: job, computer: computer, model: job.modelHash.flatMap { modelCache[$0] })
            }

            try send(.hello, .hello(
                credit: UInt32(max(1, min(settings.credit, 64))), threads: UInt32(settings.threads), pid: UInt32(getpid()),
                host: ProcessInfo.processInfo.hostName))

            var drainUntil: Double?
            while true {
                let ready = ZMQPoll.readable([socket, wakeReceiver, monitor.socket], timeoutMs: drainUntil == nil ? 100 : 20)
                let now = monotonicNow()
                if drainUntil == nil && shouldStop {
                    engine.stop()
                    drainUntil = now + (welcomed ? Self.drainSeconds : 0)
                    log("stopping: delivering finished results, then saying goodbye")
                }
                if let until = drainUntil, now >= until || !outgoing.contains(where: { $0.run == runId }) {
                    if welcomed {
                        try? send(.disconnect, .disconnect(reason: .goodbye, message: "worker stopping"))
                        try? socket.setOption(ZMQ_LINGER, 1000)  // deliver the goodbye before the socket closes
                    }
                    log("left the coordinator (goodbye)")
                    return
                }
                if ready[2] {
                    while let event = try monitor.next() {
                        switch event.event {
                        case ZMQEvent.handshakeFailedAuth:
                            throw RuntimeTransportError(
                                "the coordinator at \(settings.endpoint) rejected this worker's CURVE key (ZAP status \(event.value)); add its public key to the coordinator's allowed_workers file")
                        case ZMQEvent.handshakeFailedProtocol:
                            throw RuntimeTransportError(
                                "security handshake with \(settings.endpoint) failed (error 0x\(String(event.value, radix: 16))): the coordinator expects \(settings.curve == nil ? "CURVE — pass --keys DIR or --server-key" : "another mechanism — check --server-key, or --insecure on both sides")")
                        case ZMQEvent.handshakeFailedNoDetail:
                            handshakeFailures += 1
                            if handshakeFailures >= Self.handshakeFailureLimit && !everWelcomed {
                                throw RuntimeTransportError(
                                    "cannot complete the security handshake with \(settings.endpoint) (\(handshakeFailures) attempts); check --server-key matches the coordinator's coordinator.pub")
                            }
                        case ZMQEvent.handshakeSucceeded:
                            handshakeFailures = 0
                        default:
                            break
                        }
                    }
                }
                if ready[1] {
                    while (try wakeReceiver.receive(dontWait: true)) != nil {}
                    for outcome in engine.takeOutcomes() {
                        switch outcome {
                        case .result(let shard, let attempt, let values, let gen):
                            // Also results of an earlier connection to the same run (see `Outgoing`).
                            guard let run = runOfGeneration[gen] else { break }
                            let bytes = values.withUnsafeBytes { [UInt8]($0) }
                            let chunks = max(1, (bytes.count + chunkBytes - 1) / chunkBytes)
                            outgoing.append(Outgoing(run: run, shard: shard, attempt: attempt, bytes: bytes, crc: CRC32C.checksum(bytes), chunkCount: chunks))
                        case .failed(let shard, let attempt, let row, let message, let gen) where gen == generation:
                            log("shard \(shard) failed: \(message)")
                            try send(.fail, .fail(failureClass: .computation, sampleRow: row, message: message), shard: shard, attempt: attempt)
                        default:
                            break
                        }
                    }
                    try pump()
                }
                if ready[0] {
                    while let frames = try socket.receive(dontWait: true) {
                        guard let m = try? WireCodec.decode(frames) else {
                            log("dropped a malformed message from the coordinator")
                            continue
                        }
                        // The clock after the poll, not the iteration's `now`: a worker paused (SIGSTOP) inside
                        // poll() would otherwise stamp the coordinator's queued messages with the time before the
                        // pause, take the coordinator for silent and drop the result it is about to deliver.
                        lastHeard = monotonicNow()
                        let shard = m.header.shardIndex, attempt = Int(m.header.attempt)
                        switch m.body {
                        case .welcome(let hb, let leaseMs, let chunk, let inflight, let jobJSON):
                            guard let decoded = try? JSONDecoder().decode(JobSpec.self, from: Data(jobJSON)) else {
                                throw RuntimeTransportError("the coordinator sent a job this worker cannot read; use the same modscope version on both sides")
                            }
                            runId = m.header.runId
                            epoch = m.header.epoch
                            heartbeat = max(0.1, Double(hb) / 1000)
                            lease = max(1, Double(leaseMs) / 1000)
                            chunkBytes = Int(chunk)
                            maxInFlight = Int(inflight)
                            job = decoded
                            computer = try JobRegistry.shared.kind(named: decoded.kind).makeComputer(decoded)
                            welcomed = true
                            everWelcomed = true
                            runOfGeneration[generation] = runId
                            outgoing.removeAll { $0.run != runId }
                            for i in outgoing.indices {
                                // Chunk sizes follow this coordinator's setting.
                                outgoing[i].chunkCount = max(1, (outgoing[i].bytes.count + chunkBytes - 1) / chunkBytes)
                            }
                            backoff = Self.backoffInitial
                            log("connected to \(settings.endpoint): \(decoded.kind) job, \(decoded.rowCount)×\(decoded.columns), epoch \(epoch)")
                            if let hash = decoded.modelHash, modelCache[hash] == nil, let cached = ModelFileCache.read(hash: hash, in: settings.modelCacheFolder) {
                                modelCache[hash] = cached
                                log("model \(hash.prefix(12))… read from the model cache (\(cached.count) bytes, SHA-256 verified)")
                            }
                            if let hash = decoded.modelHash, modelCache[hash] == nil {
                                modelBuffer = Data()
                                try send(.modelRequest, .modelRequest(offset: 0, hash: hash))
                            } else {
                                modelReady()
                            }
                            try pump()  // results kept from an earlier connection to this run
                        case .modelData(let offset, let total, let bytes):
                            guard let hash = job?.modelHash, offset == UInt64(modelBuffer.count) else { break }
                            modelBuffer.append(contentsOf: bytes)
                            if UInt64(modelBuffer.count) >= total {
                                guard SHA256.hex(modelBuffer) == hash else {
                                    modelMismatches += 1
                                    if modelMismatches >= 3 {
                                        throw RuntimeTransportError("the coordinator's model bytes do not match the model hash \(hash) (3 tries); the model file changed during the run — start a new run")
                                    }
                                    log("the model received does not match its sha256 \(hash); asking again")
                                    modelBuffer = Data()
                                    try send(.modelRequest, .modelRequest(offset: 0, hash: hash))
                                    break
                                }
                                log("model \(hash.prefix(12))… received (\(modelBuffer.count) bytes, SHA-256 verified)")
                                modelCache[hash] = modelBuffer
                                if let problem = ModelFileCache.write(modelBuffer, hash: hash, in: settings.modelCacheFolder) {
                                    log("cannot keep the model in the model cache (\(problem)); continuing without it")
                                }
                                modelBuffer = Data()
                                modelReady()
                            } else {
                                try send(.modelRequest, .modelRequest(offset: UInt64(modelBuffer.count), hash: hash))
                            }
                        case .assign(let firstRow, let rowCount, _, let samples):
                            guard let shard, welcomed else { break }
                            engine.enqueue(ComputeEngine.Task(
                                shard: shard, attempt: attempt, firstRow: Int(firstRow), rowCount: Int(rowCount),
                                samples: [Float](littleEndian: samples), generation: generation))
                        case .ack(let chunkIndex, let status):
                            guard let i = outgoing.firstIndex(where: { $0.shard == shard && $0.attempt == attempt }) else { break }
                            if chunkIndex == .max || status != .chunkReceived {
                                outgoing.remove(at: i)
                            } else {
                                outgoing[i].unacked = max(0, outgoing[i].unacked - 1)
                            }
                            try pump()
                        case .cancel:
                            guard let shard else { break }
                            engine.cancel(shard: shard, attempt: attempt)
                            outgoing.removeAll { $0.shard == shard && $0.attempt == attempt }
                        case .disconnect(let reason, let text):
                            switch reason {
                            case .done:
                                log("run complete; exiting")
                                try? send(.disconnect, .disconnect(reason: .goodbye, message: "done"))
                                return
                            default:
                                log("coordinator disconnected us (\(reason): \(text)); reconnecting")
                                continue connectionLoop
                            }
                        case .heartbeat, .status:
                            break
                        case .hello, .modelRequest, .result, .fail, .statusRequest:
                            log("coordinator sent a worker-to-coordinator message (\(m.header.type)); ignored")
                        }
                    }
                }
                if sessionBroken {
                    log("could not queue a result chunk for the coordinator; reconnecting")
                    continue connectionLoop
                }
                let p = engine.progress()
                if welcomed && (now - lastSent >= heartbeat || p.shard != lastAnnounced) {
                    lastAnnounced = p.shard
                    try send(.heartbeat, .heartbeat(rowsDone: UInt32(p.rowsDone), held: UInt32(p.held + outgoing.count), rssBytes: ProcessMemory.residentBytes()), shard: p.shard)
                }
                if now - lastParentCheck >= 1 {
                    lastParentCheck = now
                    if let parent = settings.parentPID, getppid() != parent {
                        throw RuntimeTransportError("the parent process \(parent) is gone; a local worker stops with its coordinator")
                    }
                    if let limit = settings.giveUpAfter, !welcomed, now - startedAt > limit, !everWelcomed {
                        throw RuntimeTransportError("no coordinator answered at \(settings.endpoint) within \(Int(limit)) s; check the address and that the coordinator is running")
                    }
                }
                if now - lastHeard > (welcomed ? lease : max(lease, backoff + 4)) {
                    log("no word from the coordinator for \(Int(now - lastHeard)) s; reconnecting in \(String(format: "%.1f", backoff)) s")
                    let pause = backoff * Double.random(in: 0.75...1.25)
                    backoff = min(backoff * 2, Self.backoffMax)
                    let until = monotonicNow() + pause
                    while monotonicNow() < until {
                        usleep(100_000)
                        if let parent = settings.parentPID, getppid() != parent {
                            throw RuntimeTransportError("the parent process \(parent) is gone; a local worker stops with its coordinator")
                        }
                    }
                    continue connectionLoop
                }
            }
        }
    }
}

extension Array where Element == Float {
    /// Floats from little-endian float32 bytes (count must be a multiple of 4; checked by the decoder).
    init(littleEndian bytes: [UInt8]) {
        let count = bytes.count / 4
        self = [Float](repeating: 0, count: count)
        self.withUnsafeMutableBytes { dst in bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<count * 4])) } }
    }
}

/// Models on disk by content hash: FOLDER/<sha256>.onnx, written atomically, checked when read.
enum ModelFileCache {
    static func url(hash: String, in folder: URL) -> URL { folder.appendingPathComponent("\(hash).onnx") }

    /// The cached bytes of `hash`, or nil (no folder, no file, or a file whose hash differs — then it is removed).
    static func read(hash: String, in folder: URL?) -> Data? {
        guard let folder, hash.count == 64, hash.allSatisfy(\.isHexDigit) else { return nil }
        let file = url(hash: hash, in: folder)
        guard let data = try? Data(contentsOf: file) else { return nil }
        guard SHA256.hex(data) == hash else {
            try? FileManager.default.removeItem(at: file)
            return nil
        }
        return data
    }

    /// Stores the verified bytes of `hash`; returns a problem description or nil.
    static func write(_ data: Data, hash: String, in folder: URL?) -> String? {
        guard let folder, hash.count == 64, hash.allSatisfy(\.isHexDigit) else { return nil }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try AtomicFile.write(data, to: url(hash: hash, in: folder))
            return nil
        } catch {
            return "\(error)"
        }
    }
}
