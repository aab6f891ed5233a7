import BatchRuntime
import Foundation
@testable import ZeroMQTransport

/// Runs a blocking closure on its own thread; `wait` returns its result or nil on timeout.
final class Background<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var result: Result<T, Error>?

    init(_ body: @escaping @Sendable () throws -> T) {
        let t = Thread { [self] in
            let r = Result { try body() }
            lock.lock()
            result = r
            lock.unlock()
            done.signal()
        }
        t.stackSize = 8 << 20
        t.start()
    }

    func wait(seconds: Double) -> Result<T, Error>? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        lock.lock()
        defer { lock.unlock() }
        return result
    }
}

/// A fresh run folder for a synthetic job under /tmp (short paths: ipc socket paths are limited to 107 bytes).
func makeRun(rows: Int, columns: Int, shardSize: Int, rowMs: Double = 0) throws -> RunFolder {
    let folder = RunFolder(path: "/tmp/mszt-\(UUID().uuidString.prefix(8))")
    _ = try folder.create(job: try SyntheticJob.job(rows: rows, columns: columns, shardSize: shardSize, parameters: .init(rowMilliseconds: rowMs)), version: "test")
    return folder
}

/// The matrix the synthetic job must produce, as matrix.npy bytes after the header.
func expectedMatrixBytes(_ folder: RunFolder) throws -> [UInt8] {
    let job = try folder.loadManifest().job
    return try SyntheticJob.expectedRows(job: job, rows: 0..<job.rowCount).withUnsafeBytes { [UInt8]($0) }
}

func matrixDataBytes(_ folder: RunFolder) throws -> [UInt8] {
    let job = try folder.loadManifest().job
    let all = [UInt8](try Data(contentsOf: folder.matrixURL))
    return Array(all.dropFirst(MatrixFile.headerSize(rows: job.rowCount, columns: job.columns)))
}

/// Resident set size of this process in bytes (Linux /proc).
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
}
