import ArgumentParser
import BatchRuntime
import Foundation
import ModScope
import ZeroMQTransport

/// Client-side CURVE flags shared by `worker` and `status ENDPOINT`.
struct ClientSecurityOptions: ParsableArguments {
    @Option(name: .long, help: "The coordinator's CURVE public key (Z85) or a file holding it.")
    var serverKey: String?

    @Option(name: .long, help: "Key folder from `modscope keys generate` (uses coordinator.pub and the --key-name pair).")
    var keys: String?

    @Option(name: .long, help: "Which worker key pair of the --keys folder to use.")
    var keyName: String = "worker-1"

    @Flag(name: .long, help: "Plaintext on tcp:// (the coordinator must also use --insecure).")
    var insecure = false

    func validate() throws {
        if insecure && (keys != nil || serverKey != nil) {
            throw ValidationError("--insecure turns CURVE off but --keys/--server-key turn it on; give one or the other.")
        }
    }

    func curve(endpoint: String) throws -> (serverKey: String, keys: CurveKeyPair)? {
        guard let keys else {
            if serverKey != nil { throw RuntimeUsageError("--server-key needs this worker's key pair too: pass --keys DIR") }
            if endpoint.hasPrefix("tcp://") && !insecure {
                throw RuntimeUsageError("tcp:// needs CURVE: pass --keys DIR (from `modscope keys generate`), or --insecure if the coordinator runs with --insecure")
            }
            return nil
        }
        let folder = KeyFolder(URL(fileURLWithPath: keys))
        var server = try serverKey.map { key -> String in
            FileManager.default.fileExists(atPath: key) ? try KeyFolder.readKey(URL(fileURLWithPath: key)) : key
        } ?? folder.coordinatorPublicKey()
        server = server.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Z85.decode(server)?.count == 32 else { throw RuntimeUsageError("--server-key is not a 40-character Z85 key") }
        return (server, try folder.workerKeys(name: keyName))
    }
}

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Compute shards for a coordinator; reconnects; exits 0 when the run is done.")

    @Option(name: .long, help: "The coordinator's endpoint, e.g. tcp://HOST:5555 or ipc://RUN/workers.ipc.")
    var connect: String

    @OptionGroup var security: ClientSecurityOptions

    @Option(name: .long, help: "Compute threads: blocks of samples run in parallel; BLAS itself runs single-threaded, so results do not depend on this.")
    var threads: Int = 1

    @Option(name: .long, help: "Shards held at once (one computing, the rest queued).")
    var credit: Int = 4

    @Option(name: .long, help: "Exit if no coordinator welcomes this worker within this many seconds (default: keep trying).")
    var giveUpAfter: Double?

    @Option(name: .long, help: "Folder that keeps models received from coordinators (by SHA-256), so later runs on this machine skip the download.")
    var modelCache: String?

    @Option(name: .long, help: ArgumentHelp("Exit when this process is no longer the parent (local workers).", visibility: .hidden))
    var parentPid: Int32?

    func validate() throws {
        try FlagLimits.check("--threads", threads, in: FlagLimits.threads)
        try FlagLimits.check("--credit", credit, in: FlagLimits.credit)
        if let giveUpAfter { try FlagLimits.check("--give-up-after", giveUpAfter) }
    }

    func run() throws {
        try runtimeMain {
            var settings = WorkerSettings(endpoint: connect)
            settings.curve = try security.curve(endpoint: connect)
            settings.threads = threads
            settings.credit = credit
            settings.parentPID = parentPid
            settings.giveUpAfter = giveUpAfter
            settings.modelCacheFolder = modelCache.map { URL(fileURLWithPath: $0) }
            settings.configureComputeThread = RuntimeHooks.shared.configureComputeThread
            let pid = getpid()
            settings.onLog = { line in StandardError.write("\(LogClock.timestamp()) worker \(pid): \(line)\n") }
            let client = WorkerClient(settings: settings)
            let signals = SignalStopper { client.requestStop() }
            defer { signals.cancel() }
            try client.run()
            return RuntimeExitCode.ok
        }
    }
}
