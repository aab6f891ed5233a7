import ArgumentParser
import BatchRuntime
import Foundation
import ModScope

@main
struct ModScopeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modscope",
        abstract: "Find functional modules in trained neural networks: attribution → biclustering → evaluation.",
        version: ModScopeVersion.string,
        subcommands: [
            InspectCommand.self, AttributeCommand.self, BiclusterCommand.self, RunCommand.self, CoordinatorCommand.self,
            WorkerCommand.self, StatusCommand.self, ResumeCommand.self, ResubmitCommand.self, EvaluateCommand.self,
            ReportCommand.self, KeysCommand.self, BenchCommand.self, CompareCommand.self, PlanCommand.self,
        ])

    static func main() {
        // A file-size limit (ulimit -f, some batch systems) must surface as EFBIG on the write, reported with
        // the file and what to do, not kill the process halfway through a file.
        signal(SIGXFSZ, SIG_IGN)
        MemoryTuning.apply()
        AttributionJobKind.register()
        AblationJobKind.register()
        do {
            var command = try parseAsRoot()
            try reportingErrors { try ResourcePreflight.check() }
            try command.run()
        } catch {
            // DESIGN.md: bad input or usage exits 2 (ArgumentParser's own convention is 64, EX_USAGE).
            if exitCode(for: error) == .validationFailure {
                StandardError.write(fullMessage(for: error) + "\n")
                exit(withError: ExitCode(2))
            }
            exit(withError: error)
        }
    }
}
