import ArrayFiles
import BatchRuntime
import Foundation
import ZeroMQTransport
import ONNX
import TensorCore

/// The ablation table of an evaluation: for each evaluated sample, whether the intact model is correct and, for
/// every neuron set, the drop of the target output and whether it is still correct with the set silenced.
///
/// Computed in fixed blocks of 64 samples (the same blocks in-process and on workers), so evaluation.json has
/// the same bytes whatever computed it.
public struct AblationTask: Codable, Sendable, Equatable {
    public var spec: AttributionSpec
    /// Data rows evaluated, in order (thinned on large data sets).
    public var rows: [Int]
    /// Labels of those rows, or nil to compare with the intact model's predictions.
    public var referenceLabels: [Int]?
    /// Neuron sets to silence.
    public var sets: [[Int]]

    public static let blockRows = 64
    public var columns: Int { 1 + 2 * sets.count }

    /// Table rows for `range` (positions in `rows`), from their samples: (range.count, columns) row-major.
    func compute(range: Range<Int>, samples: [Float], model: ONNXModel) throws -> [Float] {
        var table = [Float]()
        table.reserveCapacity(range.count * columns)
        let perSample = spec.sampleShape.reduce(1, *)
        for start in stride(from: range.lowerBound, to: range.upperBound, by: Self.blockRows) {
            let block = start..<min(start + Self.blockRows, range.upperBound)
            let offset = (block.lowerBound - range.lowerBound) * perSample
            let values = Array(samples[offset..<(offset + block.count * perSample)])
            let probe = try AblationProbe(
                spec: spec, model: model, samples: Tensor(shape: [block.count] + spec.sampleShape, storage: values),
                labels: referenceLabels.map { Array($0[block]) })
            table.append(contentsOf: try probe.table(sets: sets))
        }
        return table
    }
}

/// Where the ablation table is computed: in this process, or as an "ablation" job on local worker processes.
public protocol AblationBackend {
    func table(for task: AblationTask) throws -> [Float]
}

/// In-process computation (used by `coordinator` runs, whose external workers have left, and by `evaluate`).
public struct LocalAblation: AblationBackend {
    public let model: ONNXModel
    public let source: any SampleTable
    public init(model: ONNXModel, source: any SampleTable) {
        self.model = model
        self.source = source
    }

    public func table(for task: AblationTask) throws -> [Float] {
        try task.compute(range: 0..<task.rows.count, samples: AblationJobKind.samples(task.rows, range: 0..<task.rows.count, from: source), model: model)
    }
}

/// The "ablation" job kind: rows = evaluated samples, columns = the ablation table.
public enum AblationJobKind {
    public static let name = "ablation"

    struct Parameters: Codable {
        var modelPath: String
        var dataPath: String
        var dataKey: String?
        var task: AblationTask
    }

    public static func register() {
        JobRegistry.shared.register(JobKind(
            name: name,
            makeComputer: { job in Computer(parameters: try decode(job)) },
            makeSampleSource: { job in
                let p = try decode(job)
                let table = try ModelSamples.table(for: p.task.spec, modelPath: p.modelPath, dataPath: p.dataPath, dataKey: p.dataKey)
                return Source(rows: p.task.rows, table: table)
            },
            loadModel: { job in try ONNXModel.selfContainedBytes(path: decode(job).modelPath) }))
    }

    static func decode(_ job: JobSpec) throws -> Parameters {
        do { return try JSONDecoder().decode(Parameters.self, from: job.parameters) } catch {
            throw InputError("the job's parameters are not an ablation job (\(error))")
        }
    }

    /// The samples of `rows[range]`, reading contiguous runs at once.
    static func samples(_ rows: [Int], range: Range<Int>, from table: any SampleTable) throws -> [Float] {
        var values = [Float]()
        var index = range.lowerBound
        while index < range.upperBound {
            var end = index + 1
            while end < range.upperBound && rows[end] == rows[end - 1] + 1 { end += 1 }
            values.append(contentsOf: try table.floatRows(rows[index]..<(rows[end - 1] + 1)))
            index = end
        }
        return values
    }

    /// A nested run folder RUN/ablation computed by the external workers `held` after the matrix (served on
    /// that endpoint, which dismisses them when the table is done), or else by `localWorkers` local processes.
    public static func runOnWorkers(
        _ task: AblationTask, parameters: AttributionJobParameters, folder: RunFolder, localWorkers: Int,
        held: CoordinatorEndpoint?, quiet: Bool
    ) throws -> [Float] {
        let nested = RunFolder(folder.url.appendingPathComponent("ablation"))
        let payload = Parameters(modelPath: parameters.modelPath, dataPath: parameters.dataPath, dataKey: parameters.dataKey, task: task)
        let bytes = try ONNXModel.selfContainedBytes(path: parameters.modelPath)
        let job = JobSpec(
            kind: name, parameters: try JSONEncoder().encode(payload), modelHash: SHA256.hex(bytes),
            rowCount: task.rows.count, sampleElementsPerRow: task.spec.sampleShape.reduce(1, *), columns: task.columns,
            shardSize: AblationTask.blockRows)
        if FileManager.default.fileExists(atPath: nested.url.path) { try FileManager.default.removeItem(at: nested.url) }
        _ = try nested.create(job: job, version: ModScopeVersion.string)
        var launch = RuntimeLaunch(folder: nested)
        launch.localWorkers = held == nil ? localWorkers : 0
        launch.sharedEndpoint = held
        launch.quiet = true
        let code = try RuntimeSession.execute(launch)
        guard code == RuntimeExitCode.ok else {
            throw InputError("the ablation job in \(nested.url.path) did not finish (exit code \(code)); see its coordinator.log")
        }
        let reader = try NPYReader(path: nested.matrixURL.path)
        let who = held == nil ? "\(localWorkers) local workers" : "the external workers"
        if !quiet { StandardError.write("evaluate: ablation table computed by \(who) (\(nested.url.path))\n") }
        return try reader.readAllFloats()
    }

    struct Source: SampleSource {
        let rows: [Int]
        let table: any SampleTable
        func samples(rows range: Range<Int>) throws -> [Float] { try AblationJobKind.samples(rows, range: range, from: table) }
    }

    final class Computer: ShardComputer, @unchecked Sendable {
        let parameters: Parameters
        private let cache = ModelCache<ONNXModel>()
        init(parameters: Parameters) { self.parameters = parameters }

        func computeRows(
            job: JobSpec, model: Data?, samples: UnsafeBufferPointer<Float>, firstRow: Int, rowCount: Int,
            progress: (Int) throws -> Void
        ) throws -> [Float] {
            let loaded = try cache.value(for: job, bytes: model, what: "ablation") { $0 }
            guard firstRow % AblationTask.blockRows == 0 else {
                throw InputError("ablation shards must start at multiples of \(AblationTask.blockRows) rows")
            }
            let table = try parameters.task.compute(range: firstRow..<(firstRow + rowCount), samples: Array(samples), model: loaded)
            try progress(rowCount)
            return table
        }
    }
}
