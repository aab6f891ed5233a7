import ArrayFiles
import BatchRuntime
import Biclustering
import Foundation

/// The modules of one side of `modscope compare`: a run folder (RUN/bicluster/ plus the layers from run.json)
/// or a bicluster folder (modules.json, row_labels.npy, col_labels.npy; its layers are unknown).
public struct ComparedModules: Sendable {
    /// The folder as given.
    public var path: String
    /// "conductance at relu" etc. for run folders; nil for bicluster folders.
    public var description: String?
    /// Module id per sample and per neuron (−1 = in no module). With `signed-split` the neuron label is the
    /// label of the neuron's positive column, as in the report's heatmap.
    public var sampleLabels: [Int]
    public var neuronLabels: [Int]
    /// Proper modules only (degenerate ones, with no samples or no neurons, are left out of the matching).
    public var modules: [BiclusterModule]
    /// The columns of each layer; nil when unknown (a bare bicluster folder).
    public var layers: [LayerColumns]?

    public init(path: String, description: String?, sampleLabels: [Int], neuronLabels: [Int], modules: [BiclusterModule], layers: [LayerColumns]?) {
        self.path = path
        self.description = description
        self.sampleLabels = sampleLabels
        self.neuronLabels = neuronLabels
        self.modules = modules
        self.layers = layers
    }

    /// Reads a run folder or a bicluster folder.
    public static func load(path: String) throws -> ComparedModules {
        let url = URL(fileURLWithPath: path)
        let folder = RunFolder(url)
        var directory = url
        var description: String?
        var layers: [LayerColumns]?
        if FileManager.default.fileExists(atPath: folder.manifestURL.path) {
            let manifest = try folder.loadManifest()
            guard manifest.job.kind == AttributionJobKind.name else {
                throw InputError("\(path) is a run of the '\(manifest.job.kind)' job, which has no modules; pass an attribution run or a bicluster folder")
            }
            let spec = try AttributionJobKind.decode(manifest.job).spec
            layers = spec.layerColumns
            description = "\(spec.configuration.method.rawValue) at \(spec.layerColumns.map(\.layer).joined(separator: " + "))"
            directory = url.appendingPathComponent("bicluster")
        } else if !FileManager.default.fileExists(atPath: url.appendingPathComponent("modules.json").path) {
            throw InputError("\(path) is neither a run folder (run.json) nor a bicluster folder (modules.json); pass the --out folder of `modscope run` or `modscope bicluster`")
        }
        let assignment = try ModuleAssignment.read(from: directory)
        let columnsURL = directory.appendingPathComponent("col_labels.npy")
        guard FileManager.default.fileExists(atPath: columnsURL.path) else {
            throw InputError("\(columnsURL.path) is missing; redo the biclustering (`modscope resume` or `modscope bicluster`)")
        }
        var neuronLabels = try NPYReader(path: columnsURL.path).integerValues()
        let split = try signedSplit(directory)
        let neurons = layers.map { $0.reduce(0) { $0 + $1.count } } ?? (split ? neuronLabels.count / 2 : neuronLabels.count)
        if neuronLabels.count == 2 * neurons { neuronLabels = Array(neuronLabels.prefix(neurons)) }
        guard neuronLabels.count == neurons else {
            throw InputError("\(columnsURL.path) labels \(neuronLabels.count) columns but the run has \(neurons) neurons; redo the biclustering")
        }
        return ComparedModules(
            path: path, description: description, sampleLabels: assignment.rowLabels.map(Int.init), neuronLabels: neuronLabels,
            modules: assignment.modules.filter { $0.degenerate == nil && !$0.samples.isEmpty && !$0.neurons.isEmpty }, layers: layers)
    }

    /// Whether modules.json says the matrix was split into positive and negative columns (2m column labels).
    static func signedSplit(_ directory: URL) throws -> Bool {
        struct Header: Decodable { var transform: String? }
        let data = try Data(contentsOf: directory.appendingPathComponent("modules.json"))
        return (try? JSONDecoder().decode(Header.self, from: data))?.transform == "signed-split"
    }
}

