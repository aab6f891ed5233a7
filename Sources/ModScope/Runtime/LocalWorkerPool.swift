import Foundation

/// Local `modscope worker` processes for `modscope run --workers N` (and resume/resubmit): spawned over the
/// run folder's ipc:// endpoint, kept at N (a worker that dies is replaced, up to `maxRespawns` times in total),
/// and reaped at the end. Each worker gets `--parent-pid` so it exits if the coordinator process dies.
///
/// Threading: `start`, `superviseOnce` and `stop` are called from the coordinator's status callback and the
/// main thread; the lock serialises them.
public final class LocalWorkerPool: @unchecked Sendable {
    public let count: Int
    public let endpoint: String
    public let threads: Int
    /// Assignments each worker holds at once (HELLO credit).
    public let credit: Int
    /// Replacement workers allowed over the run (a poison sample kills at most 2; chaos kills more).
    public let maxRespawns: Int
    private let lock = NSLock()
    private var processes: [Process] = []
    private var respawns = 0
    private var stopped = false
    private let executable: URL
    private let logFile: FileHandle?

    /// CURVE key folder for the workers (they use its worker-1 pair); nil = plaintext (ipc:// or --insecure).
    public let keys: URL?

    public init(count: Int, endpoint: String, threads: Int, credit: Int = 4, keys: URL? = nil, logFile: URL?, maxRespawns: Int? = nil) {
        self.credit = credit
        self.keys = keys
        self.count = count
        self.endpoint = endpoint
        self.threads = threads
        self.maxRespawns = maxRespawns ?? max(4, 2 * count)
        executable = URL(fileURLWithPath: Bundle.main.executablePath ?? CommandLine.arguments[0])
        if let logFile {
            FileManager.default.createFile(atPath: logFile.path, contents: nil)
            self.logFile = try? FileHandle(forWritingTo: logFile)
            _ = try? self.logFile?.seekToEnd()
        } else {
            self.logFile = nil
        }
    }

    private func spawn() throws -> Process {
        let p = Process()
        p.executableURL = executable
        p.arguments = [
            "worker", "--connect", endpoint, "--threads", String(threads), "--credit", String(credit), "--parent-pid", String(getpid()),
        ] + (keys.map { ["--keys", $0.path] } ?? ["--insecure"])
        if let logFile {
            p.standardOutput = logFile
            p.standardError = logFile
        } else {
            p.standardOutput = FileHandle.nullDevice
        }
        try p.run()
        return p
    }

    public func start() throws {
        lock.lock()
        defer { lock.unlock() }
        for _ in 0..<count { processes.append(try spawn()) }
    }

    /// Replaces dead workers (call about once a second).
    public func superviseOnce() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        for i in processes.indices where !processes[i].isRunning && respawns < maxRespawns {
            respawns += 1
            if let p = try? spawn() { processes[i] = p }
        }
    }

    /// Process ids of the live workers (tests and chaos pick victims from here).
    public var pids: [Int32] {
        lock.lock()
        defer { lock.unlock() }
        return processes.filter(\.isRunning).map(\.processIdentifier)
    }

    /// Waits up to `grace` seconds for workers to exit (they were sent DISCONNECT), then SIGKILLs the rest.
    public func stop(grace: Double = 3) {
        lock.lock()
        stopped = true
        let all = processes
        lock.unlock()
        let deadline = Date().addingTimeInterval(grace)
        while all.contains(where: \.isRunning) && Date() < deadline { usleep(2_000) }
        for p in all where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        for p in all { p.waitUntilExit() }
    }
}
