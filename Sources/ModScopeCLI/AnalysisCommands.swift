import ArgumentParser
import BatchRuntime
import Foundation
import ModScope

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Recompute the module metrics of a run (evaluation.json), then its report.",
        discussion: "Needs a run whose matrix and biclustering are complete. See docs/user-guide.md for every metric.")

    @Argument(help: "The run folder.")
    var runFolder: String

    @Option(help: "Local worker processes for the ablation table (0: compute it in this process).")
    var workers = 0

    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        try FlagLimits.check("--workers", workers, in: FlagLimits.localWorkers)
    }

    func run() throws {
        try reportingErrors {
            let folder = RunFolder(path: runFolder)
            try folder.lockForWriting(command: "evaluate")
            try AnalysisPipeline(folder: folder, quiet: quiet, ablationWorkers: workers).run(from: .evaluate)
        }
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Regenerate a run's report.html (self-contained, offline) from its evaluation.")

    @Argument(help: "The run folder.")
    var runFolder: String

    @Flag(help: "No progress output.")
    var quiet = false

    func run() throws {
        try reportingErrors {
            let folder = RunFolder(path: runFolder)
            try folder.lockForWriting(command: "report")
            try AnalysisPipeline(folder: folder, quiet: quiet).run(from: .report)
        }
    }
}
