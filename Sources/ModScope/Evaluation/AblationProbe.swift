import Attribution
import Autodiff
import Foundation
import ONNX
import TensorCore

/// Measures what happens to the model when a set of the layer's neurons is silenced: each neuron (or, at
/// channel granularity, each channel map) is set to its value at the baseline input, and the target output and
/// the accuracy are compared with the intact model.
///
/// The layer's activations are computed once; every ablation re-runs only the part of the network after the
/// layer (the whole network with the layer replaced when tensors bypass it). With several layers (a module's
/// neurons can lie in any of them) the whole network runs with each layer's module neurons set to their
/// baseline values as the layer is produced, so a later layer sees the earlier layers' ablation.
struct AblationProbe {
    let spec: AttributionSpec
    let activations: Tensor  // (N, *layerShape)
    let baselineActivation: Tensor  // (1, *layerShape)
    let original: Tensor  // (N, outputWidth)
    let targets: [Int]
    let reference: [Int]  // labels, or the intact model's predictions
    let samples: Tensor
    let suffix: ExecutionPlan
    let full: ExecutionPlan
    let layerIsCut: Bool
    let outputWidth: Int
    /// Which layer elements each column stands for (unit or channel granularity).
    let neuronLayout: NeuronLayout
    /// Every layer's columns, and its activation at the baseline input (1, *layerShape).
    let layers: [LayerColumns]
    let baselineActivations: [Tensor]

    init(spec: AttributionSpec, model: ONNXModel, samples: Tensor, labels: [Int]?) throws {
        self.spec = spec
        self.samples = samples
        layers = spec.layerColumns
        let first = layers[0].layer
        full = try model.plan(targets: [spec.output] + layers.map(\.layer))
        if layers.count == 1 {
            suffix = try ExecutionPlan(graph: model.graph, targets: [spec.output], fed: [first])
            layerIsCut = !suffix.reads(spec.pathStart)
        } else {
            (suffix, layerIsCut) = (full, false)
        }
        let execution = try full.forward(feeds: Self.feeds(spec, samples))
        activations = try execution.tensor(first)
        original = try execution.tensor(spec.output)
        let n = samples.shape[0]
        outputWidth = original.count / max(n, 1)
        baselineActivations = try Self.baselineActivations(spec: spec, model: model, samples: samples, layers: layers)
        baselineActivation = baselineActivations[0]
        let predictions = AblationProbe.argmax(original, width: outputWidth)
        switch spec.target {
        case .predicted: targets = predictions
        case .labels: targets = spec.labels ?? predictions
        case .index(let unit): targets = [Int](repeating: unit, count: n)
        }
        reference = labels ?? predictions
        let layerShape = Array(activations.shape.dropFirst())
        // The first layer's columns (all of them for one layer; several layers are checked one by one when ablated).
        let columns = layers[0].count
        guard let layout = NeuronLayout.matching(columns: columns, layerShape: layerShape) else {
            throw AttributionError("the matrix has \(columns) columns for layer '\(first)', which is neither a column per unit nor per channel of its shape \(layerShape): pass the matrix made for this layer")
        }
        neuronLayout = layout
    }

    /// Graph feeds for packed samples (`ModelInputs`).
    static func feeds(_ spec: AttributionSpec, _ samples: Tensor) -> [String: Value] {
        spec.modelInputs.feeds(samples.storage, rows: samples.shape[0])
    }

    /// Each layer at the baseline: one row (1, *layerShape) when the path starts at the only input; else one
    /// per sample (N, *layerShape), the interpolation tensor holding the baseline and the other inputs (masks,
    /// token types) the sample's own.
    static func baselineActivations(spec: AttributionSpec, model: ONNXModel, samples: Tensor, layers: [LayerColumns]) throws -> [Tensor] {
        let targets = layers.map(\.layer)
        if spec.inputs == nil {
            let baseline = Tensor(shape: [1] + spec.sampleShape, storage: spec.baseline ?? [Float](repeating: 0, count: spec.sampleShape.reduce(1, *)))
            let execution = try model.plan(targets: targets).forward(feeds: [spec.input: .float(baseline)])
            return try targets.map { try execution.tensor($0) }
        }
        let start = spec.pathStart, n = samples.shape[0]
        let own = feeds(spec, samples)
        let isInput = spec.modelInputs.slot(named: start) != nil
        let pathShape: [Int]
        if case .float(let value)? = own[start] {
            pathShape = Array(value.shape.dropFirst())
        } else {
            pathShape = Array(try model.plan(targets: [start]).forward(feeds: own).tensor(start).shape.dropFirst())
        }
        let one = spec.baseline ?? [Float](repeating: 0, count: pathShape.reduce(1, *))
        let values = Tensor(shape: [n] + pathShape, storage: (0..<n).flatMap { _ in one })
        let plan: ExecutionPlan
        do { plan = try ExecutionPlan(graph: model.graph, targets: targets, fed: isInput ? [] : [start]) } catch let error as GraphError {
            throw AttributionError(error.message)
        }
        let execution = try plan.forward(feeds: own.merging([start: .float(values)]) { $1 })
        return try targets.map { try execution.tensor($0) }
    }

