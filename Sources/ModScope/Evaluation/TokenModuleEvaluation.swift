import ArrayFiles
import Attribution
import Autodiff
import Foundation
import ONNX
import TensorCore

/// What a module over token rows covers: its most frequent tokens, the positions it lives at, a few contexts.
public struct TokenSummary: Codable, Sendable {
    public struct Count: Codable, Sendable {
        public var id: Int
        /// The vocabulary's token (nil without `--vocab`).
        public var text: String?
        public var count: Int
    }
    /// The `topTokens` most frequent token ids among the module's rows, most frequent first (ties: lower id).
    public var tokens: [Count]
    /// Rows of the module per position 0..<T.
    public var positions: [Int]
    /// Up to `examples` sentences holding one of its rows, the module's token in [brackets] (padding dropped).
    public var examples: [String]
}

/// The evaluation of modules found on token rows (`--granularity token`): row n·T + t is position t of sample
/// n; padding rows (attention mask 0) are in no module and are never ablated.
///
/// Ablation of a module on a row silences the module's neurons at that row's position only, setting them to
/// their value when the interpolation tensor holds the baseline (the sample's other inputs unchanged), and
/// measures the drop of the sample's target output. Own rows are the module's; others are token rows outside
/// it; random sets have the module's size. Rows are thinned evenly to `maxAblationRows` per measurement.
struct TokenModuleEvaluator {
    let spec: AttributionSpec
    let model: ONNXModel
    let table: any SampleTable
    let labels: [Int]?
    let vocabulary: TokenVocabulary?
    var randomSets = 3
    var maxAblationRows = 128
    var topTokens = 10
    var examples = 3
    var seed: UInt64 = 0

    func evaluate(result: ModuleAssignment, progress: StageProgress? = nil) throws -> Evaluation {
        let rows = try TokenRows(spec: spec, model: model, table: table)
        let ablation = try TokenAblation(spec: spec, model: model, table: table, labels: labels)
        let tokenRows = rows.tokenRows
        var generator = SplitMix(seed: seed)
        var modules: [Evaluation.Module] = []
        for module in result.modules {
            let members = Set(module.samples)
            var summary: Evaluation.Ablation?
            if !module.neurons.isEmpty && !module.samples.isEmpty {
                let own = thinned(module.samples), others = thinned(tokenRows.filter { !members.contains($0) })
                let random = try (0..<randomSets).map { _ in
                    try ablation.effect(neurons: generator.sample(module.neurons.count, from: spec.neuronCount), rows: own)
                }
                summary = Evaluation.Ablation(
                    own: try ablation.effect(neurons: module.neurons, rows: own),
                    others: try ablation.effect(neurons: module.neurons, rows: others),
                    random: Evaluation.RandomAblation(
                        outputDropMean: mean(random.map(\.outputDrop)), outputDropSD: standardDeviation(random.map(\.outputDrop)),
                        accuracyDropMean: mean(random.map(\.accuracyDrop)), accuracyDropSD: standardDeviation(random.map(\.accuracyDrop)),
                        sets: randomSets))
            }
            modules.append(Evaluation.Module(
                id: module.id, samples: module.samples, neurons: module.neurons, sampleCount: module.samples.count,
                neuronCount: module.neurons.count, sampleFraction: Double(module.samples.count) / Double(max(tokenRows.count, 1)),
                neuronFraction: Double(module.neurons.count) / Double(spec.neuronCount), densityRatio: module.densityRatio,
                stability: module.stability, degenerate: module.degenerate, labels: labelSummary(module.samples, rows: rows),
                ablation: summary, meanInput: [], meanInputAttribution: nil, tokens: tokenSummary(module.samples, rows: rows)))
            progress?.advance(by: 1)
        }
        return Evaluation(
            layer: spec.layer, method: spec.configuration.method.rawValue, output: spec.output, samples: tokenRows.count,
            neurons: spec.neuronCount, k: result.k, labelsAvailable: labels != nil, labelNMI: nil, labelARI: nil,
            inputShape: spec.sampleShape, imageShape: nil, ablationSamplesPerSet: maxAblationRows,
            unassigned: Evaluation.Unassigned(
                samples: tokenRows.filter { result.rowLabels[$0] < 0 }.count,
                neurons: Set(0..<spec.neuronCount).subtracting(result.modules.flatMap(\.neurons)).count),
            modules: modules, layers: spec.layers, tokenPositions: rows.positions, paddingRows: rows.mask.count - tokenRows.count)
    }

    func thinned(_ rows: [Int]) -> [Int] {
        guard rows.count > maxAblationRows else { return rows }
        return (0..<maxAblationRows).map { rows[$0 * rows.count / maxAblationRows] }
    }

    /// The labels of the samples the module's rows belong to (one per row).
    func labelSummary(_ members: [Int], rows: TokenRows) -> Evaluation.LabelSummary? {
        guard let labels, !members.isEmpty else { return nil }
        var histogram = [Int: Int]()
        for row in members { histogram[labels[row / rows.positions], default: 0] += 1 }
        let (majority, count) = histogram.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!
        return Evaluation.LabelSummary(
            histogram: Dictionary(uniqueKeysWithValues: histogram.map { (String($0.key), $0.value) }),
            purity: Double(count) / Double(members.count), majority: majority)
    }

