/// How a job's rows are cut into shards: shard i covers rows `i·shardSize ..< min((i+1)·shardSize, rowCount)`.
public struct ShardPlan: Sendable, Equatable {
    public let rowCount: Int
    public let shardSize: Int
    public let columns: Int
    /// Matrix rows per job row (`JobSpec.matrixRowsPerRow`): the matrix file is (rowCount·k, columns/k).
    public let matrixRowsPerRow: Int

    public init(rowCount: Int, shardSize: Int, columns: Int, matrixRowsPerRow: Int = 1) {
        self.rowCount = rowCount
        self.shardSize = max(1, shardSize)
        self.columns = columns
        self.matrixRowsPerRow = max(1, matrixRowsPerRow)
    }

    public init(job: JobSpec) {
        self.init(rowCount: job.rowCount, shardSize: job.shardSize, columns: job.columns, matrixRowsPerRow: job.matrixRowsPerRow ?? 1)
    }

    /// The matrix file's (rows, columns).
    public var matrixShape: (rows: Int, columns: Int) { (rowCount * matrixRowsPerRow, columns / matrixRowsPerRow) }

    public var shardCount: Int { (rowCount + shardSize - 1) / shardSize }

    public func rows(of shard: Int) -> Range<Int> {
        let start = shard * shardSize
        return start..<min(start + shardSize, rowCount)
    }

    /// Bytes of one shard's float32 result.
    public func resultBytes(of shard: Int) -> Int { rows(of: shard).count * columns * 4 }
}
