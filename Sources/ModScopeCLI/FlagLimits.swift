import ArgumentParser
import Attribution

/// The accepted range of every numeric flag, each named once with its unit and why. The bounds lie far beyond
/// real use and low enough that the arithmetic done on the values (rows rounded up to 64-row blocks, rows ×
/// columns × steps, seconds → nanoseconds or libzmq's Int32 milliseconds) cannot overflow: a value outside is a
/// usage error (exit 2) naming the flag and the range, never a trap or an allocation the machine cannot make.
enum FlagLimits {
    /// Compute threads of one process: beyond any machine's core count; each thread holds a block's buffers.
    static let threads = 1...1_024
    /// Integration steps (Captum's n_steps): the attribution library's range.
    static let steps = AttributionConfiguration.stepRange
    /// Rows per chunk (`--batch-size`) or per shard (`--shard-size`): 2^24 rows, so rounding up to whole
    /// 64-row blocks and multiplying by a row's bytes cannot overflow.
    static let rows = 1...(1 << 24)
    /// Local worker processes one `run` spawns (each is a process with its own memory estimate).
    static let localWorkers = 0...1_024
    /// Shards a worker holds at once: more only queues work the worker cannot start.
    static let credit = 1...64
    /// Attempts per shard before it is declared failed.
    static let attempts = 1...1_000
    /// Worker key pairs `keys generate` writes (two files each) into one folder.
    static let keyPairs = 1...10_000
    /// Samples `plan` times after its warm-up block.
    static let calibrationSamples = 1...100_000
    /// Timeouts, heartbeats and deadlines in seconds: 1 ms to 30 days (finite, so conversions to nanoseconds
    /// and to libzmq's Int32 milliseconds hold).
    static let seconds = 0.001...2_592_000.0

    /// Throws a usage error naming `flag` unless `value` lies in `range`.
    static func check(_ flag: String, _ value: Int, in range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw ValidationError("\(flag) must be within \(range.lowerBound)...\(range.upperBound) (got \(value)).")
        }
    }

    /// Throws a usage error naming `flag` unless `value` is a number in `range` (NaN never is).
    static func check(_ flag: String, _ value: Double, in range: ClosedRange<Double> = seconds) throws {
        guard range.contains(value) else {
            throw ValidationError("\(flag) must be a number of seconds within \(range.lowerBound)...\(Int(range.upperBound)) (got \(value)).")
        }
    }
}