    /// Sets `neurons` of `rows` (positions in `samples`, laid out one after another in `values`) to their
    /// baseline values: one baseline row for all, or each sample's own.
    static func silence(_ neurons: [Int], layout: NeuronLayout, in values: inout [Float], rows: [Int], baseline: Tensor) {
        let perSample = layout.count
        if baseline.shape[0] == 1 {
            layout.replace(neurons, in: &values, rows: rows.count, from: baseline.storage)
            return
        }
        let offsets = neurons.flatMap(layout.elements(of:))
        for (r, row) in rows.enumerated() {
            for e in offsets { values[r * perSample + e] = baseline.storage[row * perSample + e] }
        }
    }

    static func argmax(_ t: Tensor, width: Int) -> [Int] {
        (0..<(t.count / max(width, 1))).map { i in
            var best = 0
            for j in 1..<max(width, 1) where t.storage[i * width + j] > t.storage[i * width + best] { best = j }
            return best
        }
    }

    public struct Effect: Codable, Sendable {
        public var outputDrop: Double
        public var accuracyDrop: Double
        enum CodingKeys: String, CodingKey {
            case outputDrop = "output_drop"
            case accuracyDrop = "accuracy_drop"
        }
    }

    /// Per-sample effect of silencing `neurons` on the samples `rows` (positions in `samples`): the drop of the
    /// target output and whether the prediction is still correct afterwards.
    func perSample(neurons: [Int], rows: [Int]) throws -> (drop: [Float], correct: [Float]) {
        guard !rows.isEmpty else { return ([], []) }
        let out = layers.count == 1 ? try ablatedOutput(neurons: neurons, rows: rows) : try ablatedOutputOfLayers(neurons: neurons, rows: rows)
        let predicted = AblationProbe.argmax(out, width: outputWidth)
        var drop = [Float](), correct = [Float]()
        for (r, row) in rows.enumerated() {
            drop.append(original.storage[row * outputWidth + targets[row]] - out.storage[r * outputWidth + targets[row]])
            correct.append(predicted[r] == reference[row] ? 1 : 0)
        }
        return (drop, correct)
    }

    /// The output on `rows` with `neurons` (matrix columns, possibly in several layers) at their baseline
    /// values: the whole network runs, each layer's neurons replaced as the layer is produced.
    func ablatedOutputOfLayers(neurons: [Int], rows: [Int]) throws -> Tensor {
        var replacements: [String: TensorReplacement] = [:]
        for (columns, baseline) in zip(layers, baselineActivations) {
            let local = neurons.filter { columns.range.contains($0) }.map { $0 - columns.start }
            guard !local.isEmpty else { continue }
            let layerShape = Array(baseline.shape.dropFirst())
            guard let layout = NeuronLayout.matching(columns: columns.count, layerShape: layerShape) else {
                throw AttributionError("layer '\(columns.layer)' has \(columns.count) columns in the matrix, neither a column per unit nor per channel of its shape \(layerShape)")
            }
            replacements[columns.layer] = { produced in
                var t = produced
                Self.silence(local, layout: layout, in: &t.storage, rows: rows, baseline: baseline)
                return t
            }
        }
        let inputs = Tensor.concatenateRows(rows.map { samples.rows($0..<($0 + 1)) })
        return try full.forward(feeds: Self.feeds(spec, inputs), replacing: replacements).tensor(spec.output)
    }

    /// One layer: the part of the network after it, fed the layer with `neurons` at their baseline values.
    func ablatedOutput(neurons: [Int], rows: [Int]) throws -> Tensor {
        let perSample = activations.count / activations.shape[0]
        var layer = [Float](repeating: 0, count: rows.count * perSample)
        for (r, row) in rows.enumerated() {
            for j in 0..<perSample { layer[r * perSample + j] = activations.storage[row * perSample + j] }
        }
        Self.silence(neurons, layout: neuronLayout, in: &layer, rows: rows, baseline: baselineActivation)
        let ablated = Tensor(shape: [rows.count] + Array(activations.shape.dropFirst()), storage: layer)
        let inputs = Tensor.concatenateRows(rows.map { samples.rows($0..<($0 + 1)) })
        // Other inputs (masks) may enter after the layer: feed them too.
        let own = spec.inputs == nil ? [:] : Self.feeds(spec, inputs)
        if layerIsCut { return try suffix.forward(feeds: own.merging([spec.layer: .float(ablated)]) { $1 }).tensor(spec.output) }
        let replacement: TensorReplacement = { _ in ablated }
        return try full.forward(feeds: Self.feeds(spec, inputs), replacing: [spec.layer: replacement]).tensor(spec.output)
    }

    /// Whether the intact model is correct on each sample.
    var intactCorrect: [Float] {
        AblationProbe.argmax(original, width: outputWidth).enumerated().map { $0.element == reference[$0.offset] ? 1 : 0 }
    }

    /// The ablation table of `sets` over every sample: (N, 1 + 2·sets) row-major, columns
    /// [intact correct, drop₀, correct₀, drop₁, correct₁, …]. The unit of work of the "ablation" job kind.
    func table(sets: [[Int]]) throws -> [Float] {
        let n = samples.shape[0]
        let columns = 1 + 2 * sets.count
        var table = [Float](repeating: 0, count: n * columns)
        for (i, value) in intactCorrect.enumerated() { table[i * columns] = value }
        let all = Array(0..<n)
        for (s, set) in sets.enumerated() {
            let (drop, correct) = try perSample(neurons: set, rows: all)
            for i in 0..<n {
                table[i * columns + 1 + 2 * s] = drop[i]
                table[i * columns + 2 + 2 * s] = correct[i]
            }
        }
        return table
    }
}
