import ArrayFiles
import Foundation

/// One functional module: a (samples, neurons) block of the consensus biclustering.
public struct BiclusterModule: Sendable, Codable, Equatable {
    public var id: Int
    /// Row (sample) indices, increasing.
    public var samples: [Int]
    /// Neuron indices, increasing. With `signed-split` a neuron is listed when its positive or negative column is.
    public var neurons: [Int]
    /// `signed-split` only: transformed column indices (j = positive part of neuron j, m + j = negative part).
    public var columns: [Int]?
    /// Mean matched cell Jaccard over restarts (1 = found identically every time); nil with one restart.
    public var stability: Double?
    /// Fraction of restarts in which the module is matched with Jaccard ≥ 0.5; nil with one restart.
    public var reproducibility: Double?
    /// mean |A| inside the block / mean |A| outside it (nil when either region is empty or outside is all 0).
    public var densityRatio: Double?
    public var meanSampleConfidence: Double?
    public var meanNeuronConfidence: Double?
    /// "rows-only", "columns-only", "empty", or nil for a proper module.
    public var degenerate: String?

    enum CodingKeys: String, CodingKey {
        case id, samples, neurons, columns, stability, reproducibility, degenerate
        case densityRatio = "density_ratio"
        case meanSampleConfidence = "mean_sample_confidence"
        case meanNeuronConfidence = "mean_neuron_confidence"
    }
}

/// The fitted biclustering: consensus labels, modules, and the stability of every k tried.
public struct BiclusterResult: Sendable {
    public var k: Int
    public var algorithm: BiclusterAlgorithm
    public var transform: Transform
    public var embedding: Embedding
    public var restarts: Int
    public var seed: UInt64
    public var modules: [BiclusterModule]
    /// Module (co-clustering) or row-cluster (checkerboard) id per sample; −1 = in no module.
    public var rowLabels: [Int32]
    /// Per transformed column (m, or 2m with signed-split); −1 = in no module.
    public var colLabels: [Int32]
    public var rowConfidence: [Float]
    public var colConfidence: [Float]
    public var stability: [KStability]
    public var selection: KSelectionReport

    /// "spectral-coclustering" etc., the `method` field of modules.json.
    public var method: String { algorithm.rawValue }

    /// Writes modules.json, row_labels.npy, col_labels.npy (int32), row_confidence.npy, col_confidence.npy
    /// (float32) and stability.json into `directory` (created if needed). Each file is replaced atomically.
    public func write(to directory: URL) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw BiclusteringError("--out \(directory.path): cannot create the folder (\(error.localizedDescription)).")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        struct ModulesFile: Encodable {
            var k: Int, method: String, transform: String, embedding: String, restarts: Int, seed: UInt64
            var modules: [BiclusterModule]
        }
        struct StabilityFile: Encodable {
            var selection: KSelectionReport
            var k: [KStability]
        }
        let modulesFile = ModulesFile(k: k, method: method, transform: transform.rawValue, embedding: embedding.rawValue,
                                      restarts: restarts, seed: seed, modules: modules)
        try encoder.encode(modulesFile).write(to: directory.appendingPathComponent("modules.json"), options: .atomic)
        try encoder.encode(StabilityFile(selection: selection, k: stability))
            .write(to: directory.appendingPathComponent("stability.json"), options: .atomic)
        do {
            try NPYWriter.write(rowLabels, shape: [rowLabels.count], to: directory.appendingPathComponent("row_labels.npy").path)
            try NPYWriter.write(colLabels, shape: [colLabels.count], to: directory.appendingPathComponent("col_labels.npy").path)
            try NPYWriter.write(rowConfidence, shape: [rowConfidence.count], to: directory.appendingPathComponent("row_confidence.npy").path)
            try NPYWriter.write(colConfidence, shape: [colConfidence.count], to: directory.appendingPathComponent("col_confidence.npy").path)
        } catch let error as ArrayFileError {
            throw BiclusteringError("--out: \(error.message)")
        }
    }

    /// The result as a `BiclusterSet` (for consensusScore against another result or a ground truth).
    public var biclusterSet: BiclusterSet {
        biclusterSetFor(rows: rowLabels, cols: colLabels, k: k, algorithm: algorithm)
    }
}

func biclusterSetFor(rows: [Int32], cols: [Int32], k: Int, algorithm: BiclusterAlgorithm) -> BiclusterSet {
    biclusterSet(RestartLabels(rows: rows, cols: cols), k: k, algorithm: algorithm)
}

extension BiclusterResult {
    /// A result fitted on rows `kept` (increasing indices into a matrix of `totalRows` rows) restated for the
    /// whole matrix: module rows and row labels map back through `kept`; the other rows get label −1 and
    /// confidence 0 (in no module). Used for token rows, where padding positions are left out of the fit.
    public func placed(rows kept: [Int], totalRows: Int) -> BiclusterResult {
        precondition(kept.count == rowLabels.count, "kept rows must match the fitted rows")
        var result = self
        result.modules = modules.map { module in
            var placed = module
            placed.samples = module.samples.map { kept[$0] }
            return placed
        }
        result.rowLabels = [Int32](repeating: -1, count: totalRows)
        result.rowConfidence = [Float](repeating: 0, count: totalRows)
        for (index, row) in kept.enumerated() {
            result.rowLabels[row] = rowLabels[index]
            result.rowConfidence[row] = rowConfidence[index]
        }
        return result
    }
}
