/// How a job's rows are cut into shards: shard i covers rows `i·shardSize ..< min((i+1)·shardSize, rowCount)`.
public struct ShardPlan: Sendable, Equatable {
    public let rowCount: Int
    public let shardSize: Int
    public let columns: Int

    public init(rowCount: Int, shardSize: Int, columns: Int) {
        self.rowCount = rowCount
        self.shardSize = max(1, shardSize)
        self.columns = columns
    }

    public init(job: JobSpec) { self.init(rowCount: job.rowCount, shardSize: job.shardSize, columns: job.columns) }

    public var shardCount: Int { (rowCount + shardSize - 1) / shardSize }

    public func rows(of shard: Int) -> Range<Int> {
        let start = shard * shardSize
        return start..<min(start + shardSize, rowCount)
    }

    /// Bytes of one shard's float32 result.
    public func resultBytes(of shard: Int) -> Int { rows(of: shard).count * columns * 4 }
}
