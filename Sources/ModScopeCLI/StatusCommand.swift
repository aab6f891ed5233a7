import ArgumentParser
import BatchRuntime
import Foundation
import ModScope

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Progress of a run: shards done / in flight / failed, workers, rate, ETA.")

    @Argument(help: "A run folder, or a live coordinator's endpoint (tcp://HOST:PORT, ipc://PATH).")
    var target: String

    @OptionGroup var security: ClientSecurityOptions

    @Flag(name: .long, help: "Print the status JSON.")
    var json = false

    func run() throws {
        try runtimeMain {
            if target.contains("://") {
                let status = try StatusQuery.fromEndpoint(target, curve: try security.curve(endpoint: target))
                print(json ? String(decoding: try status.jsonData(), as: UTF8.self) : "\(status.state) · \(status.summaryLine)")
            } else {
                let result = try StatusQuery.fromFolder(RunFolder(path: target))
                if json, let s = result.status {
                    print(String(decoding: try s.jsonData(), as: UTF8.self))
                } else {
                    print(result.text)
                }
            }
            return RuntimeExitCode.ok
        }
    }
}

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "CURVE key pairs for the coordinator and workers.", subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write coordinator.key/.pub, worker-N.key/.pub and the allowed_workers list into a folder.")

        @Option(name: .long, help: "The folder to write (created if missing).") var out: String
        @Option(name: .long, help: "How many worker key pairs to create.") var workers: Int = 1
        @Flag(name: .long, help: "Overwrite existing keys.") var force = false

        func validate() throws {
            guard workers >= 1 else { throw ValidationError("--workers must be at least 1 (got \(workers)).") }
        }

        func run() throws {
            try runtimeMain {
                let url = URL(fileURLWithPath: out)
                if FileManager.default.fileExists(atPath: url.appendingPathComponent("coordinator.key").path) && !force {
                    throw RuntimeUsageError("\(out) already holds keys; pass --force to replace them (running workers will be locked out)")
                }
                try KeyFolderGenerator.generate(at: url, workers: workers)
                print("wrote CURVE keys for the coordinator and \(workers) worker(s) to \(out); copy worker-N.key and coordinator.pub to each worker host")
                return RuntimeExitCode.ok
            }
        }
    }
}
