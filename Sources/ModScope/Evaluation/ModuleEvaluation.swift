import ArrayFiles
import Biclustering
import Foundation
import ONNX
import TensorCore

/// evaluation.json (schema: docs/run-folder.md): how sparse the modules are, whether their samples share labels
/// and input patterns, and whether silencing a module's neurons hurts its own samples more than others.
public struct Evaluation: Codable, Sendable {
    public struct LabelSummary: Codable, Sendable {
        public var histogram: [String: Int]
        public var purity: Double
        public var majority: Int
    }

    public struct RandomAblation: Codable, Sendable {
        public var outputDropMean: Double, outputDropSD: Double
        public var accuracyDropMean: Double, accuracyDropSD: Double
        public var sets: Int
        enum CodingKeys: String, CodingKey {
            case outputDropMean = "output_drop_mean", outputDropSD = "output_drop_sd"
            case accuracyDropMean = "accuracy_drop_mean", accuracyDropSD = "accuracy_drop_sd", sets
        }
    }

    public struct Ablation: Codable, Sendable {
        var own: AblationProbe.Effect
        var others: AblationProbe.Effect
        var random: RandomAblation
    }

    public struct Module: Codable, Sendable {
        public var id: Int
        public var samples: [Int]
        public var neurons: [Int]
        public var sampleCount: Int, neuronCount: Int
        public var sampleFraction: Double, neuronFraction: Double
        public var densityRatio: Double?
        public var stability: Double?
        public var degenerate: String?
        public var labels: LabelSummary?
        public var ablation: Ablation?
        public var meanInput: [Float]
        /// Gradient × (input − baseline) of the module's summed activation, averaged over its samples
        /// (`ModuleInputAttribution`); nil for an empty module.
        public var meanInputAttribution: [Float]?
        /// Token rows only: the module's tokens, positions and contexts (its `samples` are row indices n·T + t).
        public var tokens: TokenSummary?
        enum CodingKeys: String, CodingKey {
            case id, samples, neurons, stability, degenerate, labels, ablation, tokens
            case sampleCount = "sample_count", neuronCount = "neuron_count"
            case sampleFraction = "sample_fraction", neuronFraction = "neuron_fraction"
            case densityRatio = "density_ratio", meanInput = "mean_input"
            case meanInputAttribution = "mean_input_attribution"
        }
    }

    public struct Unassigned: Codable, Sendable { public var samples: Int, neurons: Int }

    public var version = 1
    public var layer: String, method: String, output: String
    public var samples: Int, neurons: Int, k: Int
    public var labelsAvailable: Bool
    public var labelNMI: Double?, labelARI: Double?
    public var inputShape: [Int]
    public var imageShape: [Int]?
    public var ablationSamplesPerSet: Int
    public var unassigned: Unassigned
    public var modules: [Module]
    /// Several layers: which neuron columns come from which layer (nil for one layer, as in older files).
    public var layers: [LayerColumns]?
    /// Token rows (`--granularity token`): positions per sample (T), and the padding rows left out of every
    /// module; `samples` then counts the token rows. nil for sample rows.
    public var tokenPositions: Int?
    public var paddingRows: Int?

    enum CodingKeys: String, CodingKey {
        case version, layer, method, output, samples, neurons, k, modules, unassigned, layers
        case tokenPositions = "token_positions", paddingRows = "padding_rows"
        case labelsAvailable = "labels_available", labelNMI = "label_nmi", labelARI = "label_ari"
        case inputShape = "input_shape", imageShape = "image_shape", ablationSamplesPerSet = "ablation_samples_per_set"
    }
}

/// Computes the evaluation of a biclustering of an attribution matrix.
public struct ModuleEvaluator {
    public var spec: AttributionSpec
    public var model: ONNXModel
    public var table: any SampleTable
    public var labels: [Int]?
    public var imageShape: [Int]?
    /// Random neuron sets per module for the ablation baseline.
    public var randomSets = 10
    /// At most this many samples per ablation measurement (evenly spaced, deterministic): bounds the cost on
    /// large data sets.
    public var maxAblationSamples = 2000
    public var seed: UInt64 = 0

    public init(spec: AttributionSpec, model: ONNXModel, table: any SampleTable, labels: [Int]?, imageShape: [Int]?) {
        self.spec = spec
        self.model = model
        self.table = table
        self.labels = labels
        self.imageShape = imageShape
    }

    /// The image layout of one sample: explicit, or inferred from (H, W), (1, H, W), (C, H, W) inputs.
    public static func imageShape(sampleShape: [Int], explicit: [Int]?) -> [Int]? {
        if let explicit { return explicit }
        switch sampleShape.count {
        case 2: return sampleShape
        case 3 where sampleShape[0] == 1: return Array(sampleShape.dropFirst())
        case 3 where sampleShape[0] == 3: return sampleShape
        default: return nil
        }
    }

    func thinned(_ rows: [Int]) -> [Int] {
        guard rows.count > maxAblationSamples else { return rows }
        return (0..<maxAblationSamples).map { rows[$0 * rows.count / maxAblationSamples] }
    }

