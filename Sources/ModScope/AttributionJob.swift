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

/// Turns per-layer progress (samples done in one layer) into samples done in all layers: the running total
/// over layers divided by the layer count.
final class ProgressShares: @unchecked Sendable {
    private let lock = NSLock()
    private let layers: Int
    private let report: (@Sendable (Int) -> Void)?
    private var total = 0
    private var reported = 0

    init(layers: Int, report: (@Sendable (Int) -> Void)?) {
        self.layers = layers
        self.report = report
    }

    func add(_ samples: Int) {
        let step: Int = lock.withLock {
            total += samples
            let done = total / layers
            defer { reported = done }
            return done - reported
        }
        if step > 0 { report?(step) }
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
    /// Several `--layer` flags: which columns come from which layer, in column order (contiguous, covering
    /// 0..<neuronCount). nil for a one-layer matrix (the format of older run folders), whose columns are all
    /// `layer`'s.
    public var layers: [LayerColumns]?

    /// Joins the layer names in `layer` when there are several (display only; the tensors are in `layers`).
    public static let layerSeparator = " + "

    /// The layers and their columns, for one layer as well as several.
    public var layerColumns: [LayerColumns] {
        layers ?? [LayerColumns(layer: layer, start: 0, count: neuronCount)]
    }
}

/// Columns start..<start + count of the matrix are the neurons (or channels) of `layer`, in its order.
public struct LayerColumns: Codable, Sendable, Equatable {
    public var layer: String
    public var start: Int
    public var count: Int

    public init(layer: String, start: Int, count: Int) {
        self.layer = layer
        self.start = start
        self.count = count
    }

    public var range: Range<Int> { start..<(start + count) }
}

/// User-facing attribution settings (the shared flags of `attribute`, `run` and `coordinator`).
public struct AttributionRequest: Sendable {
    public var modelPath: String
    public var dataPath: String
    public var dataKey: String?
    public var labelsPath: String?
    /// One or more `--layer` values (tensor, node or module names): their columns, concatenated in this order.
    public var layers: [String]
    public var output: String?
    public var target: String
    public var baseline: String
    public var configuration: AttributionConfiguration

    public init(
        modelPath: String, dataPath: String, dataKey: String? = nil, labelsPath: String? = nil, layers: [String],
        output: String? = nil, target: String = "predicted", baseline: String = "zero", configuration: AttributionConfiguration
    ) {
        self.modelPath = modelPath
        self.dataPath = dataPath
        self.dataKey = dataKey
        self.labelsPath = labelsPath
        self.layers = layers
        self.output = output
        self.target = target
        self.baseline = baseline
        self.configuration = configuration
    }

    /// One layer.
    public init(
        modelPath: String, dataPath: String, dataKey: String? = nil, labelsPath: String? = nil, layer: String,
        output: String? = nil, target: String = "predicted", baseline: String = "zero", configuration: AttributionConfiguration
    ) {
        self.init(
            modelPath: modelPath, dataPath: dataPath, dataKey: dataKey, labelsPath: labelsPath, layers: [layer], output: output,
            target: target, baseline: baseline, configuration: configuration)
    }