/// How far two biclusterings of the same samples agree (`modscope compare`).
///
/// - Sample partitions: ARI and NMI (`ClusteringAgreement`, unassigned samples form one more cluster).
/// - Neuron partitions: the same, over the neurons of the layers both matrices have (same layer name and
///   column count); when either side's layers are unknown (a bare bicluster folder), over all columns if both
///   have as many. nil when no layer is shared.
/// - Matched modules: the one-to-one matching of proper modules that maximises the summed Jaccard index
///   (Hungarian algorithm on cost 1 − J). J is the Jaccard index of the modules' cells, samples × shared neurons:
///   |S∩S′|·|N∩N′| / (|S|·|N| + |S′|·|N′| − |S∩S′|·|N∩N′|), neurons counted only within the shared layers;
///   without shared layers it is the Jaccard index of the sample sets.
public struct ModuleComparison: Codable, Sendable, Equatable {
    public struct Match: Codable, Sendable, Equatable {
        public var a: Int
        public var b: Int
        /// The index the matching maximised (cells, or samples when no layer is shared).
        public var jaccard: Double
        public var sampleJaccard: Double
        /// nil when no layer is shared.
        public var neuronJaccard: Double?
        enum CodingKeys: String, CodingKey {
            case a, b, jaccard
            case sampleJaccard = "sample_jaccard"
            case neuronJaccard = "neuron_jaccard"
        }
    }

    public var a: String
    public var b: String
    public var samples: Int
    public var sampleARI: Double
    public var sampleNMI: Double
    /// The layers whose neurons were compared (["columns"] when the layers of a side are unknown).
    public var sharedLayers: [String]
    public var neuronARI: Double?
    public var neuronNMI: Double?
    /// Matched pairs, in the order of A's module ids.
    public var matched: [Match]
    public var unmatchedA: [Int]
    public var unmatchedB: [Int]
    public var meanMatchedJaccard: Double?

    enum CodingKeys: String, CodingKey {
        case a, b, samples, matched
        case sampleARI = "sample_ari"
        case sampleNMI = "sample_nmi"
        case sharedLayers = "shared_layers"
        case neuronARI = "neuron_ari"
        case neuronNMI = "neuron_nmi"
        case unmatchedA = "unmatched_a"
        case unmatchedB = "unmatched_b"
        case meanMatchedJaccard = "mean_matched_jaccard"
    }