    /// - Parameter ablation: where the ablation table is computed (in process by default).
    public func evaluate(result: ModuleAssignment, ablation backend: (any AblationBackend)? = nil, progress: StageProgress? = nil) throws -> Evaluation {
        let ablation = backend ?? LocalAblation(model: model, source: table)
        let n = spec.rowCount
        let perSample = spec.sampleShape.reduce(1, *)
        // Mean input per module, streamed in chunks.
        var sums = [Int: [Double]]()
        let rowLabels = result.rowLabels
        for start in stride(from: 0, to: n, by: 1024) {
            let range = start..<min(start + 1024, n)
            let values = try table.floatRows(range)
            for row in range where rowLabels[row] >= 0 {
                let id = Int(rowLabels[row])
                var sum = sums[id] ?? [Double](repeating: 0, count: perSample)
                let base = (row - start) * perSample
                for j in 0..<perSample { sum[j] += Double(values[base + j]) }
                sums[id] = sum
            }
        }
        // Ablation: every neuron set (each module's, then `randomSets` random ones of the same size per module)
        // on the evaluated samples (thinned on large data), as one table from the backend.
        let rows = thinned(Array(0..<n))
        let position = Dictionary(uniqueKeysWithValues: rows.enumerated().map { ($1, $0) })
        var generator = SplitMix(seed: seed)
        var sets: [[Int]] = []
        var firstSet: [Int: Int] = [:]
        for module in result.modules where !module.neurons.isEmpty && module.samples.contains(where: { position[$0] != nil }) {
            firstSet[module.id] = sets.count
            sets.append(module.neurons)
            for _ in 0..<randomSets { sets.append(generator.sample(module.neurons.count, from: spec.neuronCount)) }
        }
        let task = AblationTask(spec: spec, rows: rows, referenceLabels: labels.map { l in rows.map { l[$0] } }, sets: sets)
        let table = sets.isEmpty ? [] : try ablation.table(for: task)
        let columns = task.columns
        func effect(set: Int, positions: [Int]) -> AblationProbe.Effect {
            guard !positions.isEmpty else { return AblationProbe.Effect(outputDrop: 0, accuracyDrop: 0) }
            var drop = 0.0, before = 0.0, after = 0.0
            for p in positions {
                before += Double(table[p * columns])
                drop += Double(table[p * columns + 1 + 2 * set])
                after += Double(table[p * columns + 2 + 2 * set])
            }
            let count = Double(positions.count)
            return AblationProbe.Effect(outputDrop: drop / count, accuracyDrop: (before - after) / count)
        }
        let inputAttribution = try ModuleInputAttribution(spec: spec, model: model, table: self.table)
        var modules: [Evaluation.Module] = []
        for module in result.modules {
            var labelSummary: Evaluation.LabelSummary?
            if let labels, !module.samples.isEmpty {
                var histogram = [Int: Int]()
                for s in module.samples { histogram[labels[s], default: 0] += 1 }
                let (majority, count) = histogram.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!
                labelSummary = Evaluation.LabelSummary(
                    histogram: Dictionary(uniqueKeysWithValues: histogram.map { (String($0.key), $0.value) }),
                    purity: Double(count) / Double(module.samples.count), majority: majority)
            }
            var ablationSummary: Evaluation.Ablation?
            if let first = firstSet[module.id] {
                let members = Set(module.samples)
                let own = module.samples.compactMap { position[$0] }
                let others = rows.enumerated().filter { !members.contains($0.element) }.map(\.offset)
                let random = (1...randomSets).map { effect(set: first + $0, positions: own) }
                ablationSummary = Evaluation.Ablation(
                    own: effect(set: first, positions: own), others: effect(set: first, positions: others),
                    random: Evaluation.RandomAblation(
                        outputDropMean: mean(random.map(\.outputDrop)), outputDropSD: standardDeviation(random.map(\.outputDrop)),
                        accuracyDropMean: mean(random.map(\.accuracyDrop)), accuracyDropSD: standardDeviation(random.map(\.accuracyDrop)),
                        sets: randomSets))
            }
            let count = max(module.samples.count, 1)
            modules.append(Evaluation.Module(
                id: module.id, samples: module.samples, neurons: module.neurons, sampleCount: module.samples.count,
                neuronCount: module.neurons.count, sampleFraction: Double(module.samples.count) / Double(n),
                neuronFraction: Double(module.neurons.count) / Double(spec.neuronCount), densityRatio: module.densityRatio,
                stability: module.stability, degenerate: module.degenerate, labels: labelSummary, ablation: ablationSummary,
                meanInput: (sums[module.id] ?? [Double](repeating: 0, count: perSample)).map { Float($0 / Double(count)) },
                meanInputAttribution: try inputAttribution.meanMap(neurons: module.neurons, samples: module.samples)))
            progress?.advance(by: 1)
        }
        var nmi: Double?, ari: Double?
        if let labels {
            let assignment = rowLabels.map(Int.init)
            nmi = ClusteringAgreement.normalizedMutualInformation(assignment, labels)
            ari = ClusteringAgreement.adjustedRandIndex(assignment, labels)
        }
        return Evaluation(
            layer: spec.layer, method: spec.configuration.method.rawValue, output: spec.output, samples: n,
            neurons: spec.neuronCount, k: result.k, labelsAvailable: labels != nil, labelNMI: nmi, labelARI: ari,
            inputShape: spec.sampleShape, imageShape: Self.imageShape(sampleShape: spec.sampleShape, explicit: imageShape),
            ablationSamplesPerSet: maxAblationSamples,
            unassigned: Evaluation.Unassigned(
                samples: rowLabels.filter { $0 < 0 }.count,
                neurons: Set(0..<spec.neuronCount).subtracting(result.modules.flatMap(\.neurons)).count),
            modules: modules, layers: spec.layers)
    }
}

func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
func standardDeviation(_ values: [Double]) -> Double {
    guard values.count > 1 else { return 0 }
    let m = mean(values)
    return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
}

/// SplitMix64, for the random neuron sets (deterministic for a seed).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x5851_F42D_4C95_7F2D }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` distinct indices from 0..<population, sorted.
    mutating func sample(_ count: Int, from population: Int) -> [Int] {
        var pool = Array(0..<population)
        for i in 0..<min(count, population) { pool.swapAt(i, i + Int(next() % UInt64(population - i))) }
        return Array(pool.prefix(count)).sorted()
    }
}
