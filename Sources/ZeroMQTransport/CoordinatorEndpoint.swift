import BatchRuntime
import CZeroMQ
import Foundation

/// The coordinator's bound ROUTER socket (with its context and ZAP handler), which can outlive one job: after a
/// job completes it either *finishes* (answers late workers with DISCONNECT(done) for a grace period, then
/// closes) or *holds* the workers for a next job of the same process (the pipeline's ablation job after the
/// attribution matrix), so external workers are not sent away while the coordinator biclusters.
///
/// States: `.serving` (a `CoordinatorServer` owns the socket on its thread) → `.holding` (a thread of its own
/// answers every worker with HEARTBEATs so leases stay fresh, and keeps HELLOs for the next job) → `.serving`
/// again, … → `.finishing` (late-worker thread) → closed. One thread uses the socket at a time; hand-overs join
/// the previous thread first.
public final class CoordinatorEndpoint: @unchecked Sendable {
    public let endpoint: String
    let context: ZMQContext
    let router: ZMQSocket
    private let zap: ZAPHandler?
    private let lock = NSLock()
    private var background: (thread: Thread, stop: NSCondition, stopFlag: Box<Bool>, done: DispatchSemaphore)?
    private var held: HeldWorkers?
    private var finished = false
    private var workersAtHold = 0

    /// Workers connected when the last job ended and the endpoint started holding them (0 when not holding).
    public var heldWorkerCount: Int { lock.withLock { held == nil ? 0 : workersAtHold } }
    private var log: @Sendable (String) -> Void

    /// Where ZAP rejections are logged (the coordinator of the current job sets its log).
    func setLog(_ log: @escaping @Sendable (String) -> Void) { lock.withLock { self.log = log } }

    /// Workers seen while holding: their last routing id and incarnation, and HELLOs to replay into the next job.
    final class HeldWorkers: @unchecked Sendable {
        var peers: [PeerID: UInt64] = [:]
        var hellos: [(PeerID, WireMessage)] = []
    }

    final class Box<T>: @unchecked Sendable {
        var value: T
        init(_ value: T) { self.value = value }
    }

    /// Binds `endpoint` (tcp://, ipc://); with `curve`, as a CURVE server with a ZAP allow-list that fails closed.
    public init(endpoint: String, curve: (keys: CurveKeyPair, allowed: [String: String])?, onLog: @escaping @Sendable (String) -> Void) throws {
        self.endpoint = endpoint
        self.log = onLog
        context = try ZMQContext()
        router = try ZMQSocket(context: context, type: .router)
        var zap: ZAPHandler?
        do {
            if let curve {
                let logBox = LogRelay()
                zap = try ZAPHandler(context: context, allowed: curve.allowed) { key, name in
                    if name == nil { logBox.target?.currentLog("rejected a worker with unknown CURVE key \(key)") }
                }
                relay = logBox
                try router.makeCurveServer(secretKey: curve.keys.secretKey, zapDomain: "modscope")
            }
            try router.setOption(ZMQ_ROUTER_MANDATORY, 1)
            try SocketTuning.apply(to: router)
            if endpoint.hasPrefix("ipc://") {
                let path = String(endpoint.dropFirst(6))
                guard path.utf8.count < 107 else {
                    throw RuntimeError("the ipc socket path \(path) is longer than 107 bytes; use a shorter --out path")
                }
                unlink(path)  // a stale socket left by a killed coordinator
            }
            try router.bind(endpoint)
        } catch {
            router.close()
            zap?.stop()
            throw error
        }
        self.zap = zap
        relay?.target = self
    }

    private var relay: LogRelay?
    func currentLog(_ line: String) { lock.withLock { log }(line) }

    /// Lets the ZAP callback (created before `self` exists) reach the current log without a retain cycle.
    final class LogRelay: @unchecked Sendable {
        weak var target: CoordinatorEndpoint?
    }

    /// Takes the socket for a job: stops holding (if it was) and returns the workers held meanwhile.
    func takeOver() -> HeldWorkers? {
        joinBackground()
        return lock.withLock {
            defer { held = nil }
            return held
        }
    }

