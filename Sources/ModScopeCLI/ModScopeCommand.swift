import ArgumentParser
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
            ReportCommand.self, KeysCommand.self, BenchCommand.self,
        ])

    static func main() {
        MemoryTuning.apply()
        AttributionJobKind.register()
        AblationJobKind.register()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
