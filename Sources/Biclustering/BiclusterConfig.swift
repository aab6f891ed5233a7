/// Which biclustering model each restart fits.
public enum BiclusterAlgorithm: String, Sendable, CaseIterable, Codable {
    /// Dhillon 2001: disjoint (samples, neurons) blocks, one per cluster.
    case spectralCoclustering = "spectral-coclustering"
    /// Kluger et al. 2003: checkerboard of k row clusters × k column clusters.
    case spectralBiclustering = "spectral-biclustering"
}

/// Number of non-trivial singular vectors in the co-clustering embedding.
public enum Embedding: String, Sendable, CaseIterable, Codable {
    /// k − 1 vectors: recovers k planted blocks (sklearn's choice does not, see docs/biclustering.md).
    case kMinusOne = "k-1"
    /// ⌈log₂ k⌉ vectors, as Dhillon 2001 and sklearn (parity mode).
    case log2

    public func dimensions(for k: Int) -> Int {
        switch self {
        case .kMinusOne: return k - 1
        case .log2:
            var l = 0
            while (1 << l) < k { l += 1 }
            return l
        }
    }
}

/// Normalisation of Kluger's spectral biclustering (sklearn `method`).
public enum CheckerboardNormalization: String, Sendable, CaseIterable, Codable {
    case bistochastic, scale, log
}

/// The number of modules: fixed, or chosen by consensus stability over a range.
public enum ModuleCount: Sendable, Equatable {
    case fixed(Int)
    case auto(ClosedRange<Int>)
}

/// Settings of `Biclusterer` (sklearn style: configuration here, fitted values in `BiclusterResult`).
public struct BiclusterConfig: Sendable {
    /// Called after each restart with (restarts done, restarts in all): progress for long fits. Not part of the
    /// result; may be called from the fitting thread only.
    public var onRestartFinished: (@Sendable (Int, Int) -> Void)?
    public var k: ModuleCount = .fixed(2)
    public var transform: Transform = .abs
    public var algorithm: BiclusterAlgorithm = .spectralCoclustering
    public var embedding: Embedding = .kMinusOne
    public var checkerboardNormalization: CheckerboardNormalization = .bistochastic
    /// Kluger: singular vectors computed per side, and how many of them are kept for the projection.
    public var components = 6
    public var bestComponents = 3
    /// Number of restarts R; R = 1 fits the full matrix once (no subsampling).
    public var restarts = 20
    /// k-means initialisations of a single fit on the full matrix (`--n-init`; R = 1, sklearn's n_init).
    public var initializations = 10
    /// k-means initialisations of each subsampled restart when R > 1 (`--restart-n-init`). The restarts themselves
    /// reseed k-means R times, as in consensus clustering (Monti et al. 2003: one clustering per resampling).
    public var restartInitializations = 3
    /// Fraction of (non-empty) rows and columns each restart keeps when R > 1.
    public var subsampleFraction = 0.8
    public var seed: UInt64 = 0
    /// Random pairs per mode for the PAC estimate (standard error ≤ 0.5/√pairs).
    public var pacPairs = 200_000
    /// `--k auto`: a k is stable when PAC ≤ pacThreshold and run-to-run consensus ≥ consensusThreshold.
    public var pacThreshold = 0.05
    public var consensusThreshold = 0.9

    public init() {}

    /// The k values to fit.
    public var candidateKs: [Int] {
        switch k {
        case .fixed(let value): return [value]
        case .auto(let range): return Array(range)
        }
    }
}
