import ArgumentParser
import BatchRuntime
import Foundation
import ModScope

/// Runtime flags shared by `run`, `coordinator`, `resume` and `resubmit` (the attribution options are separate).
struct RuntimeOptions: ParsableArguments {
    @Option(name: .long, help: "The run folder (created for new runs).")
    var out: String?

    @Option(name: .long, help: "ZeroMQ endpoint the coordinator binds, e.g. tcp://*:5555 (default: ipc:// in the run folder).")
    var bind: String?

    @Option(name: .long, help: "Rows per shard: the unit of work, retry and commit.")
    var shardSize: Int = 64

    @Flag(name: .long, help: "Allow plaintext on tcp:// (trusted networks only).")
    var insecure = false

    @Option(name: .long, help: "CURVE key folder from `modscope keys generate` (coordinator.key + allowed_workers).")
    var keys: String?

    @Option(name: .long, help: "Local worker processes to spawn over ipc:// (run: default 2; 0 = external workers only).")
    var workers: Int?

    @Option(name: .long, help: "Compute threads per local worker.")
    var workerThreads: Int = 1

    @Option(name: .long, help: "Shards each local worker holds at once (more hides round trips for tiny shards).")
    var workerCredit: Int = 4

    @Option(name: .long, help: "Seconds of worker silence before its leases are revoked.")
    var leaseTimeout: Double = 5

    @Option(name: .long, help: "Seconds between heartbeats.")
    var heartbeat: Double = 1

    @Option(name: .long, help: "Minimum seconds without row progress before a shard is cancelled and re-queued.")
    var stallTimeout: Double = 10

    @Option(name: .long, help: "Attempts per shard before it is declared failed.")
    var maxAttempts: Int = 4

    @Flag(name: .long, help: "Do not start backup copies of straggling shards.")
    var noSpeculation = false

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func validate() throws {
        try FlagLimits.check("--shard-size", shardSize, in: FlagLimits.rows)
        if let workers { try FlagLimits.check("--workers", workers, in: FlagLimits.localWorkers) }
        try FlagLimits.check("--lease-timeout", leaseTimeout)
        try FlagLimits.check("--heartbeat", heartbeat)
        try FlagLimits.check("--stall-timeout", stallTimeout)
        guard leaseTimeout > heartbeat else {
            throw ValidationError("--lease-timeout (\(leaseTimeout) s) must exceed --heartbeat (\(heartbeat) s).")
        }
        if insecure && keys != nil {
            throw ValidationError("--insecure turns CURVE off but --keys turns it on; give one or the other.")
        }
        if let bind, bind.hasPrefix("tcp://"), bind.hasSuffix(":0") || bind.hasSuffix(":*") {
            throw ValidationError("--bind \(bind) asks for a random port, which workers cannot know; give a port number, e.g. tcp://*:5555.")
        }
        try FlagLimits.check("--max-attempts", maxAttempts, in: FlagLimits.attempts)
        try FlagLimits.check("--worker-credit", workerCredit, in: FlagLimits.credit)
        try FlagLimits.check("--worker-threads", workerThreads, in: FlagLimits.threads)
    }

    var config: CoordinatorConfig {
        var c = CoordinatorConfig()
        c.leaseTimeout = leaseTimeout
        c.heartbeatInterval = heartbeat
        c.stallTimeoutMinimum = stallTimeout
        c.maxAttempts = maxAttempts
        c.speculation = !noSpeculation
        return c
    }

    func launch(folder: RunFolder, defaultWorkers: Int) -> RuntimeLaunch {
        var l = RuntimeLaunch(folder: folder)
        l.bind = bind
        l.keys = keys.map { URL(fileURLWithPath: $0) }
        l.insecure = insecure
        l.localWorkers = workers ?? (bind == nil ? defaultWorkers : 0)
        l.workerThreads = workerThreads
        l.workerCredit = workerCredit
        l.config = config
        l.quiet = quiet
        // External workers stay for the evaluation's ablation job (attribution runs only; others have no analysis).
        l.holdExternalWorkers = (try? folder.loadManifest().job.kind) == AttributionJobKind.name
        return l
    }
}

/// The built-in synthetic job (tests, benchmarks, chaos); hidden from help.
struct SyntheticOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Synthetic job ROWS,COLUMNS (runtime tests and benchmarks).", visibility: .hidden))
    var synthetic: String?

    @Option(name: .long, help: ArgumentHelp("Synthetic kernel: milliseconds of sleep per row.", visibility: .hidden))
    var syntheticRowMs: Double = 0

    @Option(name: .long, help: ArgumentHelp("Synthetic kernel seed.", visibility: .hidden))
    var syntheticSeed: UInt64 = 42

    @Flag(name: .long, help: ArgumentHelp("Synthetic kernel returns zeros (runtime overhead only).", visibility: .hidden))
    var syntheticNoop = false

    func job(shardSize: Int) throws -> JobSpec? {
        guard let synthetic else { return nil }
        let parts = synthetic.split(separator: ",").compactMap { Int($0) }
        guard parts.count == 2, parts[0] >= 1, parts[1] >= 1 else {
            throw ValidationError("--synthetic takes ROWS,COLUMNS with both at least 1 (got \"\(synthetic)\").")
        }
        return try SyntheticJob.job(
            rows: parts[0], columns: parts[1], shardSize: shardSize,
            parameters: .init(seed: syntheticSeed, rowMilliseconds: syntheticRowMs, noop: syntheticNoop))
    }
}

/// Runs a command body that returns an exit code; errors are mapped as every command's are (`reportingErrors`).
func runtimeMain(_ body: () throws -> Int32) throws {
    let code = try reportingErrors(body)
    if code != 0 { throw ExitCode(code) }
}
