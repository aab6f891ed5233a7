import ArgumentParser
import ModScope

/// Biclustering and evaluation flags of `run` and `coordinator` (persisted with the job for `resume`).
struct AnalysisOptions: ParsableArguments {
    @Option(help: "Number of modules (2 or more), or auto to choose it by consensus stability over --k-range.")
    var k = "auto"

    @Option(name: .customLong("k-range"), help: "Candidate module counts for --k auto, as LOW..HIGH.")
    var kRange = "2..20"

    @Option(help: "Biclustering restarts (each on 80% of rows and columns) voted into a consensus.")
    var restarts = 20

    @Option(name: .customLong("n-init"), help: "k-means initialisations per fit.")
    var nInit = 10

    @Option(name: .customLong("restart-n-init"), help: "k-means initialisations in each subsampled restart.")
    var restartNInit = 3

    @Option(help: "Matrix transform before biclustering: abs, positive, negative or signed-split.")
    var transform = "abs"

    @Option(help: "spectral-coclustering (Dhillon 2001) or spectral-biclustering (Kluger 2003).")
    var algorithm = "spectral-coclustering"

    @Option(help: "Co-clustering embedding: k-1 singular vectors, or log2 (scikit-learn's choice).")
    var embedding = "k-1"

    @Option(help: "Random seed of the biclustering and the random ablation sets.")
    var seed: UInt64 = 0

    @Option(name: .customLong("image-shape"), help: "Show each sample as an image of this shape in the report, e.g. 8x8 or 3x32x32 (default: inferred from (H, W), (1, H, W) or (3, H, W) inputs).")
    var imageShape: String?

    @Option(name: .customLong("compare-with"), help: "Another run folder (or bicluster folder) on the same samples: the report adds how far its modules agree with this run's (see `modscope compare`).")
    var compareWith: String?

    @Option(help: "With --granularity token: a vocabulary file, one token per line (line i is token id i, as BERT's vocab.txt), so the report lists each module's tokens and contexts as text rather than ids.")
    var vocab: String?

    func settings() throws -> AnalysisSettings {
        var settings = AnalysisSettings()
        settings.k = k
        settings.kRange = kRange
        settings.restarts = restarts
        settings.nInit = nInit
        settings.restartNInit = restartNInit
        settings.transform = transform
        settings.algorithm = algorithm
        settings.embedding = embedding
        settings.seed = seed
        settings.imageShape = try imageShape.map(AnalysisSettings.parseImageShape)
        settings.compareWith = try compareWith.map(AnalysisSettings.checkComparedFolder)
        settings.vocab = try vocab.map(TokenVocabulary.checkedPath)
        _ = try settings.biclusterConfig()
        return settings
    }
}
