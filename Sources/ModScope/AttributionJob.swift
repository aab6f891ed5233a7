import ArrayFiles
import Attribution
import Autodiff
import Foundation
import ONNX
import TensorCore

/// Which unit is explained (the `--target` flag).
public enum TargetSpec: Codable, Sendable, Equatable {
    case predicted
    case labels
    case index(Int)

    /// Parses `predicted`, `labels` or a non-negative integer.
    public init(parsing text: String) throws {
        switch text {
        case "predicted": self = .predicted
        case "labels": self = .labels
        default:
            guard let index = Int(text), index >= 0 else {
                throw InputError("--target '\(text)' is not valid; use predicted, labels or a unit index such as 3")
            }
            self = .index(index)
        }
    }
}

/// Everything that defines an attribution matrix, resolved and validated: persisted in run folders and sent to
/// workers, so a worker computes exactly what `modscope attribute` computes.
public struct AttributionSpec: Codable, Sendable, Equatable {
    public var layer: String
    public var output: String
    public var input: String
    public var configuration: AttributionConfiguration
    public var target: TargetSpec
    /// One label per sample when `target == .labels`.
    public var labels: [Int]?
    /// One baseline sample (nil = zeros).
    public var baseline: [Float]?
    public var sampleShape: [Int]
    public var rowCount: Int
    public var neuronCount: Int
}

/// User-facing attribution settings (the shared flags of `attribute`, `run` and `coordinator`).
public struct AttributionRequest: Sendable {
    public var modelPath: String
    public var dataPath: String
    public var dataKey: String?
    public var labelsPath: String?
    public var layer: String
    public var output: String?
    public var target: String
    public var baseline: String
    public var configuration: AttributionConfiguration

    public init(
        modelPath: String, dataPath: String, dataKey: String? = nil, labelsPath: String? = nil, layer: String,
        output: String? = nil, target: String = "predicted", baseline: String = "zero", configuration: AttributionConfiguration
    ) {
        self.modelPath = modelPath
        self.dataPath = dataPath
        self.dataKey = dataKey
        self.labelsPath = labelsPath
        self.layer = layer
        self.output = output
        self.target = target
        self.baseline = baseline
        self.configuration = configuration
    }

    /// Loads and checks everything: model, names, data shape, targets, labels, baseline.
    public func prepare() throws -> (spec: AttributionSpec, model: ONNXModel, table: any SampleTable, labels: [Int]?) {
        let model = try ONNXModel.load(path: modelPath)
        let layerName = try model.resolveTensor(layer, flag: "--layer")
        let outputName = try output.map { try model.resolveTensor($0, flag: "--output") } ?? model.defaultOutput()
        let table = try openSampleTable(path: dataPath, key: dataKey)
        guard table.rowCount > 0 else {
            throw InputError("--data '\(dataPath)' holds no samples; pass a file with at least one row")
        }
        try model.validate(sampleShape: table.rowShape)
        let input = try model.input
        let target = try TargetSpec(parsing: self.target)
        var labels: [Int]?
        if let labelsPath {
            let values = try readLabels(path: labelsPath)
            guard values.count == table.rowCount else {
                throw InputError(
                    "--labels '\(labelsPath)' has \(values.count) labels but --data '\(dataPath)' has \(table.rowCount) samples; they must match one to one")
            }
            labels = values
        }
        if target == .labels && labels == nil {
            throw InputError("--target labels needs --labels FILE with one class index per sample")
        }
        let perSample = table.rowShape.reduce(1, *)
        var baselineValues: [Float]?
        if baseline != "zero" {
            let reader = try NPYReader(path: baseline)
            guard reader.elementCount == perSample else {
                throw InputError(
                    "--baseline '\(baseline)' has shape \(reader.shape) but one sample has shape \(table.rowShape); save a single sample, shape (1, \(table.rowShape.map(String.init).joined(separator: ", "))), or use --baseline zero")
            }
            baselineValues = try reader.readAllFloats()
            if let bad = firstNonFinite(in: baselineValues!) {
                throw InputError("--baseline '\(baseline)' contains a non-finite value at element \(bad)")
            }
        }
        let attributor = try LayerAttributor(
            graph: model.graph, input: input.name, layer: layerName, output: outputName, sampleShape: table.rowShape,
            configuration: configuration)
        if case .index(let unit) = target, unit >= attributor.outputWidth {
            throw InputError("--target \(unit) is out of range: --output '\(outputName)' has \(attributor.outputWidth) units (0–\(attributor.outputWidth - 1))")
        }
        if target == .labels, let labels, let bad = labels.first(where: { $0 < 0 || $0 >= attributor.outputWidth }) {
            throw InputError("--labels contains class \(bad), but --output '\(outputName)' has \(attributor.outputWidth) units; labels must be unit indices")
        }
        let spec = AttributionSpec(
            layer: layerName, output: outputName, input: input.name, configuration: configuration, target: target,
            labels: target == .labels ? labels : nil, baseline: baselineValues, sampleShape: table.rowShape,
            rowCount: table.rowCount, neuronCount: attributor.neuronCount)
        return (spec, model, table, labels)
    }
}

/// Computes attribution rows for a spec: the core of `modscope attribute` and of every worker.
public struct AttributionComputer: Sendable {
    public let spec: AttributionSpec
    let blocked: BlockedAttribution

    public init(spec: AttributionSpec, model: ONNXModel, threads: Int) throws {
        self.spec = spec
        let attributor = try LayerAttributor(
            graph: model.graph, input: spec.input, layer: spec.layer, output: spec.output, sampleShape: spec.sampleShape,
            configuration: spec.configuration)
        guard attributor.neuronCount == spec.neuronCount else {
            throw InputError("the model's layer '\(spec.layer)' has \(attributor.neuronCount) neurons, the job expects \(spec.neuronCount); is it the same model?")
        }
        blocked = BlockedAttribution(attributor: attributor, threads: threads)
    }

    /// The shortcuts the path methods take here (`LayerAttributor.evaluationNote`).
    public var evaluationNote: String? { blocked.attributor.evaluationNote }

    /// Rows `range` (starting at a multiple of the block size) from their samples.
    public func rows(_ range: Range<Int>, samples: [Float], progress: (@Sendable (Int) -> Void)? = nil) throws -> BlockedAttribution.Output {
        let perSample = spec.sampleShape.reduce(1, *)
        guard range.lowerBound % spec.configuration.blockSamples == 0, samples.count == range.count * perSample else {
            throw InputError(
                "rows \(range) do not start on a block boundary (a multiple of \(spec.configuration.blockSamples)) or do not match the samples sent; shards must be multiples of \(AttributionConfiguration.shardAlignment) rows")
        }
        if let bad = firstNonFinite(in: samples) {
            throw InputError("sample \(range.lowerBound + bad / perSample) of the data contains NaN or infinity; clean the data first")
        }
        let targets: [Int]?
        switch spec.target {
        case .predicted: targets = nil
        case .labels: targets = Array(spec.labels![range])
        case .index(let unit): targets = [Int](repeating: unit, count: range.count)
        }
        return try blocked.attribute(
            range: range, samples: samples, baselines: spec.baseline ?? [Float](repeating: 0, count: perSample),
            targets: targets, progress: progress)
    }
}
