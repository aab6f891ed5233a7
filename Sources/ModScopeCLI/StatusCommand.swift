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
                print(json ? String(decoding: try status.jsonData(), as: UTF8.self) : (["\(status.state) · \(status.summaryLine)"] + status.workerLines).joined(separator: "\n"))
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
        @Flag(name: .long, help: "Also write kubernetes-secrets.yaml: the Secrets modscope-coordinator-keys and modscope-worker-keys (worker-1) for `kubectl apply -n NAMESPACE -f`.")
        var kubernetes = false

        func validate() throws {
            try FlagLimits.check("--workers", workers, in: FlagLimits.keyPairs)
        }

        func run() throws {
            try runtimeMain {
                let url = URL(fileURLWithPath: out)
                if FileManager.default.fileExists(atPath: url.appendingPathComponent("coordinator.key").path) && !force {
                    throw RuntimeUsageError("\(out) already holds keys; pass --force to replace them (running workers will be locked out)")
                }
                try KeyFolderGenerator.generate(at: url, workers: workers)
                print("wrote CURVE keys for the coordinator and \(workers) worker(s) to \(out); copy worker-N.key and coordinator.pub to each worker host")
                if kubernetes {
                    let manifest = url.appendingPathComponent("kubernetes-secrets.yaml")
                    try Data(try Self.kubernetesSecrets(folder: url).utf8).write(to: manifest)
                    chmod(manifest.path, 0o600)
                    print("wrote \(manifest.path): kubectl apply -n NAMESPACE -f it (cluster/kubernetes uses the same names)")
                }
                return RuntimeExitCode.ok
            }
        }

        /// Two Secrets, so each side gets only what it needs: the coordinator its secret key and the
        /// allow-list, the workers the coordinator's public key and one worker pair (shared by all workers,
        /// which the allow-list then names as worker-1). Same names as cluster/kubernetes/kustomization.yaml.
        static func kubernetesSecrets(folder: URL) throws -> String {
            func secret(_ name: String, _ files: [String]) throws -> String {
                var text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \(name)\n  labels:\n    app.kubernetes.io/name: modscope\ntype: Opaque\ndata:\n"
                for file in files {
                    text += "  \(file): \(try Data(contentsOf: folder.appendingPathComponent(file)).base64EncodedString())\n"
                }
                return text
            }
            return "# CURVE keys from `modscope keys generate` — contains secret keys, do not commit.\n"
                + (try secret("modscope-coordinator-keys", ["coordinator.key", "allowed_workers"])) + "---\n"
                + (try secret("modscope-worker-keys", ["coordinator.pub", "worker-1.key"]))
        }
    }
}
