import Foundation

/// What a run computes: an opaque job the runtime shards and moves without interpreting it.
///
/// Persisted in RUN/run.json (so `resume` needs nothing but the run folder) and sent to every worker in WELCOME.
/// Only the `ShardComputer` and `JobKind` registered for `kind` read `parameters`. In JSON, `parameters` is the
/// parameters' own JSON object, readable in run.json; folders written before hold base64 of the same JSON, which
/// is still read.
public struct JobSpec: Codable, Sendable, Equatable {
    /// The registered kind: "synthetic" (built in) or "attribution" (registered by the ModScope library).
    public var kind: String
    /// JSON that only the kind interprets (model path, layer, method, … or the synthetic kernel's settings).
    public var parameters: Data
    /// sha256 hex of the model bytes; workers cache models by hash and ask for the bytes when they lack them.
    public var modelHash: String?
    /// Rows of the output matrix (= samples).
    public var rowCount: Int
    /// float32 values per sample row sent to workers.
    public var sampleElementsPerRow: Int
    /// Columns of the output matrix (= neurons).
    public var columns: Int
    /// Rows per shard (the last shard may be shorter).
    public var shardSize: Int
    /// Matrix rows one job row fills (nil: 1). With k > 1 the matrix file is (rowCount·k, columns/k): the same
    /// bytes as (rowCount, columns), one row per (sample, position) for token granularity.
    public var matrixRowsPerRow: Int?

    /// The matrix file's (rows, columns).
    public var matrixShape: (rows: Int, columns: Int) {
        let k = max(1, matrixRowsPerRow ?? 1)
        return (rowCount * k, columns / k)
    }

    public init(
        kind: String, parameters: Data, modelHash: String? = nil, rowCount: Int, sampleElementsPerRow: Int,
        columns: Int, shardSize: Int, matrixRowsPerRow: Int? = nil
    ) {
        self.matrixRowsPerRow = matrixRowsPerRow
        self.kind = kind
        self.parameters = parameters
        self.modelHash = modelHash
        self.rowCount = rowCount
        self.sampleElementsPerRow = sampleElementsPerRow
        self.columns = columns
        self.shardSize = shardSize
    }

    enum CodingKeys: String, CodingKey {
        case kind, parameters, modelHash, rowCount, sampleElementsPerRow, columns, shardSize, matrixRowsPerRow
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(String.self, forKey: .kind)
        switch try c.decode(JSONValue.self, forKey: .parameters) {
        case .string(let base64):  // older run folders
            guard let bytes = Data(base64Encoded: base64) else {
                throw DecodingError.dataCorruptedError(forKey: .parameters, in: c, debugDescription: "parameters are neither JSON nor base64")
            }
            parameters = bytes
        case let value:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            parameters = try encoder.encode(value)
        }
        modelHash = try c.decodeIfPresent(String.self, forKey: .modelHash)
        rowCount = try c.decode(Int.self, forKey: .rowCount)
        sampleElementsPerRow = try c.decode(Int.self, forKey: .sampleElementsPerRow)
        columns = try c.decode(Int.self, forKey: .columns)
        shardSize = try c.decode(Int.self, forKey: .shardSize)
        matrixRowsPerRow = try c.decodeIfPresent(Int.self, forKey: .matrixRowsPerRow)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        if let value = try? JSONDecoder().decode(JSONValue.self, from: parameters), case .object = value {
            try c.encode(value, forKey: .parameters)
        } else {
            try c.encode(parameters.base64EncodedString(), forKey: .parameters)
        }
        try c.encodeIfPresent(modelHash, forKey: .modelHash)
        try c.encode(rowCount, forKey: .rowCount)
        try c.encode(sampleElementsPerRow, forKey: .sampleElementsPerRow)
        try c.encode(columns, forKey: .columns)
        try c.encode(shardSize, forKey: .shardSize)
        try c.encodeIfPresent(matrixRowsPerRow, forKey: .matrixRowsPerRow)
    }

