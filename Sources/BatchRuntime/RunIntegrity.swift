import ArrayFiles
import Foundation

/// What a run folder's journal promises about matrix.npy, checked against the bytes on disk.
///
/// Every COMMIT record carries the CRC-32C of its shard's result bytes (rows `plan.rows(of: s)`, float32 LE, as
/// verified on receipt). `verifyCommits` recomputes that CRC from matrix.npy for every committed shard:
/// a shard whose bytes differ (the file was edited, truncated, replaced or lost) is not trusted — `resume`
/// and `resubmit` append a RESET record for it, so it is recomputed, and a missing or unreadable matrix.npy
/// resets every commit (its rows are recomputed, never taken as zeros). CRC-32C detects every change of up to
/// 3 bits in a shard and any burst up to 32 bits; other changes escape with probability 2⁻³².
public enum RunIntegrity {
    /// The outcome of checking the committed shards of one run folder.
    public struct Verification: Sendable, Equatable {
        /// Shards the journal records as committed.
        public var committed: Int = 0
        /// Committed shards whose bytes in matrix.npy differ from their COMMIT record (sorted).
        public var damaged: [Int] = []
        /// Why every commit was distrusted (matrix.npy missing or not this run's matrix), else nil.
        public var matrixProblem: String?
        public init() {}
    }

    /// Checks every committed shard's rows in matrix.npy against its COMMIT record; with `reset`, appends RESET
    /// records for the shards that differ (and moves an unusable matrix.npy aside to matrix.npy.damaged) so the
    /// coordinator recomputes them. The caller must hold the folder's `RunFolderLock`.
    public static func verifyCommits(in folder: RunFolder, reset: Bool, log: (String) -> Void = { _ in }) throws -> Verification {
        var result = Verification()
        guard FileManager.default.fileExists(atPath: folder.journalURL.path) else { return result }
        let job = try folder.loadManifest().job
        let plan = ShardPlan(job: job)
        let journal = try Journal(url: folder.journalURL)
        let committed = journal.state.committed.filter { $0.key >= 0 && $0.key < plan.shardCount }
        result.committed = committed.count
        guard !committed.isEmpty else { return result }
        do {
            result.damaged = try damagedShards(committed, matrix: folder.matrixURL, plan: plan)
        } catch let problem as MatrixProblem {
            result.matrixProblem = problem.text
            result.damaged = committed.keys.sorted()
            if reset && FileManager.default.fileExists(atPath: folder.matrixURL.path) {
                let aside = folder.url.appendingPathComponent("matrix.npy.damaged")
                try? FileManager.default.removeItem(at: aside)
                guard rename(folder.matrixURL.path, aside.path) == 0 else {
                    throw RuntimeError("cannot move the unusable \(folder.matrixURL.path) aside: \(String(cString: strerror(errno)))")
                }
            }
        }
        guard !result.damaged.isEmpty else { return result }
        if let problem = result.matrixProblem {
            log("integrity: \(problem); the \(result.damaged.count) committed shard(s) will be recomputed")
        } else {
            log("integrity: matrix.npy rows of shard(s) \(result.damaged) differ from their commit records; they will be recomputed")
        }
        if reset { try journal.append(result.damaged.map { .reset(shard: $0) }) }
        return result
    }

    /// Throws `RuntimeUsageError` unless every shard of the run is committed (none failed) and its bytes in
    /// matrix.npy match the journal: the analysis stages must never read a partial or altered matrix.
    public static func requireCompleteMatrix(in folder: RunFolder, forStage stage: String) throws {
        let plan = ShardPlan(job: try folder.loadManifest().job)
        let path = folder.url.path
        guard FileManager.default.fileExists(atPath: folder.journalURL.path) else {
            throw RuntimeUsageError(
                "\(path) has no attribution matrix yet (no journal); compute it with `modscope resume \(path)` before the \(stage) stage")
        }
        let state = try Journal(url: folder.journalURL).state
        let committed = state.committed.filter { $0.key >= 0 && $0.key < plan.shardCount }
        if committed.count < plan.shardCount {
            let failed = state.poisoned.keys.sorted()
            let next = failed.isEmpty ? "`modscope resume \(path)`" : "`modscope resubmit \(path)` (failed shards \(failed))"
            throw RuntimeUsageError(
                "the attribution matrix of \(path) is incomplete (\(committed.count) of \(plan.shardCount) shards committed); finish it with \(next) before the \(stage) stage")
        }
        let damaged: [Int]
        do { damaged = try damagedShards(committed, matrix: folder.matrixURL, plan: plan) } catch let problem as MatrixProblem {
            throw RuntimeUsageError("\(problem.text); recompute it with `modscope resume \(path)` before the \(stage) stage")
        }
        guard damaged.isEmpty else {
            throw RuntimeUsageError(
                "matrix.npy rows of shard(s) \(damaged) in \(path) differ from what was committed (the file was changed); recompute them with `modscope resume \(path)` before the \(stage) stage")
        }
    }

    /// matrix.npy cannot be read as this run's matrix at all.
    struct MatrixProblem: Error {
        var text: String
    }

    /// The committed shards whose rows in `matrix` do not have their recorded CRC-32C.
    static func damagedShards(_ committed: [Int: UInt32], matrix: URL, plan: ShardPlan) throws -> [Int] {
        guard FileManager.default.fileExists(atPath: matrix.path) else {
            throw MatrixProblem(text: "\(matrix.path) is missing")
        }
        let dataOffset: Int
        do {
            let shape = plan.matrixShape
            let writer = try NPYRowWriter(openingExisting: matrix.path, rows: shape.rows, columns: shape.columns)
            dataOffset = writer.dataOffset
            writer.close()
        } catch {
            throw MatrixProblem(text: "\(matrix.path) is not this run's matrix (\(error))")
        }
        let fd = open(matrix.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError("cannot read \(matrix.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var damaged: [Int] = []
        var buffer = [UInt8]()
        for (shard, crc) in committed.sorted(by: { $0.key < $1.key }) {
            let count = plan.resultBytes(of: shard)
            let offset = dataOffset + plan.rows(of: shard).lowerBound * plan.columns * MemoryLayout<Float>.size
            buffer = [UInt8](repeating: 0, count: count)
            guard try readFully(fd, into: &buffer, at: offset), CRC32C.checksum(buffer) == crc else {
                damaged.append(shard)
                continue
            }
        }
        return damaged
    }

    /// pread until `buffer` is full; false at end of file.
    static func readFully(_ fd: Int32, into buffer: inout [UInt8], at offset: Int) throws -> Bool {
        var done = 0
        let total = buffer.count
        while done < total {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, total - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RuntimeError("cannot read matrix.npy: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return false }
            done += n
        }
        return true
    }
}
