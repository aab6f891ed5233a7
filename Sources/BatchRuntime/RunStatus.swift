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

    public init(
        state: String, runId: String, epoch: UInt32, shardsTotal: Int, shardsDone: Int, shardsInFlight: Int,
        shardsPending: Int, shardsFailed: [Int], workers: Int, rowsDone: Int, rowsTotal: Int, rowsPerSecond: Double,
        etaSeconds: Double?, retries: Int, backups: Int, leasesExpired: Int, workersLost: Int, duplicatesDropped: Int, updatedAt: Date = Date()
    ) {
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

    /// One human line: "shards 12/96 (3 in flight, 0 failed) · 4 workers · 410 rows/s · ETA 3s".
    public var summaryLine: String {
        var line = "shards \(shardsDone)/\(shardsTotal) (\(shardsInFlight) in flight, \(shardsFailed.count) failed)"
        line += " · \(workers) workers · \(String(format: "%.0f", rowsPerSecond)) rows/s"
        if let eta = etaSeconds { line += " · ETA \(Int(eta.rounded()))s" }
        return line
    }
}
