import BatchRuntime
import Foundation
import ZeroMQTransport

/// Everything needed to run (or resume) a coordinator on a run folder, with optional local workers.
public struct RuntimeLaunch: Sendable {
    public var folder: RunFolder
    /// ROUTER endpoint; nil = the run folder's ipc:// endpoint.
    public var bind: String?
    /// CURVE key folder (`modscope keys generate`), or nil.
    public var keys: URL?
    /// Allow plaintext on tcp://.
    public var insecure = false
    /// Local worker processes to spawn (0 = external workers only).
    public var localWorkers = 0
    public var workerThreads = 1
    /// Assignments each local worker holds at once.
    public var workerCredit = 4
    public var config = CoordinatorConfig()
    public var quiet = false
    /// With external workers only: keep them connected after the matrix for the jobs `afterMatrix` runs (the
    /// evaluation's ablation job) instead of sending them away; they are dismissed when `execute` returns.
    public var holdExternalWorkers = false
    /// Serve this job on an endpoint held from an earlier job of the process (nil: bind `endpoint`).
    public var sharedEndpoint: CoordinatorEndpoint?

    public init(folder: RunFolder) { self.folder = folder }

    public var endpoint: String { bind ?? folder.ipcEndpoint }
}

/// Exit codes of the runtime commands (DESIGN.md).
public enum RuntimeExitCode {
    public static let ok: Int32 = 0
    public static let failure: Int32 = 1
    public static let usage: Int32 = 2
    public static let failedShards: Int32 = 3
}

/// Runs coordinators for new, resumed and resubmitted runs, and prints their outcome.
public enum RuntimeSession {
    /// Checks the security rules: tcp:// binds need CURVE keys unless --insecure.
    public static func curveSettings(endpoint: String, keys: URL?, insecure: Bool) throws -> (keys: CurveKeyPair, allowed: [String: String])? {
        if let keys {
            guard ZMQContext.hasCurve else { throw RuntimeUsageError("this libzmq lacks CURVE; install libzmq with libsodium or use --insecure") }
            let folder = KeyFolder(keys)
            return (try folder.coordinatorKeys(), try folder.allowList())
        }
        if endpoint.hasPrefix("tcp://") && !insecure {
            throw RuntimeUsageError(
                "tcp:// endpoints require CURVE: pass --keys DIR (create it with `modscope keys generate --out DIR`), or --insecure for a trusted network")
        }
        return nil
    }

    /// Runs the coordinator to completion (or until SIGINT/SIGTERM), then `afterMatrix` with the exit code, and
    /// returns what it returns.
    ///
    /// `afterMatrix` (e.g. the analysis stages) runs while the finished coordinator still answers late workers
    /// with DISCONNECT(done) on a thread of its own, so it starts as soon as the matrix is complete and durable;
    /// this returns after both.
    ///
    /// With `launch.holdExternalWorkers` (and no local workers) the external workers stay connected after the
    /// matrix and `afterMatrix` receives the endpoint holding them, to serve its own jobs on (see
    /// `AnalysisPipeline.heldWorkers`); nil when no worker was connected at the end. They get DISCONNECT(done)
    /// when this returns.
    public static func execute(_ launch: RuntimeLaunch, afterMatrix: (Int32, CoordinatorEndpoint?) throws -> Int32) throws -> Int32 {
        var server: CoordinatorServer?
        var held: CoordinatorEndpoint?
        defer {
            held?.finish(runId: 0, epoch: 0, grace: CoordinatorServer.doneGrace)
            held?.waitUntilClosed()
            server?.waitForLateWorkers()
        }
        var launch = launch
        if launch.holdExternalWorkers && launch.localWorkers == 0 && launch.sharedEndpoint == nil {
            held = try CoordinatorEndpoint(
                endpoint: launch.endpoint, curve: try curveSettings(endpoint: launch.endpoint, keys: launch.keys, insecure: launch.insecure),
                onLog: { _ in })
            launch.sharedEndpoint = held
        }
        let code = try coordinate(launch) { server = $0 }
        // Without any worker connected at the end (e.g. `resume` of a finished matrix) there is nobody to hold.
        let holding = code == RuntimeExitCode.ok && (held?.heldWorkerCount ?? 0) > 0
        return try afterMatrix(code, holding ? held : nil)
    }

    /// `execute` without follow-up work.
    public static func execute(_ launch: RuntimeLaunch) throws -> Int32 {
        try execute(launch) { code, _ in code }
    }

