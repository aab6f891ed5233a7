import Foundation
import Testing

/// The launchers in docker/ and cluster/ are never run here (no Docker engine, no cluster), so these tests
/// hold them to the real CLI: every flag they pass must exist, and the exact command lines they run must
/// carry a distributed run to completion.
@Suite(.serialized) struct LauncherCommandTests {
    static func allCommands() throws -> [LauncherCommand] {
        try LauncherFiles.all().flatMap { LauncherText.commands(in: $0, text: try LauncherFiles.text($0)) }
    }

    @Test func extractionReadsShellLinesFlowSequencesAndVariables() {
        let yaml = #"args: ["worker", "--connect", "tcp://modscope-coordinator:5555", "--keys", "/keys"]"#
        let shell = """
            srun --exact \\
              modscope coordinator --model "${MODSCOPE_MODEL:?set it}" --k ${K:-auto} \\
              --bind 'tcp://*:5555' --workers 0 &
            echo "modscope exited with $code; kubectl -n modscope scale"  # prose, not commands
            """
        let a = LauncherText.commands(in: "a.yaml", text: yaml)
        #expect(a.count == 1)
        #expect(a.first?.subcommand == ["worker"])
        #expect(a.first?.flags == ["--connect", "--keys"])
        let b = LauncherText.commands(in: "b.sbatch", text: shell)
        #expect(b.count == 1)
        #expect(b.first?.subcommand == ["coordinator"])
        #expect(b.first?.arguments == ["--model", "X", "--k", "auto", "--bind", "tcp://*:5555", "--workers", "0"])
        #expect(b.first?.line == 1)
    }

    /// Each launcher names the commands it is for; an extraction that silently found nothing would pass the
    /// flag check vacuously.
    @Test func everyLauncherIsFoundWithItsCommands() throws {
        let commands = try Self.allCommands()
        func subcommands(_ file: String) -> Set<String> {
            Set(commands.filter { $0.file == file }.map { $0.subcommand.joined(separator: " ") })
        }
        #expect(subcommands("cluster/kubernetes/coordinator.yaml").isSuperset(of: ["coordinator", "resume", "resubmit"]))
        #expect(subcommands("cluster/kubernetes/worker-deployment.yaml").isSuperset(of: ["worker", "status"]))
        #expect(subcommands("cluster/kubernetes/worker-job.yaml").contains("worker"))
        #expect(subcommands("cluster/kubernetes/kustomization.yaml").contains("keys generate"))
        #expect(subcommands("docker/compose.yaml").isSuperset(of: ["coordinator", "resume", "worker", "keys generate"]))
        #expect(subcommands("cluster/slurm/modscope.sbatch").isSuperset(of: ["coordinator", "resume", "worker", "status", "resubmit"]))
        #expect(subcommands("cluster/slurm/worker-array.sbatch").contains("worker"))
        #expect(subcommands("docs/operations.md").isSuperset(of: ["run", "coordinator", "worker", "status", "resume", "resubmit", "keys generate"]))
    }

    /// `--help` ignores other flags, so each subcommand's help is read once and every `--flag` a launcher
    /// uses must appear in it.
    @Test func everyFlagInTheLaunchersExists() throws {
        let commands = try Self.allCommands()
        var help: [[String]: String] = [:]
        var unknown: [String] = []
        for command in commands {
            if help[command.subcommand] == nil {
                let result = try ModScopeBinary.run(command.subcommand + ["--help"])
                #expect(result.status == 0, "modscope \(command.subcommand.joined(separator: " ")) --help failed: \(result.standardError)")
                help[command.subcommand] = result.standardOutput
            }
            let text = help[command.subcommand] ?? ""
            for flag in command.flags where !Self.helpMentions(text, flag) {
                unknown.append("\(flag) in \(command)")
            }
        }
        #expect(commands.count >= 15)
        #expect(unknown.isEmpty, "flags that `modscope … --help` does not list:\n\(unknown.joined(separator: "\n"))")
    }

