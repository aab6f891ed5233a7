import ArgumentParser
import BatchRuntime
import Foundation
import ModScope

/// Creates a run folder for a new job, refusing a missing --out.
func createRun(options: RuntimeOptions, job: JobSpec) throws -> RunFolder {
    guard let out = options.out else { throw RuntimeUsageError("--out RUN is required: the folder that will hold matrix.npy, the journal and status.json") }
    let folder = RunFolder(path: out)
    _ = try folder.create(job: job, version: ModScopeVersion.string)
    return folder
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Compute the matrix with N local worker processes (the embedded default).")

    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var synthetic: SyntheticOptions

    func run() throws {
        try runtimeMain {
            guard let job = try synthetic.job(shardSize: runtime.shardSize) else {
                throw RuntimeUsageError("no job given: pass the attribution options (--model, --data, --layer, --method)")
            }
            let folder = try createRun(options: runtime, job: job)
            return try RuntimeSession.execute(runtime.launch(folder: folder, defaultWorkers: 2))
        }
    }
}

struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator", abstract: "Run the coordinator for external workers (`modscope worker --connect …`).")

    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var synthetic: SyntheticOptions

    func run() throws {
        try runtimeMain {
            guard let job = try synthetic.job(shardSize: runtime.shardSize) else {
                throw RuntimeUsageError("no job given: pass the attribution options (--model, --data, --layer, --method)")
            }
            let folder = try createRun(options: runtime, job: job)
            return try RuntimeSession.execute(runtime.launch(folder: folder, defaultWorkers: 0))
        }
    }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a run whose coordinator stopped: replays the journal and recomputes only uncommitted shards.")

    @Argument(help: "The run folder.") var runFolder: String
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtimeMain {
            try RuntimeSession.execute(runtime.launch(folder: RunFolder(path: runFolder), defaultWorkers: 2))
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
            let reset = try RuntimeSession.resubmit(folder: folder, shards: list)
            FileHandle.standardError.write(Data("resubmitting shard(s) \(reset)\n".utf8))
            return try RuntimeSession.execute(runtime.launch(folder: folder, defaultWorkers: 2))
        }
    }
}