    /// Between jobs: answer workers with HEARTBEATs (so their leases stay fresh) until the next `takeOver()`.
    /// `peers` are the workers connected at the end of the job.
    func hold(runId: UInt64, epoch: UInt32, peers: [(peer: PeerID, incarnation: UInt64)]) {
        let state = HeldWorkers()
        for p in peers { state.peers[p.peer] = p.incarnation }
        lock.withLock {
            held = state
            workersAtHold = peers.count
        }
        startBackground(name: "modscope-hold-workers") { [router] shouldStop in
            var lastBeat = 0.0
            while !shouldStop() {
                if ZMQPoll.readable([router], timeoutMs: 50)[0] {
                    while let frames = try? router.receive(dontWait: true) {
                        guard frames.count >= 2, let m = try? WireCodec.decode(Array(frames.dropFirst())) else { continue }
                        switch m.body {
                        case .hello: state.hellos.append((frames[0], m))
                        case .disconnect: state.peers[frames[0]] = nil
                        default: state.peers[frames[0]] = m.header.incarnation
                        }
                    }
                }
                let now = monotonicNow()
                if now - lastBeat >= 0.5 {
                    lastBeat = now
                    for (peer, inc) in state.peers {
                        let beat = WireMessage(
                            header: WireHeader(type: .heartbeat, runId: runId, epoch: epoch, incarnation: inc),
                            body: .heartbeat(rowsDone: 0, held: 0, rssBytes: 0))
                        if (try? router.send([peer] + WireCodec.encode(beat), dontWait: true)) != true { state.peers[peer] = nil }
                    }
                }
            }
        }
    }

    /// The end: DISCONNECT(done) to every held worker, then answer late workers with DISCONNECT(done) for `grace`
    /// seconds on a thread of its own, then close (LINGER 1 s, so the last DISCONNECTs are delivered).
    /// Idempotent; `waitUntilClosed()` joins it.
    public func finish(runId: UInt64, epoch: UInt32, grace: Double) {
        let alreadyFinished = lock.withLock {
            defer { finished = true }
            return finished
        }
        guard !alreadyFinished else { return }
        let stillHeld = takeOver()
        startBackground(name: "modscope-late-workers") { [router, zap, endpoint, context] _ in
            func sayDone(_ peer: PeerID, _ inc: UInt64) {
                let done = WireMessage(
                    header: WireHeader(type: .disconnect, runId: runId, epoch: epoch, incarnation: inc),
                    body: .disconnect(reason: .done, message: "run complete"))
                _ = try? router.send([peer] + WireCodec.encode(done), dontWait: true)
            }
            for (peer, inc) in stillHeld?.peers ?? [:] { sayDone(peer, inc) }
            for (peer, m) in stillHeld?.hellos ?? [] { sayDone(peer, m.header.incarnation) }
            let until = monotonicNow() + grace
            while monotonicNow() < until {
                guard ZMQPoll.readable([router], timeoutMs: 50)[0] else { continue }
                while let frames = try? router.receive(dontWait: true) {
                    guard frames.count >= 2, let m = try? WireCodec.decode(Array(frames.dropFirst())) else { continue }
                    if case .disconnect = m.body { continue }
                    sayDone(frames[0], m.header.incarnation)
                }
            }
            try? router.setOption(ZMQ_LINGER, 1000)
            CoordinatorEndpoint.close(router: router, zap: zap, endpoint: endpoint)
            withExtendedLifetime(context) {}
        }
    }

    /// Closes at once (a coordinator that stopped or failed; it already said what it had to say). Idempotent.
    func close() {
        joinBackground()
        lock.withLock { finished = true }
        Self.close(router: router, zap: zap, endpoint: endpoint)
    }

    /// Blocks until a finishing endpoint has closed its socket.
    public func waitUntilClosed() {
        let done = lock.withLock { finished ? background?.done : nil }
        if let done {
            done.wait()
            done.signal()  // later callers return too
        }
    }

    static func close(router: ZMQSocket, zap: ZAPHandler?, endpoint: String) {
        router.close()
        zap?.stop()
        if endpoint.hasPrefix("ipc://") { unlink(String(endpoint.dropFirst(6))) }
    }

    private func startBackground(name: String, _ body: @escaping @Sendable (_ shouldStop: () -> Bool) -> Void) {
        let condition = NSCondition()
        let flag = Box(false)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            body { condition.withLock { flag.value } }
            done.signal()
        }
        thread.name = name
        lock.withLock { background = (thread, condition, flag, done) }
        thread.start()
    }

    /// Stops and joins the background thread, if any (a finishing thread runs to its end instead).
    private func joinBackground() {
        guard let bg = lock.withLock({ () -> (thread: Thread, stop: NSCondition, stopFlag: Box<Bool>, done: DispatchSemaphore)? in
            defer { background = nil }
            return background
        }) else { return }
        bg.stop.withLock { bg.stopFlag.value = true }
        bg.done.wait()
        bg.done.signal()
    }
}