    static func helpMentions(_ help: String, _ flag: String) -> Bool {
        help.range(of: "(^|[\\s,\\[])\(NSRegularExpression.escapedPattern(for: flag))($|[\\s,=\\]])", options: .regularExpression) != nil
    }

    // MARK: - Runs with the launchers' own command lines

    /// A scratch folder with fresh CURVE keys (made by `modscope keys generate`, as the docs say).
    struct Scratch {
        let folder: URL
        let keys: URL
        let port = freeLoopbackPort()

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-launcher-\(UUID().uuidString)")
            keys = folder.appendingPathComponent("keys")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let result = try ModScopeBinary.run(["keys", "generate", "--out", keys.path])
            #expect(result.status == 0, "keys generate: \(result.standardError)")
        }

        var run: URL { folder.appendingPathComponent("run") }
        var endpoint: String { "tcp://127.0.0.1:\(port)" }
        func remove() { try? FileManager.default.removeItem(at: folder) }
    }

    /// The launcher's arguments with deployment-specific values swapped for local ones, flag by flag: addresses
    /// become loopback, paths the scratch folder and the digits example; every flag the launcher passes stays,
    /// and `--k 3 --restarts 2` keep the biclustering short.
    static func localize(_ command: LauncherCommand, _ scratch: Scratch) -> [String] {
        let digits = LauncherFiles.repositoryRoot.appendingPathComponent("examples/digits")
        let replacements: [String: String] = [
            "--model": digits.appendingPathComponent("mlp.onnx").path,
            "--data": digits.appendingPathComponent("data.npy").path,
            "--labels": digits.appendingPathComponent("labels.npy").path,
            "--layer": "relu",
            "--out": scratch.run.path,
            "--bind": "tcp://127.0.0.1:\(scratch.port)",
            "--connect": scratch.endpoint,
            "--keys": scratch.keys.path,
            "--k": "3",
            "--restarts": "2",
        ]
        // Values that are variables in the launcher (the user's settings) get the launcher's documented default.
        let defaults = ["--method": "conductance", "--shard-size": "256", "--threads": "1"]
        var out: [String] = []
        var arguments = command.arguments[...]
        // The launchers put the one positional (run folder of resume/resubmit, endpoint of status) first.
        if let first = arguments.first, !first.hasPrefix("--") {
            arguments.removeFirst()
            out.append(command.subcommand == ["status"] ? scratch.endpoint : scratch.run.path)
        }
        while let flag = arguments.popFirst() {
            out.append(flag)
            // A flag's value is the next word unless that is a flag too (--insecure, --quiet … take none).
            guard let value = arguments.first, !value.hasPrefix("--") else { continue }
            arguments.removeFirst()
            if let local = replacements[flag] {
                out.append(local)
            } else if value.contains("X"), let fallback = defaults[flag] {
                out.append(fallback)
            } else {
                out.append(value)
            }
        }
        if command.subcommand == ["coordinator"] {
            for flag in ["--k", "--restarts"] where !out.contains(flag) { out += [flag, replacements[flag]!] }
        }
        return command.subcommand + out
    }

    static func find(_ commands: [LauncherCommand], file: String, _ subcommand: String) throws -> LauncherCommand {
        try #require(
            commands.first { $0.file == file && $0.subcommand == [subcommand] && !$0.isComment },
            "no `modscope \(subcommand)` run by \(file)")
    }

    /// Coordinator, status probe, 2 workers and then resume, each with the command line of `coordinatorFile`
    /// and `workerFile`, on 127.0.0.1 with CURVE.
    func runToCompletion(coordinatorFile: String, workerFile: String, statusFile: String?) throws {
        let commands = try Self.allCommands()
        let scratch = try Scratch()
        defer { scratch.remove() }
        let deadline = Date().addingTimeInterval(100)
        let binary = ModScopeBinary.url

        let coordinatorArguments = Self.localize(try Self.find(commands, file: coordinatorFile, "coordinator"), scratch)
        let coordinator = try ChildProcess(binary, coordinatorArguments, log: scratch.folder.appendingPathComponent("coordinator.log"))
        defer { if coordinator.process.isRunning { coordinator.process.terminate() } }

        if let statusFile {
            // The readiness probe, against the coordinator waiting for its first worker.
            let status = Self.localize(try Self.find(commands, file: statusFile, "status"), scratch)
            var answered = false
            while !answered && Date() < deadline && coordinator.process.isRunning {
                answered = try ModScopeBinary.run(status, timeout: 20).status == 0
                if !answered { usleep(200_000) }
            }
            #expect(answered, "the probe `modscope \(status.joined(separator: " "))` never succeeded; coordinator: \(coordinator.output)")
        }

        let workerArguments = Self.localize(try Self.find(commands, file: workerFile, "worker"), scratch)
        let workers = try (1...2).map {
            try ChildProcess(binary, workerArguments, log: scratch.folder.appendingPathComponent("worker-\($0).log"))
        }
        // Stop waiting as soon as every worker has failed: the coordinator would wait for workers forever.
        while coordinator.process.isRunning && Date() < deadline && workers.contains(where: { $0.process.isRunning || $0.process.terminationStatus == 0 }) {
            usleep(50_000)
        }
        let coordinatorStatus = coordinator.wait(until: min(deadline, Date().addingTimeInterval(1)))
        let workerStatuses = workers.map { $0.wait(until: Date().addingTimeInterval(20)) }
        #expect(coordinatorStatus == 0, "\(coordinatorArguments.joined(separator: " "))\n\(coordinator.output)")
        for (worker, status) in zip(workers, workerStatuses) {
            #expect(status == 0, "\(workerArguments.joined(separator: " "))\n\(worker.output)")
        }
        #expect(FileManager.default.fileExists(atPath: scratch.run.appendingPathComponent("matrix.npy").path))
        #expect(FileManager.default.fileExists(atPath: scratch.run.appendingPathComponent("report.html").path))

        // A restarted container takes the resume branch: on a finished run it only confirms and exits 0.
        let resume = Self.localize(try Self.find(commands, file: coordinatorFile, "resume"), scratch)
        let resumed = try ChildProcess(binary, resume, log: scratch.folder.appendingPathComponent("resume.log"))
        #expect(resumed.wait(until: Date().addingTimeInterval(30)) == 0, "\(resume.joined(separator: " "))\n\(resumed.output)")
    }

    @Test(.timeLimit(.minutes(2))) func kubernetesCommandLinesCompleteARunOnLoopback() throws {
        try runToCompletion(
            coordinatorFile: "cluster/kubernetes/coordinator.yaml", workerFile: "cluster/kubernetes/worker-deployment.yaml",
            statusFile: "cluster/kubernetes/worker-deployment.yaml")
    }

    @Test(.timeLimit(.minutes(2))) func composeCommandLinesCompleteARunOnLoopback() throws {
        try runToCompletion(coordinatorFile: "docker/compose.yaml", workerFile: "docker/compose.yaml", statusFile: nil)
    }

    @Test(.timeLimit(.minutes(2))) func indexedJobWorkerCommandLineCompletesARunOnLoopback() throws {
        try runToCompletion(
            coordinatorFile: "cluster/kubernetes/coordinator.yaml", workerFile: "cluster/kubernetes/worker-job.yaml", statusFile: nil)
    }

    /// cluster/slurm/modscope.sbatch itself, unmodified, with stand-ins for `srun` (starts --ntasks copies of
    /// the command, forwards SIGTERM) and `hostname` (loopback) on PATH: 3 tasks = coordinator + 2 workers.
    /// Run twice: the second submission on the finished run takes the resume branch.
    @Test(.timeLimit(.minutes(2))) func slurmBatchScriptCompletesARunOnLoopback() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let bin = scratch.folder.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: bin.appendingPathComponent("modscope"), withDestinationURL: ModScopeBinary.url)
        let srun = #"""
            #!/usr/bin/env bash
            # Test stand-in for srun: drops srun's own options, runs --ntasks copies of the command.
            n=1
            while [[ $# -gt 0 && $1 == -* ]]; do
              case $1 in --ntasks=*) n=${1#--ntasks=} ;; esac
              shift
            done
            pids=()
            for ((i = 0; i < n; i++)); do "$@" & pids+=($!); done
            trap 'kill -TERM "${pids[@]}" 2>/dev/null' TERM
            code=0
            for p in "${pids[@]}"; do wait "$p" || code=$?; done
            exit "$code"
            """#
        try srun.write(to: bin.appendingPathComponent("srun"), atomically: true, encoding: .utf8)
        try "#!/bin/sh\necho 127.0.0.1\n".write(to: bin.appendingPathComponent("hostname"), atomically: true, encoding: .utf8)
        for tool in ["srun", "hostname"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin.appendingPathComponent(tool).path)
        }
        let digits = LauncherFiles.repositoryRoot.appendingPathComponent("examples/digits")
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = bin.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        environment["SLURM_NTASKS"] = "3"
        environment["SLURM_CPUS_PER_TASK"] = "1"
        environment["MODSCOPE_RUN"] = scratch.run.path
        environment["MODSCOPE_KEYS"] = scratch.keys.path
        environment["MODSCOPE_PORT"] = String(scratch.port)
        environment["MODSCOPE_MODEL"] = digits.appendingPathComponent("mlp.onnx").path
        environment["MODSCOPE_DATA"] = digits.appendingPathComponent("data.npy").path
        environment["MODSCOPE_LAYER"] = "relu"
        environment["MODSCOPE_K"] = "3"
        let script = LauncherFiles.repositoryRoot.appendingPathComponent("cluster/slurm/modscope.sbatch")
        for attempt in ["first submission", "resubmission (resume)"] {
            let job = try ChildProcess(
                URL(fileURLWithPath: "/bin/bash"), [script.path], log: scratch.folder.appendingPathComponent("\(attempt).log"),
                environment: environment, directory: scratch.folder)
            let status = job.wait(until: Date().addingTimeInterval(90))
            #expect(status == 0, "\(attempt):\n\(job.output)")
            #expect(job.output.contains("run complete"), "\(attempt):\n\(job.output)")
        }
        #expect(FileManager.default.fileExists(atPath: scratch.run.appendingPathComponent("matrix.npy").path))
        // The address is published only while the coordinator runs.
        #expect(!FileManager.default.fileExists(atPath: scratch.run.appendingPathComponent("coordinator.endpoint").path))
    }
}

@Suite struct KeysKubernetesSecretTests {
    /// `keys generate --kubernetes` writes the two Secrets cluster/kubernetes mounts, each with only its side's
    /// files, byte for byte, and private to the owner like the secret keys themselves.
    @Test func keysGenerateWritesTheKubernetesSecrets() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-keys-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try ModScopeBinary.run(["keys", "generate", "--out", folder.path, "--workers", "2", "--kubernetes"])
        #expect(result.status == 0, "\(result.standardError)")
        let manifest = folder.appendingPathComponent("kubernetes-secrets.yaml")
        let text = try String(contentsOf: manifest, encoding: .utf8)
        let documents = text.components(separatedBy: "\n---\n")
        #expect(documents.count == 2)
        let expected = [
            ("modscope-coordinator-keys", ["coordinator.key", "allowed_workers"]),
            ("modscope-worker-keys", ["coordinator.pub", "worker-1.key"]),
        ]
        for ((name, files), document) in zip(expected, documents) {
            #expect(document.contains("kind: Secret\n"))
            #expect(document.contains("  name: \(name)\n"))
            let entries = document.components(separatedBy: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("    ") && $0.contains(": ") }
                .map { $0.trimmingCharacters(in: .whitespaces).components(separatedBy: ": ") }
                .filter { $0[0] != "name" && $0[0] != "labels" }
            #expect(entries.map { $0[0] } == files)
            for entry in entries {
                let original = try Data(contentsOf: folder.appendingPathComponent(entry[0]))
                #expect(Data(base64Encoded: entry[1]) == original, "\(name)/\(entry[0])")
            }
        }
        let mode = try FileManager.default.attributesOfItem(atPath: manifest.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