    /// Loads and checks everything: model, names, data shape, targets, labels, baseline.
    public func prepare() throws -> (spec: AttributionSpec, model: ONNXModel, table: any SampleTable, labels: [Int]?) {
        let model = try ONNXModel.load(path: modelPath)
        guard !layers.isEmpty else { throw InputError("--layer is missing: name the hidden layer (see `modscope inspect MODEL`)") }
        let layerNames = try layers.map { try model.resolveLayer($0) }
        if let repeated = layerNames.enumerated().first(where: { layerNames.firstIndex(of: $0.element)! != $0.offset }) {
            throw InputError("--layer '\(layers[repeated.offset])' names the tensor '\(repeated.element)' a second time; give each layer once")
        }
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
        let attributors = try layerNames.map {
            try LayerAttributor(
                graph: model.graph, input: input.name, layer: $0, output: outputName, sampleShape: table.rowShape,
                configuration: configuration)
        }
        let attributor = attributors[0]
        if case .index(let unit) = target, unit >= attributor.outputWidth {
            throw InputError("--target \(unit) is out of range: --output '\(outputName)' has \(attributor.outputWidth) units (0–\(attributor.outputWidth - 1))")
        }
        if target == .labels, let labels, let bad = labels.first(where: { $0 < 0 || $0 >= attributor.outputWidth }) {
            throw InputError("--labels contains class \(bad), but --output '\(outputName)' has \(attributor.outputWidth) units; labels must be unit indices")
        }
        var columns = [LayerColumns]()
        for (name, layerAttributor) in zip(layerNames, attributors) {
            columns.append(LayerColumns(layer: name, start: columns.last.map { $0.start + $0.count } ?? 0, count: layerAttributor.neuronCount))
        }
        let spec = AttributionSpec(
            layer: layerNames.joined(separator: AttributionSpec.layerSeparator), output: outputName, input: input.name,
            configuration: configuration, target: target, labels: target == .labels ? labels : nil, baseline: baselineValues,
            sampleShape: table.rowShape, rowCount: table.rowCount, neuronCount: columns.reduce(0) { $0 + $1.count },
            layers: columns.count > 1 ? columns : nil)
        return (spec, model, table, labels)
    }
}

/// Computes attribution rows for a spec: the core of `modscope attribute` and of every worker.
///
/// With several layers each layer's attributions are computed on their own (the same per-layer numbers as a
/// one-layer matrix, so Captum parity holds column by column) and row i is layer 1's row i, then layer 2's, ….
public struct AttributionComputer: Sendable {
    public let spec: AttributionSpec
    let blocked: [BlockedAttribution]

    public init(spec: AttributionSpec, model: ONNXModel, threads: Int) throws {
        self.spec = spec
        blocked = try spec.layerColumns.map { columns in
            let attributor = try LayerAttributor(
                graph: model.graph, input: spec.input, layer: columns.layer, output: spec.output, sampleShape: spec.sampleShape,
                configuration: spec.configuration)
            guard attributor.neuronCount == columns.count else {
                throw InputError("the model's layer '\(columns.layer)' has \(attributor.neuronCount) neurons, the job expects \(columns.count); is it the same model?")
            }
            return BlockedAttribution(attributor: attributor, threads: threads)
        }
    }

    /// The shortcuts the path methods take here (`LayerAttributor.evaluationNote`), each stated once even when
    /// several layers share it (two layers behind the same affine prefix).
    public var evaluationNote: String? {
        var seen = Set<String>()
        let notes = blocked.compactMap { $0.attributor.evaluationNote }
            .flatMap { $0.components(separatedBy: "; ") }
            .filter { seen.insert($0).inserted }
        return notes.isEmpty ? nil : notes.joined(separator: "; ")
    }

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
        let baselines = spec.baseline ?? [Float](repeating: 0, count: perSample)
        if blocked.count == 1 {
            return try blocked[0].attribute(range: range, samples: samples, baselines: baselines, targets: targets, progress: progress)
        }
        // Progress counts samples once all layers are done with them: each layer reports a share.
        let layers = blocked.count
        let shares = ProgressShares(layers: layers, report: progress)
        let outputs = try blocked.map {
            try $0.attribute(range: range, samples: samples, baselines: baselines, targets: targets, progress: { shares.add($0) })
        }
        var combined = outputs[0]
        combined.attributions = [Float]()
        combined.attributions.reserveCapacity(range.count * spec.neuronCount)
        for row in 0..<range.count {
            for (output, columns) in zip(outputs, spec.layerColumns) {
                combined.attributions.append(contentsOf: output.attributions[(row * columns.count)..<((row + 1) * columns.count)])
            }
        }
        return combined
    }
}
