import ArgumentParser
import ModScope

@main
struct ModScopeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modscope",
        abstract: "Find functional modules in trained neural networks: attribution → biclustering → evaluation.",
        version: ModScopeVersion.string,
        subcommands: [
            RunCommand.self, CoordinatorCommand.self, WorkerCommand.self, StatusCommand.self, ResumeCommand.self,
            ResubmitCommand.self, KeysCommand.self,
        ])
}
