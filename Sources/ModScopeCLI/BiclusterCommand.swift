import ArgumentParser
import BatchRuntime
import Biclustering
import Foundation
import ModScope

/// `modscope bicluster`: biclustering with consensus over restarts on any float .npy matrix.
struct BiclusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bicluster",
        abstract: "Bicluster a samples × neurons matrix into functional modules, with consensus over restarts.",
        discussion: """
            Writes DIR/modules.json, row_labels.npy, col_labels.npy (int32, -1 = in no module), row_confidence.npy, \
            col_confidence.npy and stability.json. See docs/biclustering.md.
            """)

    @Option(help: "The matrix: a 2-D float .npy file (samples × neurons); float32 C order is memory-mapped, float16/float64 are converted.")
    var matrix: String

    @Option(help: "Number of modules (2 or more), or 'auto' to choose it by stability over --k-range.")
    var k: String

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "abs | positive | negative | signed-split (positive and negative parts as separate columns).")
    var transform: String = "abs"

    @Option(help: "spectral-coclustering (Dhillon 2001) | spectral-biclustering (Kluger 2003, checkerboard).")
    var algorithm: String = "spectral-coclustering"

    @Option(help: "Co-clustering embedding: k-1 singular vectors, or log2 (sklearn parity).")
    var embedding: String = "k-1"

    @Option(help: "spectral-biclustering normalisation: bistochastic | scale | log.")
    var normalization: String = "bistochastic"

    @Option(help: "Restarts (each on 80% of rows and columns) for the consensus; 1 = one fit on the full matrix.")
    var restarts: Int = 20

    @Option(name: .customLong("n-init"), help: "k-means initialisations of a fit on the full matrix (--restarts 1).")
    var nInit: Int = 10

    @Option(name: .customLong("restart-n-init"), help: "k-means initialisations in each subsampled restart (--restarts > 1).")
    var restartNInit: Int = 3

    @Option(name: .customLong("k-range"), help: "Candidate k for --k auto, as LOW..HIGH.")
    var kRange: String = "2..20"

    @Option(help: "Random seed; the same seed gives the same output.")
    var seed: UInt64 = 0

    func run() throws {
        do {
            let outputs = Self.outputFiles.map { OutputPaths.Named("--out", URL(fileURLWithPath: out).appendingPathComponent($0).path) }
            try OutputPaths.check(outputs: outputs, inputs: [OutputPaths.Named("--matrix", matrix)])
            let config = try makeConfig()
            let file = try MappedNPYFile(path: matrix)
            let result = try Biclusterer(config: config).fit(file.view)
            try result.write(to: URL(fileURLWithPath: out))
            let proper = result.modules.filter { $0.degenerate == nil }.count
            print("k = \(result.k) (\(result.selection.message)) \(proper) modules → \(out)")
        } catch let error as BiclusteringError {
            StandardError.write("error: \(error.message)\n")
            throw ExitCode(2)
        } catch let error as RuntimeUsageError {
            StandardError.write("error: \(error.message)\n")
            throw ExitCode(2)
        }
    }

    /// The files written into --out (checked against --matrix before anything is computed).
    static let outputFiles = ["modules.json", "row_labels.npy", "col_labels.npy", "row_confidence.npy", "col_confidence.npy", "stability.json"]

    func makeConfig() throws -> BiclusterConfig {
        var settings = AnalysisSettings()
        settings.k = k
        settings.kRange = kRange
        settings.transform = transform
        settings.algorithm = algorithm
        settings.embedding = embedding
        settings.normalization = normalization
        settings.restarts = restarts
        settings.nInit = nInit
        settings.restartNInit = restartNInit
        settings.seed = seed
        return try settings.biclusterConfig()
    }
}