    func tokenSummary(_ members: [Int], rows: TokenRows) -> TokenSummary {
        var positions = [Int](repeating: 0, count: rows.positions)
        for row in members { positions[row % rows.positions] += 1 }
        guard let ids = rows.ids else { return TokenSummary(tokens: [], positions: positions, examples: []) }
        var counts = [Int: Int]()
        for row in members { counts[ids[row], default: 0] += 1 }
        let top = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(topTokens)
        let shown = top.map { TokenSummary.Count(id: $0.key, text: vocabulary?.text($0.key), count: $0.value) }
        // Contexts: members at the middles of `examples` equal parts of the list, one per sample.
        var seen = Set<Int>(), contexts: [String] = []
        for part in 0..<min(examples, members.count) {
            let row = members[(2 * part + 1) * members.count / (2 * examples)], sample = row / rows.positions
            guard seen.insert(sample).inserted else { continue }
            let words = (0..<rows.positions).compactMap { p -> String? in
                let r = sample * rows.positions + p
                guard rows.mask[r] else { return nil }
                let word = vocabulary?.text(ids[r]) ?? "#\(ids[r])"
                return r == row ? "[\(word)]" : word
            }
            contexts.append(words.joined(separator: " "))
        }
        return TokenSummary(tokens: shown, positions: positions, examples: contexts)
    }
}

/// Ablation of layer neurons at single positions of token rows (see `TokenModuleEvaluator`).
struct TokenAblation {
    let spec: AttributionSpec
    let inputs: ModelInputs
    let table: any SampleTable
    let full: ExecutionPlan
    let baselineLayer: ExecutionPlan
    let targets: [Int]
    let reference: [Int]
    let original: [Float]  // (N, outputWidth)
    let outputWidth: Int
    let positions: Int
    /// Samples per forward pass.
    static let batchSamples = 32

    init(spec: AttributionSpec, model: ONNXModel, table: any SampleTable, labels: [Int]?) throws {
        self.spec = spec
        self.inputs = spec.modelInputs
        self.table = table
        positions = spec.matrixRowsPerSample
        let start = spec.pathStart
        full = try model.plan(targets: [spec.output])
        let isGraphInput = inputs.slot(named: start) != nil
        do {
            baselineLayer = try ExecutionPlan(graph: model.graph, targets: [spec.layer], fed: isGraphInput ? [] : [start])
        } catch let error as GraphError { throw AttributionError(error.message) }
        var outputs = [Float]()
        for chunk in stride(from: 0, to: spec.rowCount, by: Self.batchSamples) {
            let range = chunk..<min(chunk + Self.batchSamples, spec.rowCount)
            let packed = try table.floatRows(range)
            outputs += try full.forward(feeds: inputs.feeds(packed, rows: range.count)).tensor(spec.output).storage
        }
        original = outputs
        outputWidth = outputs.count / max(spec.rowCount, 1)
        let predictions = AblationProbe.argmax(Tensor(shape: [spec.rowCount, outputWidth], storage: outputs), width: outputWidth)
        switch spec.target {
        case .predicted: targets = predictions
        case .labels: targets = spec.labels ?? predictions
        case .index(let unit): targets = [Int](repeating: unit, count: spec.rowCount)
        }
        reference = labels ?? predictions
    }

    /// Mean target-output drop and accuracy drop over `rows` with `neurons` silenced at each row's position.
    func effect(neurons: [Int], rows: [Int]) throws -> AblationProbe.Effect {
        guard !rows.isEmpty else { return AblationProbe.Effect(outputDrop: 0, accuracyDrop: 0) }
        var drop = 0.0, lost = 0.0
        for chunk in stride(from: 0, to: rows.count, by: Self.batchSamples) {
            let batch = Array(rows[chunk..<min(chunk + Self.batchSamples, rows.count)])
            let out = try ablatedOutput(neurons: neurons, rows: batch)
            let predicted = AblationProbe.argmax(out, width: outputWidth)
            for (i, row) in batch.enumerated() {
                let n = row / positions
                drop += Double(original[n * outputWidth + targets[n]] - out.storage[i * outputWidth + targets[n]])
                let before = AblationProbe.argmax(Tensor(shape: [1, outputWidth], storage: Array(original[(n * outputWidth)..<((n + 1) * outputWidth)])), width: outputWidth)[0]
                lost += Double((before == reference[n] ? 1 : 0) - (predicted[i] == reference[n] ? 1 : 0))
            }
        }
        return AblationProbe.Effect(outputDrop: drop / Double(rows.count), accuracyDrop: lost / Double(rows.count))
    }

    /// The output of each row's sample with `neurons` at the row's position set to their baseline values.
    func ablatedOutput(neurons: [Int], rows: [Int]) throws -> Tensor {
        var packed = [Float]()
        for row in rows { packed += try table.floatRows((row / positions)..<(row / positions + 1)) }
        let feeds = inputs.feeds(packed, rows: rows.count)
        let baseline = try baselineValues(feeds: feeds, rows: rows.count)
        let width = spec.neuronCount
        let replacement: TensorReplacement = { produced in
            var t = produced
            for (i, row) in rows.enumerated() {
                let base = (i * positions + row % positions) * width
                for d in neurons { t.storage[base + d] = baseline.storage[base + d] }
            }
            return t
        }
        return try full.forward(feeds: feeds, replacing: [spec.layer: replacement]).tensor(spec.output)
    }

    /// The layer when the interpolation tensor holds the baseline and the other inputs are the samples' own.
    func baselineValues(feeds: [String: Value], rows: Int) throws -> Tensor {
        let start = spec.pathStart
        let shape: [Int]
        if let slot = inputs.slot(named: start) {
            shape = slot.shape
        } else {
            shape = Array(try full.forward(feeds: feeds).tensor(start).shape.dropFirst())
        }
        let perSample = shape.reduce(1, *)
        let one = spec.baseline ?? [Float](repeating: 0, count: perSample)
        let values = Tensor(shape: [rows] + shape, storage: (0..<rows).flatMap { _ in one })
        return try baselineLayer.forward(feeds: feeds.merging([start: .float(values)]) { $1 }).tensor(spec.layer)
    }
}
