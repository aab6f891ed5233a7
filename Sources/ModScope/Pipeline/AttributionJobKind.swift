import ArrayFiles
import Attribution
import BatchRuntime
import Biclustering
import Foundation
import ONNX
import TensorCore

/// What the coordinator persists and sends for an attribution job (`JobSpec.parameters`).
public struct AttributionJobParameters: Codable, Sendable, Equatable {
    /// Coordinator-side paths (workers never read them: samples and model travel over the wire).
    public var modelPath: String
    public var dataPath: String
    public var dataKey: String?
    public var labelsPath: String?
    public var modelSHA256: String
    public var dataSHA256: String
    public var spec: AttributionSpec
    public var analysis: AnalysisSettings
    /// `LayerAttributor.evaluationNote` at job creation (nil when no shortcut applies, or from older runs).
    public var evaluationNote: String?
}

/// The "attribution" job kind of the distributed runtime: workers compute `AttributionComputer` rows; the
/// coordinator reads samples from the data file and sends a self-contained copy of the model.
public enum AttributionJobKind {
    public static let name = "attribution"

    /// Registers the kind (idempotent) and pins BLAS to one thread on worker compute threads (block-level
    /// parallelism keeps results independent of the thread count).
    public static func register() {
        RuntimeHooks.shared.configureComputeThread = { threads in
            BLAS.ensureConfigured()
            ComputeThreads.shared.count = max(1, threads)
        }
        JobRegistry.shared.register(JobKind(
            name: name,
            makeComputer: { job in try Computer(parameters: decode(job)) },
            makeSampleSource: { job in
                let parameters = try decode(job)
                return Samples(table: try ModelSamples.table(
                    for: parameters.spec, modelPath: parameters.modelPath, dataPath: parameters.dataPath, dataKey: parameters.dataKey))
            },
            loadModel: { job in
                let parameters = try decode(job)
                let bytes = try ONNXModel.selfContainedBytes(path: parameters.modelPath)
                let hash = SHA256.hex(bytes)
                guard hash == job.modelHash else {
                    throw InputError(
                        "the model file '\(parameters.modelPath)' changed since the run started (SHA-256 \(hash.prefix(12))…, expected \(job.modelHash?.prefix(12) ?? "none")…); restore it or start a new run")
                }
                return bytes
            }))
    }

    /// Builds the job for a request: validates everything up front (exit 2 before any process starts).
    public static func makeJob(request: AttributionRequest, analysis: AnalysisSettings, shardSize: Int) throws
        -> (job: JobSpec, parameters: AttributionJobParameters)
    {
        let (spec, model, _, _) = try request.prepare()
        // Every analysis setting is checked against the matrix's shape now, not after the attribution.
        try Biclusterer(config: try analysis.biclusterConfig()).validate(rows: spec.matrixRowCount, cols: spec.neuronCount)
        try analysis.checkImageShape(sampleShape: spec.sampleShape)
        let note = try AttributionComputer(spec: spec, model: model, threads: 1).evaluationNote
        let alignment = AttributionConfiguration.shardAlignment
        guard shardSize >= 1 else { throw InputError("--shard-size must be at least 1 (got \(shardSize))") }
        // Shards start on determinism-block boundaries so every worker computes identical bytes.
        let aligned = (shardSize + alignment - 1) / alignment * alignment
        let modelHash = SHA256.hex(try ONNXModel.selfContainedBytes(path: request.modelPath))
        let parameters = AttributionJobParameters(
            modelPath: absolute(request.modelPath), dataPath: absolute(request.dataPath), dataKey: request.dataKey,
            labelsPath: request.labelsPath.map(absolute), modelSHA256: modelHash,
            dataSHA256: try SHA256.hex(fileAt: request.dataPath), spec: spec, analysis: analysis,
            evaluationNote: note)
        let job = JobSpec(
            kind: name, parameters: try JSONEncoder().encode(parameters), modelHash: modelHash,
            rowCount: spec.rowCount, sampleElementsPerRow: spec.sampleShape.reduce(1, *),
            columns: spec.neuronCount * spec.matrixRowsPerSample, shardSize: aligned, matrixRowsPerRow: spec.rowsPerSample)
        return (job, parameters)
    }

