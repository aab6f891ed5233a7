/// Timing, retry and flow-control settings of the coordinator (reference: distributed-runtime.md §5).
public struct CoordinatorConfig: Sendable, Equatable {
    /// Seconds between application heartbeats in each direction (PPP/MDP use 1 s; any message counts as one).
    public var heartbeatInterval = 1.0
    /// Seconds of silence after which a worker's leases are revoked and its shards re-queued (5 heartbeats:
    /// tolerant of a busy host, still well under Ray's 15 s and Dask's minutes).
    public var leaseTimeout = 5.0
    /// Seconds without row progress on the shard a worker is computing before it is cancelled and re-queued:
    /// max(this, `stallMedianMultiple` × the median shard time), so slow-but-moving shards are never cancelled.
    public var stallTimeoutMinimum = 10.0
    public var stallMedianMultiple = 3.0
    /// Assignments per shard before it is declared failed (Spark 4, Ray 3+1, Dask 3).
    public var maxAttempts = 4
    /// Worker deaths while computing a shard that make it poison (MapReduce skips a record after >1 crash).
    public var poisonDeaths = 2
    /// Bytes per RESULT chunk (zguide ch. 7 uses 250 kB; 4 MiB keeps per-message overhead < 0.1% for big shards).
    public var chunkBytes = 4 * 1024 * 1024
    /// Unacknowledged RESULT chunks a worker may send: coordinator result memory ≤ workers × this × chunkBytes.
    public var maxChunksInFlight = 4
    /// Fraction of committed shards after which stragglers get a backup copy (Spark speculation quantile 0.75).
    public var speculationStartFraction = 0.75
    /// A running shard is a straggler when it has run longer than this × the median shard time (Spark 1.5).
    public var speculationMultiplier = 1.5
    /// Turn backups off (tests that count attempts exactly).
    public var speculation = true
    /// Send DISCONNECT(done) to every worker when the run completes; false when the driver keeps them for a next
    /// job of the same coordinator process.
    public var dismissWorkersAtEnd = true

    public init() {}
}
