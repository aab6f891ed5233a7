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
    /// The baseline's value at the interpolation tensor, one sample of `pathShape` (nil = zeros). For older
    /// run folders the interpolation tensor is the input, so this is one input sample.
    public var baseline: [Float]?
    /// Shape of a packed sample (`ModelInputs.packedShape`).
    public var sampleShape: [Int]
    /// Samples (N). The matrix has `rowCount · rowsPerSampleOrOne` rows.
    public var rowCount: Int
    public var neuronCount: Int
    /// The graph inputs a sample carries; nil: the single float `input` of shape `sampleShape` (older runs).
    public var inputs: ModelInputs?
    /// The float tensor where the path starts (`--interpolate-at`); nil: `input`.
    public var interpolateAt: String?
    /// Matrix rows per sample: T with `--granularity token`; nil: 1.
    public var rowsPerSample: Int?
    /// Several `--layer` flags: which columns come from which layer, in column order (contiguous, covering
    /// 0..<neuronCount). nil for a one-layer matrix (the format of older run folders), whose columns are all
    /// `layer`'s.
    public var layers: [LayerColumns]?

    /// Joins the layer names in `layer` when there are several (display only; the tensors are in `layers`).
    public static let layerSeparator = " + "

    /// The inputs, for older specs too.
    public var modelInputs: ModelInputs { inputs ?? .single(input, shape: sampleShape) }
    /// Where the path starts, for older specs too.
    public var pathStart: String { interpolateAt ?? input }
    /// Matrix rows per sample (1 unless token granularity).
    public var matrixRowsPerSample: Int { rowsPerSample ?? 1 }
    /// Rows of the attribution matrix.
    public var matrixRowCount: Int { rowCount * matrixRowsPerSample }

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
    /// `--interpolate-at`: nil = the model's float input, or the word-embedding output of a token model.
    public var interpolateAt: String?
    public var configuration: AttributionConfiguration

    public init(
        modelPath: String, dataPath: String, dataKey: String? = nil, labelsPath: String? = nil, layers: [String],
        output: String? = nil, target: String = "predicted", baseline: String = "zero", interpolateAt: String? = nil,
        configuration: AttributionConfiguration
    ) {
        self.interpolateAt = interpolateAt
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
        output: String? = nil, target: String = "predicted", baseline: String = "zero", interpolateAt: String? = nil,
        configuration: AttributionConfiguration
    ) {
        self.init(
            modelPath: modelPath, dataPath: dataPath, dataKey: dataKey, labelsPath: labelsPath, layers: [layer], output: output,
            target: target, baseline: baseline, interpolateAt: interpolateAt, configuration: configuration)
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
        let samples = try ModelSamples.open(model: model, path: dataPath, key: dataKey)
        let table = samples.table
        guard table.rowCount > 0 else {
            throw InputError("--data '\(dataPath)' holds no samples; pass a file with at least one row")
        }
        let pathStart = try interpolationTensor(model: model, inputs: samples.inputs)
        let target = try TargetSpec(parsing: self.target)
        let labels = try readLabels(rows: table.rowCount)
        if target == .labels && labels == nil {
            throw InputError("--target labels needs --labels FILE with one class index per sample")
        }
        let attributors = try layerNames.map {
            try LayerAttributor(
                graph: model.graph, inputs: samples.inputs, interpolateAt: pathStart, layer: $0, output: outputName,
                configuration: configuration)
        }
        let attributor = attributors[0]
        if let other = attributors.first(where: { $0.rowsPerSample != attributor.rowsPerSample }) {
            throw InputError(
                "--granularity token gives layer '\(attributor.layer)' \(attributor.rowsPerSample) rows per sample but '\(other.layer)' \(other.rowsPerSample); combine layers with the same positions")
        }
        if case .index(let unit) = target, unit >= attributor.outputWidth {
            throw InputError("--target \(unit) is out of range: --output '\(outputName)' has \(attributor.outputWidth) units (0–\(attributor.outputWidth - 1))")
        }
        if target == .labels, let labels, let bad = labels.first(where: { $0 < 0 || $0 >= attributor.outputWidth }) {
            throw InputError("--labels contains class \(bad), but --output '\(outputName)' has \(attributor.outputWidth) units; labels must be unit indices")
        }
        let baselineValues = try baselineAtPath(model: model, attributor: attributor)
        var columns = [LayerColumns]()
        for (name, layerAttributor) in zip(layerNames, attributors) {
            columns.append(LayerColumns(layer: name, start: columns.last.map { $0.start + $0.count } ?? 0, count: layerAttributor.neuronCount))
        }
        let single = samples.inputs.slots.count == 1 && samples.inputs.slots[0].name == pathStart && !samples.inputs.slots[0].isInteger
        let spec = AttributionSpec(
            layer: layerNames.joined(separator: AttributionSpec.layerSeparator), output: outputName,
            input: samples.inputs.slots.first { !$0.isInteger }?.name ?? samples.inputs.slots[0].name,
            configuration: configuration, target: target, labels: target == .labels ? labels : nil, baseline: baselineValues,
            sampleShape: table.rowShape, rowCount: table.rowCount, neuronCount: columns.reduce(0) { $0 + $1.count },
            inputs: single ? nil : samples.inputs, interpolateAt: single ? nil : pathStart,
            rowsPerSample: attributor.rowsPerSample == 1 ? nil : attributor.rowsPerSample, layers: columns.count > 1 ? columns : nil)
        return (spec, model, table, labels)
    }

    /// `--interpolate-at` resolved: a float tensor of the graph, by default the float input or the
    /// word-embedding output.
    func interpolationTensor(model: ONNXModel, inputs: ModelInputs) throws -> String {
        if let interpolateAt {
            let name = try model.resolveTensor(interpolateAt, flag: "--interpolate-at")
            if let slot = inputs.slot(named: name), slot.isInteger {
                throw InputError(
                    "--interpolate-at '\(interpolateAt)' is the integer input '\(name)'; the path must start at a float tensor such as the embedding output\(model.wordEmbeddingOutput.map { " '\($0)'" } ?? "")")
            }
            return name
        }
        if let float = inputs.slots.first(where: { !$0.isInteger }) { return float.name }
        guard let embedding = model.wordEmbeddingOutput else {
            throw InputError(
                "the model has no float input and no embedding lookup of its integer inputs; name the float tensor where the path starts with --interpolate-at (see `modscope inspect`)")
        }
        return embedding
    }

    /// `--labels`, one per sample, or nil without the flag.
    func readLabels(rows: Int) throws -> [Int]? {
        guard let labelsPath else { return nil }
        let values = try ArrayFiles.readLabels(path: labelsPath)
        guard values.count == rows else {
            throw InputError(
                "--labels '\(labelsPath)' has \(values.count) labels but --data '\(dataPath)' has \(rows) samples; they must match one to one")
        }
        return values
    }

    /// `--baseline` as the value at the interpolation tensor (nil for `zero`): a file holds one sample of the
    /// model's inputs (`.npy` for a one-input model, `.npz` keyed like `--data`), evaluated up to that tensor.
    func baselineAtPath(model: ONNXModel, attributor: LayerAttributor) throws -> [Float]? {
        guard baseline != "zero" else { return nil }
        let samples = try ModelSamples.open(model: model, path: baseline, key: nil, flag: "--baseline")
        let expected = attributor.inputs.slots.map(\.shape), given = samples.inputs.slots.map(\.shape)
        guard samples.table.rowCount == 1, expected == given else {
            let shapes = attributor.inputs.slots.map { "\($0.name) (1, \($0.shape.map(String.init).joined(separator: ", ")))" }
            throw InputError(
                "--baseline '\(baseline)' holds \(samples.table.rowCount) sample(s) of shape \(given.map { "\($0)" }.joined(separator: ", ")), but it must be one sample shaped like --data: \(shapes.joined(separator: ", ")); or use --baseline zero")
        }
        let packed = try samples.table.floatRows(0..<1)
        if let bad = firstNonFinite(in: packed) {
            throw InputError("--baseline '\(baseline)' contains a non-finite value at element \(bad)")
        }
        return try attributor.pathValues(packed: packed, rows: 1).storage
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
                graph: model.graph, inputs: spec.modelInputs, interpolateAt: spec.pathStart, layer: columns.layer,
                output: spec.output, configuration: spec.configuration)
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

    /// `LayerAttributor.estimatedBlockBytes` of a full block, largest over the layers (they run one after another).
    public var estimatedBlockBytes: Int {
        blocked.map { $0.attributor.estimatedBlockBytes(rows: spec.configuration.blockSamples) }.max() ?? 0
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
        if let bad = spec.modelInputs.firstInvalidInteger(in: samples, rows: range.count) {
            throw InputError(
                "sample \(range.lowerBound + bad.sample) holds a value for the integer input '\(bad.input)' that is not an integer below 2^24; the data or the message carrying it is damaged")
        }
        let targets: [Int]?
        switch spec.target {
        case .predicted: targets = nil
        case .labels: targets = Array(spec.labels![range])
        case .index(let unit): targets = [Int](repeating: unit, count: range.count)
        }
        let baselines = spec.baseline ?? [Float](repeating: 0, count: blocked[0].attributor.pathShape.reduce(1, *))
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
        combined.attributions.reserveCapacity(range.count * spec.matrixRowsPerSample * spec.neuronCount)
        for row in 0..<(range.count * spec.matrixRowsPerSample) {
            for (output, columns) in zip(outputs, spec.layerColumns) {
                combined.attributions.append(contentsOf: output.attributions[(row * columns.count)..<((row + 1) * columns.count)])
            }
        }
        return combined
    }
}
