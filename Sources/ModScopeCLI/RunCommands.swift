import ArgumentParser
import BatchRuntime
import Foundation
import ModScope
import ZeroMQTransport

/// Creates a run folder for a new job and takes its writer lock, refusing a missing --out, a folder that is
/// not empty and not a run (its files would be overwritten), and a folder another process writes.
func createRun(options: RuntimeOptions, job: JobSpec, command: String, summary: [String: String]? = nil) throws -> RunFolder {
    guard let out = options.out else { throw RuntimeUsageError("--out RUN is required: the folder that will hold matrix.npy, the journal and status.json") }
    let folder = RunFolder(path: out)
    try OutputPaths.checkNewRunFolder(folder)
    do { try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true) } catch {
        throw RuntimeError("cannot create the run folder \(folder.url.path): \(error.localizedDescription)")
    }
    try RunFolderLock.acquire(folder, command: command)
    _ = try folder.create(job: job, version: ModScopeVersion.string)
    try folder.updateManifest { manifest in
        manifest.summary = summary
        manifest.stages = ["attribution": StageTiming(started: Date())]
    }
    if let note = summary?["evaluation"] {
        // The run's log starts with the evaluation shortcuts (the coordinator appends to the same file).
        let line = "\(LogClock.timestamp()) attribution: \(note)\n"
        if let handle = FileHandle(forWritingAtPath: folder.logURL.path) {
            _ = try? handle.seekToEnd()
            try? handle.write(contentsOf: Data(line.utf8))
            try? handle.close()
        } else {
            FileManager.default.createFile(atPath: folder.logURL.path, contents: Data(line.utf8))
        }
    }
    return folder
}

/// The job of `run`/`coordinator`: the attribution job from the shared flags, or the hidden synthetic one.
func makeJob(
    runtime: RuntimeOptions, synthetic: SyntheticOptions, attribution: AttributionOptions, analysis: AnalysisOptions
) throws -> (JobSpec, [String: String]?) {
    if let job = try synthetic.job(shardSize: runtime.shardSize) {
        guard !attribution.isGiven else {
            throw ValidationError("--synthetic replaces the attribution job; drop --model, --data and --layer.")
        }
        return (job, nil)
    }
    let (job, parameters) = try AttributionJobKind.makeJob(
        request: try attribution.request(), analysis: try analysis.settings(), shardSize: runtime.shardSize)
    if job.shardSize != runtime.shardSize && !runtime.quiet {
        StandardError.write("note: --shard-size rounded up to \(job.shardSize) (shards are whole 64-sample blocks, which keeps the matrix byte-identical whatever the workers)\n")
    }
    return (job, AttributionJobKind.summary(parameters))
}

/// The flags of a new run (`run` and `coordinator`): the job, the analysis and the runtime.
struct NewRunOptions: ParsableArguments {
    @OptionGroup var attribution: AttributionOptions
    @OptionGroup var analysis: AnalysisOptions
    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var synthetic: SyntheticOptions

    /// Creates the run folder, computes the matrix, then runs the analysis; returns the exit code.
    func start(command: String, defaultWorkers: Int) throws -> Int32 {
        let (job, summary) = try makeJob(runtime: runtime, synthetic: synthetic, attribution: attribution, analysis: analysis)
        if synthetic.synthetic == nil {
            try refuseWhenWorkersCannotFit(request: try attribution.request(), runtime: runtime, defaultWorkers: defaultWorkers)
        }
        let folder = try createRun(options: runtime, job: job, command: command, summary: summary)
        let launch = runtime.launch(folder: folder, defaultWorkers: defaultWorkers)
        return try RuntimeSession.execute(launch) { code, held in
            try finishAnalysis(code, folder: folder, quiet: runtime.quiet, workers: launch.localWorkers, held: held)
        }
    }
}

/// After the matrix is complete (exit 0), the analysis stages that are not done yet.
func finishAnalysis(_ code: Int32, folder: RunFolder, quiet: Bool, workers: Int, held: CoordinatorEndpoint?) throws -> Int32 {
    guard code == RuntimeExitCode.ok else { return code }
    try folder.updateManifest { manifest in
        guard let started = manifest.stages?["attribution"]?.started, manifest.stages?["attribution"]?.finished == nil else { return }
        let finished = Date()
        manifest.stages?["attribution"] = StageTiming(started: started, finished: finished, seconds: finished.timeIntervalSince(started))
    }
    var pipeline = AnalysisPipeline(folder: folder, quiet: quiet, ablationWorkers: workers)
    pipeline.heldWorkers = held
    try pipeline.run()
    if !quiet, let summary = try? pipeline.summary() { print(summary) }
    return code
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The whole pipeline with N local worker processes: attribution → biclustering → evaluation → report.",
        discussion: """
            Example (the bundled demo):
              modscope run --model examples/digits/mlp.onnx --data examples/digits/data.npy \\
                --labels examples/digits/labels.npy --layer relu --k 10 --image-shape 8x8 --workers 2 --out runs/demo
            The run folder holds run.json, matrix.npy, journal, bicluster/, evaluation.json, report.html and \
            status.json (docs/run-folder.md). Every stage resumes with `modscope resume RUN`.
            """)

    @OptionGroup var options: NewRunOptions

    func run() throws { try runtimeMain { try options.start(command: "run", defaultWorkers: 2) } }
}

struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "The whole pipeline with external workers (`modscope worker --connect …`) on any number of machines.",
        discussion: "tcp:// binds need CURVE keys (--keys, from `modscope keys generate`) unless --insecure. See docs/operations.md.")

    @OptionGroup var options: NewRunOptions

    func run() throws { try runtimeMain { try options.start(command: "coordinator", defaultWorkers: 0) } }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a run whose coordinator stopped: replays the journal and recomputes only uncommitted shards.")

    @Argument(help: "The run folder.") var runFolder: String
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtimeMain {
            let folder = RunFolder(path: runFolder)
            try folder.lockForWriting(command: "resume")
            let launch = runtime.launch(folder: folder, defaultWorkers: 2)
            return try RuntimeSession.execute(launch) { code, held in
                try finishAnalysis(code, folder: folder, quiet: runtime.quiet, workers: launch.localWorkers, held: held)
            }
        }
    }
}

struct ResubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resubmit", abstract: "Recompute failed (or the named) shards, then finish the run.")

    @Argument(help: "The run folder.") var runFolder: String
    @Option(name: .long, help: "Comma-separated shard numbers (default: every failed shard).") var shards: String?
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtimeMain {
            var list: [Int]?
            if let shards {
                let parsed = shards.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else {
                    throw RuntimeUsageError("--shards takes comma-separated shard numbers such as 3,17 (got \"\(shards)\")")
                }
                list = parsed.map { $0! }
            }
            let folder = RunFolder(path: runFolder)
            try folder.lockForWriting(command: "resubmit")
            let reset = try RuntimeSession.resubmit(folder: folder, shards: list)
            StandardError.write("resubmitting shard(s) \(reset)\n")
            // The matrix changes: the analysis is redone from the biclustering on.
            let launch = runtime.launch(folder: folder, defaultWorkers: 2)
            return try RuntimeSession.execute(launch) { code, held in
                guard code == RuntimeExitCode.ok else { return code }
                var pipeline = AnalysisPipeline(folder: folder, quiet: runtime.quiet, ablationWorkers: launch.localWorkers)
                pipeline.heldWorkers = held
                try pipeline.run(from: .bicluster)
                return code
            }
        }
    }
}