    /// Writes every key, with null for what was not compared (scripts can rely on `neuron_ari` being present).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(a, forKey: .a)
        try c.encode(b, forKey: .b)
        try c.encode(samples, forKey: .samples)
        try c.encode(sampleARI, forKey: .sampleARI)
        try c.encode(sampleNMI, forKey: .sampleNMI)
        try c.encode(sharedLayers, forKey: .sharedLayers)
        try c.encode(neuronARI, forKey: .neuronARI)
        try c.encode(neuronNMI, forKey: .neuronNMI)
        try c.encode(matched, forKey: .matched)
        try c.encode(unmatchedA, forKey: .unmatchedA)
        try c.encode(unmatchedB, forKey: .unmatchedB)
        try c.encode(meanMatchedJaccard, forKey: .meanMatchedJaccard)
    }

    /// Compares two biclusterings; an error when they are not of the same samples.
    public init(_ first: ComparedModules, _ second: ComparedModules) throws {
        guard first.sampleLabels.count == second.sampleLabels.count else {
            throw InputError(
                "\(first.path) has \(first.sampleLabels.count) samples but \(second.path) has \(second.sampleLabels.count); compare runs on the same data")
        }
        a = first.path
        b = second.path
        samples = first.sampleLabels.count
        sampleARI = ClusteringAgreement.adjustedRandIndex(first.sampleLabels, second.sampleLabels)
        sampleNMI = ClusteringAgreement.normalizedMutualInformation(first.sampleLabels, second.sampleLabels)
        let shared = Self.sharedColumns(first, second)
        sharedLayers = shared.names
        if shared.names.isEmpty {
            neuronARI = nil
            neuronNMI = nil
        } else {
            let u = shared.first.map { first.neuronLabels[$0] }, v = shared.second.map { second.neuronLabels[$0] }
            neuronARI = ClusteringAgreement.adjustedRandIndex(u, v)
            neuronNMI = ClusteringAgreement.normalizedMutualInformation(u, v)
        }
        (matched, unmatchedA, unmatchedB) = Self.match(first, second, shared: shared)
        meanMatchedJaccard = matched.isEmpty ? nil : matched.reduce(0) { $0 + $1.jaccard } / Double(matched.count)
    }

    /// The shared layers and, for each, the column indices on both sides (same order: the k-th shared column of
    /// A is the same neuron as the k-th of B).
    static func sharedColumns(_ first: ComparedModules, _ second: ComparedModules) -> (names: [String], first: [Int], second: [Int]) {
        guard let left = first.layers, let right = second.layers else {
            guard first.neuronLabels.count == second.neuronLabels.count else { return ([], [], []) }
            let all = Array(first.neuronLabels.indices)
            return (["columns"], all, all)
        }
        var names = [String](), u = [Int](), v = [Int]()
        for layer in left {
            guard let other = right.first(where: { $0.layer == layer.layer && $0.count == layer.count }) else { continue }
            names.append(layer.layer)
            u += Array(layer.range)
            v += Array(other.range)
        }
        return (names, u, v)
    }

    static func jaccard(_ x: Set<Int>, _ y: Set<Int>) -> Double {
        let union = x.union(y).count
        return union == 0 ? 0 : Double(x.intersection(y).count) / Double(union)
    }

    static func match(_ first: ComparedModules, _ second: ComparedModules, shared: (names: [String], first: [Int], second: [Int]))
        -> ([Match], [Int], [Int])
    {
        // Neurons as positions in the shared column list, so both sides speak of the same neurons.
        let position = { (columns: [Int]) in Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) }) }
        let (pa, pb) = (position(shared.first), position(shared.second))
        let compareNeurons = !shared.names.isEmpty
        typealias Side = (samples: Set<Int>, neurons: Set<Int>)
        let sa: [Side] = first.modules.map { (Set($0.samples), Set($0.neurons.compactMap { pa[$0] })) }
        let sb: [Side] = second.modules.map { (Set($0.samples), Set($0.neurons.compactMap { pb[$0] })) }
        func pair(_ x: Side, _ y: Side) -> (cells: Double, samples: Double, neurons: Double?) {
            let samples = jaccard(x.samples, y.samples)
            guard compareNeurons else { return (samples, samples, nil) }
            let both = Double(x.samples.intersection(y.samples).count * x.neurons.intersection(y.neurons).count)
            let union = Double(x.samples.count * x.neurons.count + y.samples.count * y.neurons.count) - both
            return (union > 0 ? both / union : 0, samples, jaccard(x.neurons, y.neurons))
        }
        var cost = [Double](), values = [(cells: Double, samples: Double, neurons: Double?)]()
        for x in sa {
            for y in sb {
                let value = pair(x, y)
                values.append(value)
                cost.append(1 - value.cells)
            }
        }
        let assignment = linearSumAssignment(cost: cost, rows: sa.count, cols: sb.count)
        var matches = [Match]()
        for (i, j) in assignment.enumerated() where j >= 0 {
            let value = values[i * sb.count + j]
            matches.append(Match(a: first.modules[i].id, b: second.modules[j].id, jaccard: value.cells, sampleJaccard: value.samples, neuronJaccard: value.neurons))
        }
        let matchedB = Set(matches.map(\.b))
        let unmatchedA = first.modules.map(\.id).filter { id in !matches.contains { $0.a == id } }
        return (matches, unmatchedA, second.modules.map(\.id).filter { !matchedB.contains($0) })
    }

    /// The comparison as a plain-text table (what `modscope compare` prints without --json).
    public func text(descriptions: (String?, String?) = (nil, nil)) -> String {
        func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "–" }
        var lines = [
            "A: \(a)" + (descriptions.0.map { " (\($0))" } ?? ""), "B: \(b)" + (descriptions.1.map { " (\($0))" } ?? ""),
            "samples (\(samples)): ARI \(f(sampleARI)), NMI \(f(sampleNMI))",
        ]
        if sharedLayers.isEmpty {
            lines.append("neurons: not compared (the runs share no layer)")
        } else {
            lines.append("neurons (\(sharedLayers.joined(separator: ", "))): ARI \(f(neuronARI)), NMI \(f(neuronNMI))")
        }
        lines.append("matched modules (Hungarian on Jaccard), mean Jaccard \(f(meanMatchedJaccard)):")
        lines.append("      A      B  jaccard  samples  neurons")
        for m in matched {
            lines.append(String(format: "  %5d  %5d  ", m.a, m.b) + f(m.jaccard).padding(toLength: 9, withPad: " ", startingAt: 0)
                + f(m.sampleJaccard).padding(toLength: 9, withPad: " ", startingAt: 0) + f(m.neuronJaccard))
        }
        if !unmatchedA.isEmpty { lines.append("unmatched in A: \(unmatchedA.map(String.init).joined(separator: ", "))") }
        if !unmatchedB.isEmpty { lines.append("unmatched in B: \(unmatchedB.map(String.init).joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }
}
