import Foundation

/// Progress of a run: RUN/status.json (rewritten atomically every second) and the STATUS reply.
public struct RunStatus: Codable, Sendable, Equatable {
    public var state: String  // "running", "done", "failed-shards", "stopped"
    public var runId: String
    public var epoch: UInt32
    public var shardsTotal: Int
    public var shardsDone: Int
    public var shardsInFlight: Int
    public var shardsPending: Int
    public var shardsFailed: [Int]
    public var workers: Int
    public var rowsDone: Int
    public var rowsTotal: Int
    public var rowsPerSecond: Double
    public var etaSeconds: Double?
    public var retries: Int
    public var backups: Int
    public var leasesExpired: Int
    /// Workers whose connection dropped (crash, kill) before their lease expired.
    public var workersLost: Int
    public var duplicatesDropped: Int
    public var updatedAt: Date
    /// One entry per connected worker, sorted by name (absent in status files of older versions).
    public var workerDetails: [WorkerStatus]?

    public init(
        state: String, runId: String, epoch: UInt32, shardsTotal: Int, shardsDone: Int, shardsInFlight: Int,
        shardsPending: Int, shardsFailed: [Int], workers: Int, rowsDone: Int, rowsTotal: Int, rowsPerSecond: Double,
        etaSeconds: Double?, retries: Int, backups: Int, leasesExpired: Int, workersLost: Int, duplicatesDropped: Int, updatedAt: Date = Date(),
        workerDetails: [WorkerStatus]? = nil
    ) {
        self.workerDetails = workerDetails
        self.state = state
        self.runId = runId
        self.epoch = epoch
        self.shardsTotal = shardsTotal
        self.shardsDone = shardsDone
        self.shardsInFlight = shardsInFlight
        self.shardsPending = shardsPending
        self.shardsFailed = shardsFailed
        self.workers = workers
        self.rowsDone = rowsDone
        self.rowsTotal = rowsTotal
        self.rowsPerSecond = rowsPerSecond
        self.etaSeconds = etaSeconds
        self.retries = retries
        self.backups = backups
        self.leasesExpired = leasesExpired
        self.workersLost = workersLost
        self.duplicatesDropped = duplicatesDropped
        self.updatedAt = updatedAt
    }

    public func jsonData() throws -> Data { try JSONEncoder.pretty.encode(self) }

    public static func decode(_ data: Data) throws -> RunStatus {
        try JSONDecoder.runFolder.decode(RunStatus.self, from: data)
    }

    /// One line per connected worker: name, what it computes, shards committed, memory, silence.
    public var workerLines: [String] {
        (workerDetails ?? []).map { w in
            var line = "  \(w.name): "
            line += w.computing.map { "computing shard \($0) (\(w.rowsDone) rows done)" } ?? "idle"
            line += ", holds \(w.held), \(w.shardsCommitted) committed"
            if w.rssBytes > 0 { line += String(format: ", RSS %.0f MB", Double(w.rssBytes) / 1e6) }
            line += String(format: ", last heard %.1f s ago", w.silentSeconds)
            return line
        }
    }

    /// One human line: "shards 12/96 (3 in flight, 0 failed) · 4 workers · 410 rows/s · ETA 3s".
    public var summaryLine: String {
        var line = "shards \(shardsDone)/\(shardsTotal) (\(shardsInFlight) in flight, \(shardsFailed.count) failed)"
        line += " · \(workers) workers · \(String(format: "%.0f", rowsPerSecond)) rows/s"
        if let eta = etaSeconds { line += " · ETA \(Int(eta.rounded()))s" }
        return line
    }
}

/// A connected worker as the coordinator sees it (status.json `workerDetails`, `modscope status`).
public struct WorkerStatus: Codable, Sendable, Equatable {
    /// "host:pid#incarnation".
    public var name: String
    /// The shard it reported computing in its last heartbeat, and the rows of it done.
    public var computing: Int?
    public var rowsDone: Int
    /// Copies assigned to it and not finished.
    public var held: Int
    /// Shards it computed that this coordinator committed.
    public var shardsCommitted: Int
    /// Resident memory of the worker process from its last heartbeat (0 = not reported).
    public var rssBytes: UInt64
    /// Seconds since the coordinator last heard from it.
    public var silentSeconds: Double

    public init(name: String, computing: Int?, rowsDone: Int, held: Int, shardsCommitted: Int, rssBytes: UInt64, silentSeconds: Double) {
        self.name = name
        self.computing = computing
        self.rowsDone = rowsDone
        self.held = held
        self.shardsCommitted = shardsCommitted
        self.rssBytes = rssBytes
        self.silentSeconds = silentSeconds
    }
}

/// Memory of this process, for heartbeats.
public enum ProcessMemory {
    /// Resident set size in bytes from /proc/self/statm (Linux); 0 where that is unavailable.
    public static func residentBytes() -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .ascii) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let pages = UInt64(fields[1]) else { return 0 }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }
}
