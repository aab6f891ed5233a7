import BatchRuntime
import Foundation
import Testing

/// A `modscope` process running in the background with its output in files (no pipe can fill up and block it).
final class BackgroundModScope {
    let process = Process()
    let stderrURL: URL
    let stdoutURL: URL

    /// - Parameter namespace: run inside this network namespace (`ip netns exec NS modscope …`, which execs, so
    ///   `pid` is still modscope's).
    /// - Parameter fileSizeLimitKiB: run under `ulimit -f` (a stand-in for a full disk: writes past the limit fail
    ///   with EFBIG).
    /// - Parameter ulimit: run under `ulimit` with these bash arguments, e.g. "-n 16" or "-v 262144" (KiB).
    init(
        _ arguments: [String], environment: [String: String] = [:], namespace: String? = nil, fileSizeLimitKiB: Int? = nil,
        ulimit: String? = nil
    ) throws {
        let id = UUID().uuidString.prefix(8)
        stderrURL = URL(fileURLWithPath: "/tmp/msproc-\(id).err")
        stdoutURL = URL(fileURLWithPath: "/tmp/msproc-\(id).out")
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        if let namespace {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace, ModScopeBinary.url.path] + arguments
        } else if let limit = ulimit ?? fileSizeLimitKiB.map({ "-f \($0)" }) {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")  // bash counts ulimit -f in KiB (dash: 512 B)
            process.arguments = ["-c", "ulimit \(limit) && exec \"$0\" \"$@\"", ModScopeBinary.url.path] + arguments
        } else {
            process.executableURL = ModScopeBinary.url
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["MODSCOPE_FAILPOINT"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }

    /// The exit status, or nil if still running after `seconds` (then the process is killed).
    @discardableResult
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    deinit {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: stderrURL)
        try? FileManager.default.removeItem(at: stdoutURL)
    }
}

/// Helpers over a run folder created by the binary.
struct RunProbe {
    let folder: RunFolder
    init(_ path: String) { folder = RunFolder(path: path) }

    static func fresh() -> String { "/tmp/msrun-\(UUID().uuidString.prefix(8))" }

    /// matrix.npy data bytes equal the synthetic kernel's rows computed in this process.
    func matrixIsExact() throws -> Bool {
        let job = try folder.loadManifest().job
        let expected = try SyntheticJob.expectedRows(job: job, rows: 0..<job.rowCount).withUnsafeBytes { [UInt8]($0) }
        let all = [UInt8](try Data(contentsOf: folder.matrixURL))
        return Array(all.dropFirst(MatrixFile.headerSize(rows: job.rowCount, columns: job.columns))) == expected
    }

    /// The latest status.json, if any.
    func status() -> RunStatus? {
        guard let data = try? Data(contentsOf: folder.statusURL) else { return nil }
        return try? RunStatus.decode(data)
    }

    /// Journal records (only call once the coordinator has stopped: opening truncates a torn tail).
    func journal() throws -> Journal { try Journal(url: folder.journalURL) }

    /// COMMIT records per epoch: [[shards committed in epoch 1], [epoch 2], …].
    func commitsByEpoch() throws -> [[Int]] {
        var out: [[Int]] = []
        for record in try journal().records {
            switch record {
            case .epoch: out.append([])
            case .commit(let s, _, _, _): out[out.count - 1].append(s)
            default: break
            }
        }
        return out
    }

    func waitFor(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return false
    }

    func remove() { try? FileManager.default.removeItem(at: folder.url) }
}

/// Fast fault-detection flags for tests (defaults: 5 s lease, 1 s heartbeat) so the suite stays short.
let fastRuntimeFlags = ["--lease-timeout", "2", "--heartbeat", "0.5", "--quiet"]