    private static func coordinate(_ launch: RuntimeLaunch, created: (CoordinatorServer) -> Void) throws -> Int32 {
        let reporter = ProgressReporter(quiet: launch.quiet)
        var settings = CoordinatorSettings(endpoint: launch.endpoint)
        settings.curve = try curveSettings(endpoint: launch.endpoint, keys: launch.keys, insecure: launch.insecure)
        settings.config = launch.config
        settings.sharedEndpoint = launch.sharedEndpoint
        settings.holdWorkersAtEnd = launch.holdExternalWorkers && launch.sharedEndpoint != nil && launch.localWorkers == 0
        let logURL = launch.folder.logURL
        let logHandle: FileHandle? = {
            if !FileManager.default.fileExists(atPath: logURL.path) { FileManager.default.createFile(atPath: logURL.path, contents: nil) }
            let h = try? FileHandle(forWritingTo: logURL)
            _ = try? h?.seekToEnd()
            return h
        }()
        let pool = launch.localWorkers > 0
            ? LocalWorkerPool(
                count: launch.localWorkers, endpoint: launch.endpoint, threads: launch.workerThreads, credit: launch.workerCredit, keys: launch.keys,
                logFile: launch.folder.url.appendingPathComponent("workers.log"))
            : nil
        let log: @Sendable (String) -> Void = { line in
            let stamped = "\(LogClock.timestamp()) \(line)\n"
            try? logHandle?.write(contentsOf: Data(stamped.utf8))
            if !launch.quiet { reporter.log(line) }
        }
        settings.onLog = log
        // Committed shards are trusted only when their bytes in matrix.npy still match the journal's CRC-32C;
        // the others are reset so this coordinator recomputes them.
        let verification = try RunIntegrity.verifyCommits(in: launch.folder, reset: true, log: log)
        if !verification.damaged.isEmpty && launch.quiet {
            StandardError.write("modscope: recomputing \(verification.damaged.count) committed shard(s) whose bytes in matrix.npy no longer match the journal\n")
        }
        settings.onStatus = { status in
            reporter.update(status)
            pool?.superviseOnce()
        }
        // Local workers that cannot start (fd or process limits) would leave the coordinator waiting forever:
        // the run stops instead, with the reason, and exits 1.
        let startFailure = StartFailure()
        settings.onBound = {
            do { try pool?.start() } catch {
                log("cannot start local workers: \(error)")
                startFailure.record("cannot start the local workers: \(error.localizedDescription)")
            }
        }
        let server = try CoordinatorServer(folder: launch.folder, settings: settings)
        startFailure.server = server
        created(server)
        let signals = SignalStopper { server.requestStop() }
        defer { signals.cancel() }
        let outcome: CoordinatorOutcome
        do {
            outcome = try server.run()
        } catch {
            pool?.stop(grace: 0)
            throw error
        }
        pool?.stop()
        reporter.finish(outcome.status)
        if let reason = startFailure.reason {
            throw RuntimeError("\(reason); check `ulimit -u` and `ulimit -n`, then `modscope resume \(launch.folder.url.path)`")
        }
        let status = outcome.status
        let summary = "run \(launch.folder.url.path): \(status.shardsDone)/\(status.shardsTotal) shards committed "
            + "(\(outcome.committedNow) this session), \(status.retries) retries, \(status.leasesExpired) leases expired, \(status.workersLost) workers lost, "
            + "\(status.duplicatesDropped) duplicates dropped"
        print(summary)
        if !outcome.complete {
            StandardError.write("modscope: the coordinator stopped before the run was complete; continue with `modscope resume \(launch.folder.url.path)`\n")
            return RuntimeExitCode.failure
        }
        if !outcome.poisoned.isEmpty {
            for p in outcome.poisoned {
                StandardError.write("modscope: shard \(p.shard) (rows \(p.rows.lowerBound)..<\(p.rows.upperBound)) failed: \(p.reason)\n")
            }
            let list = outcome.poisoned.map { String($0.shard) }.joined(separator: ",")
            StandardError.write("modscope: finished with \(outcome.poisoned.count) failed shard(s) [\(list)]; fix the cause, then run `modscope resubmit \(launch.folder.url.path) --shards \(list)`\n")
            return RuntimeExitCode.failedShards
        }
        return RuntimeExitCode.ok
    }

    /// Marks shards for recomputation (default: every poisoned shard). Returns the shards reset.
    public static func resubmit(folder: RunFolder, shards: [Int]?) throws -> [Int] {
        let manifest = try folder.loadManifest()
        let plan = ShardPlan(job: manifest.job)
        let journal = try Journal(url: folder.journalURL)
        let targets = shards ?? journal.state.poisoned.keys.sorted()
        for s in targets where s < 0 || s >= plan.shardCount {
            throw RuntimeUsageError("shard \(s) does not exist; this run has shards 0..<\(plan.shardCount)")
        }
        try journal.append(targets.map { .reset(shard: $0) })
        return targets
    }
}

/// Turns the first SIGINT/SIGTERM into a graceful stop (`action`); a second one ends the process at once (the
/// default action is restored after the first). Coordinators say DISCONNECT(shutdown) and write status "stopped";
/// workers deliver finished results and say goodbye.
public final class SignalStopper: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []

    public init(_ action: @escaping @Sendable () -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                signal(SIGINT, SIG_DFL)
                signal(SIGTERM, SIG_DFL)
                action()
            }
            source.resume()
            sources.append(source)
        }
    }

    public func cancel() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// Holds why local workers could not start, and stops the coordinator that would otherwise wait for them.
final class StartFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: String?
    var server: CoordinatorServer?

    func record(_ reason: String) {
        lock.lock()
        recorded = reason
        let server = self.server
        lock.unlock()
        server?.requestStop()
    }

    var reason: String? {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }
}