    /// Checks the shape fields; throws a message naming the bad value.
    public func validate() throws {
        guard rowCount >= 1 else { throw RuntimeError("the job has \(rowCount) rows; it needs at least 1 sample") }
        guard columns >= 1 else { throw RuntimeError("the job has \(columns) columns; the layer must have at least 1 neuron") }
        guard sampleElementsPerRow >= 0 else { throw RuntimeError("sampleElementsPerRow \(sampleElementsPerRow) is negative") }
        guard columns * 4 <= WireProtocol.maxBodyBytes - 4096 else {
            throw RuntimeError("\(columns) columns exceed one 4 MiB result chunk per row; attribute a smaller layer or use --granularity channel")
        }
        guard shardSize >= 1 else { throw RuntimeError("--shard-size \(shardSize) must be at least 1 row") }
        if let k = matrixRowsPerRow, k < 1 || columns % k != 0 {
            throw RuntimeError("the job's matrixRowsPerRow \(k) does not divide its \(columns) columns; is the run folder damaged?")
        }
        guard shardSize * columns * 4 <= 1 << 30 else {
            throw RuntimeError("a shard of \(shardSize) rows × \(columns) columns exceeds 1 GiB; use a smaller --shard-size")
        }
    }
}

/// Computes output rows for one shard. Runs on the worker's compute thread, never on the socket thread.
///
/// Must be deterministic: the same job, model and samples give the same bytes (the final matrix is byte-identical
/// whatever the sharding, the workers and the failures, and concurrent backup copies write identical bytes).
public protocol ShardComputer: Sendable {
    /// - Parameters:
    ///   - job: the job description.
    ///   - model: the model bytes, when `job.modelHash` is set.
    ///   - samples: `rowCount × job.sampleElementsPerRow` floats, row-major.
    ///   - firstRow: the global index of the first row (for row-dependent kernels and error messages).
    ///   - rowCount: rows in this shard.
    ///   - progress: call with the number of rows finished so far; it throws `CancellationError` once the
    ///     coordinator cancelled the shard, so computers should let it propagate.
    /// - Returns: `rowCount × job.columns` floats, row-major.
    func computeRows(
        job: JobSpec, model: Data?, samples: UnsafeBufferPointer<Float>, firstRow: Int, rowCount: Int,
        progress: (Int) throws -> Void
    ) throws -> [Float]
}

/// Reads sample rows on the coordinator (to ship them in ASSIGN).
public protocol SampleSource: Sendable {
    /// `rows.count × sampleElementsPerRow` floats, row-major.
    func samples(rows: Range<Int>) throws -> [Float]
}

/// Everything the runtime needs to know about one job kind, on both sides.
public struct JobKind: Sendable {
    public var name: String
    /// Worker side: the computer (may preload anything from the parameters; the model comes per call).
    public var makeComputer: @Sendable (JobSpec) throws -> any ShardComputer
    /// Coordinator side: the sample reader, built from the persisted job alone.
    public var makeSampleSource: @Sendable (JobSpec) throws -> any SampleSource
    /// Coordinator side: the model bytes whose sha256 is `job.modelHash` (nil when the job has no model).
    public var loadModel: @Sendable (JobSpec) throws -> Data?

    public init(
        name: String, makeComputer: @escaping @Sendable (JobSpec) throws -> any ShardComputer,
        makeSampleSource: @escaping @Sendable (JobSpec) throws -> any SampleSource,
        loadModel: @escaping @Sendable (JobSpec) throws -> Data? = { _ in nil }
    ) {
        self.name = name
        self.makeComputer = makeComputer
        self.makeSampleSource = makeSampleSource
        self.loadModel = loadModel
    }
}

/// Maps a job's `kind` to its `JobKind`. "synthetic" is registered from the start; the ModScope library registers
/// "attribution" (call `JobRegistry.shared.register` before starting a coordinator or worker).
public final class JobRegistry: @unchecked Sendable {
    /// The process-wide registry. Access is serialised by `lock`.
    public static let shared = JobRegistry()
    private let lock = NSLock()
    private var kinds: [String: JobKind] = [SyntheticJob.kindName: SyntheticJob.kind]

    public init() {}

    public func register(_ kind: JobKind) {
        lock.lock()
        defer { lock.unlock() }
        kinds[kind.name] = kind
    }

    /// The kind, or an error listing the registered ones.
    public func kind(named name: String) throws -> JobKind {
        lock.lock()
        defer { lock.unlock() }
        guard let kind = kinds[name] else {
            throw RuntimeError(
                "unknown job kind \"\(name)\"; this build knows \(kinds.keys.sorted().joined(separator: ", ")) — update the worker binary")
        }
        return kind
    }
}