    /// A human-readable summary for run.json.
    public static func summary(_ p: AttributionJobParameters) -> [String: String] {
        var summary = [
            "model": p.modelPath, "model_sha256": p.modelSHA256, "data": p.dataPath, "data_sha256": p.dataSHA256,
            "layer": p.spec.layer, "output": p.spec.output, "method": p.spec.configuration.method.rawValue,
            "steps": String(p.spec.configuration.steps), "quadrature": p.spec.configuration.quadrature.rawValue,
            "target": "\(p.spec.target)", "baseline": p.spec.baseline == nil ? "zero" : "file",
            "samples": String(p.spec.rowCount), "neurons": String(p.spec.neuronCount),
            "k": p.analysis.k, "restarts": String(p.analysis.restarts), "transform": p.analysis.transform,
            "seed": String(p.analysis.seed),
        ]
        if let labels = p.labelsPath { summary["labels"] = labels }
        if let granularity = p.spec.configuration.granularity { summary["granularity"] = granularity.rawValue }
        if let inputs = p.spec.inputs { summary["inputs"] = inputs.slots.map(\.name).joined(separator: ", ") }
        if let start = p.spec.interpolateAt { summary["interpolate_at"] = start }
        if let vocab = p.analysis.vocab { summary["vocab"] = vocab }
        if let note = p.evaluationNote { summary["evaluation"] = note }
        if let key = p.dataKey { summary["data_key"] = key }
        return summary
    }

    public static func decode(_ job: JobSpec) throws -> AttributionJobParameters {
        do { return try JSONDecoder().decode(AttributionJobParameters.self, from: job.parameters) } catch {
            throw InputError("the job's parameters are not an attribution job (\(error)); is this run from another ModScope version?")
        }
    }

    static func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

    /// Coordinator-side sample reader.
    struct Samples: SampleSource {
        let table: any SampleTable
        func samples(rows: Range<Int>) throws -> [Float] { try table.floatRows(rows) }
    }

    /// Worker-side computer: the model is parsed once per distinct model (by content hash) and reused.
    final class Computer: ShardComputer, @unchecked Sendable {
        let parameters: AttributionJobParameters
        private let cache = ModelCache<AttributionComputer>()

        init(parameters: AttributionJobParameters) { self.parameters = parameters }

        func computeRows(
            job: JobSpec, model: Data?, samples: UnsafeBufferPointer<Float>, firstRow: Int, rowCount: Int,
            progress: (Int) throws -> Void
        ) throws -> [Float] {
            let computer = try cache.value(for: job, bytes: model, what: "attribution") { loaded in
                try AttributionComputer(spec: parameters.spec, model: loaded, threads: ComputeThreads.shared.count)
            }
            let perSample = job.sampleElementsPerRow
            var rows = [Float]()
            rows.reserveCapacity(rowCount * job.columns)
            // Whole alignment units at a time, so a cancelled shard stops within one unit.
            let unit = AttributionConfiguration.shardAlignment
            for start in stride(from: 0, to: rowCount, by: unit) {
                let count = min(unit, rowCount - start)
                let slice = Array(samples[(start * perSample)..<((start + count) * perSample)])
                let output = try computer.rows(firstRow + start..<(firstRow + start + count), samples: slice)
                rows.append(contentsOf: output.attributions)
                try progress(start + count)
            }
            return rows
        }
    }
}

/// The worker's `--threads`, read by attribution computers.
final class ComputeThreads: @unchecked Sendable {
    static let shared = ComputeThreads()
    private let lock = NSLock()
    private var value = 1
    var count: Int {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
