import Testing
import TensorCore
@testable import Biclustering

/// Recovery of planted modules, k selection and digit modules (acceptance of issue #4).
@Suite struct QualityTests {
    /// The make_biclusters((10000, 512), 10, noise=5) form, generated in Swift (sklearn's own matrix is in
    /// scripts/bench_bicluster.py; sklearn's SpectralCoclustering reaches 0.52 on it).
    @Test func recoversTenPlantedModulesWithTheKMinusOneEmbedding() throws {
        let planted = PlantedBiclusters(rows: 10000, cols: 512, clusters: 10, noise: 5, seed: 0)
        var config = BiclusterConfig()
        config.k = .fixed(10)
        config.restarts = 4
        let result = try Biclusterer(config: config).fit(planted.view)
        let score = consensusScore(result.biclusterSet, planted.truth)
        #expect(score >= 0.95, "consensus vs truth \(score)")
        #expect(result.modules.allSatisfy { $0.degenerate == nil && ($0.stability ?? 0) > 0.9 })
        #expect(result.modules.allSatisfy { ($0.densityRatio ?? 0) > 1.5 }, "\(result.modules.map(\.densityRatio))")
    }

    /// A smaller analogue of make_biclusters((10000, 512), 10, noise=5) for `--k auto` (the full-size run is in
    /// docs/performance.md): k = 10 must be the largest stable k and agree with the singular-value gap.
    @Test func autoFindsTheNumberOfPlantedModules() throws {
        let planted = PlantedBiclusters(rows: 1500, cols: 200, clusters: 10, noise: 5, seed: 1)
        var config = BiclusterConfig()
        config.k = .auto(6...13)
        config.restarts = 8
        config.initializations = 4
        config.pacPairs = 20_000
        let result = try Biclusterer(config: config).fit(planted.view)
        #expect(result.k == 10, "\(result.selection.message)")
        #expect(result.selection.stableKFound)
        #expect(result.selection.singularGapK == 10, "\(result.selection.singularValues)")
        #expect(result.stability.count == 8)
        #expect(consensusScore(result.biclusterSet, planted.truth) >= 0.95)
    }

    @Test func noStableKIsReportedWithTheBestCandidate() throws {
        // Pure noise: no k is stable.
        let noise = PlantedBiclusters(rows: 300, cols: 60, clusters: 2, noise: 1, minValue: 0, maxValue: 0, seed: 3)
        var config = BiclusterConfig()
        config.k = .auto(3...6)
        config.restarts = 6
        config.initializations = 2
        config.pacPairs = 5000
        let result = try Biclusterer(config: config).fit(noise.view)
        #expect(!result.selection.stableKFound)
        #expect(result.selection.message.hasPrefix("no stable k"))
        #expect((3...6).contains(result.k))
    }

    /// Conductance of a digits MLP's hidden layer (Captum, fixture): sample modules follow the digits.
    @Test func digitModulesFromConductance() throws {
        let matrix = try Fixtures.matrix("digits_conductance.npy")
        let digits = try Fixtures.int32s("digits_labels.npy")
        var config = BiclusterConfig()
        config.k = .fixed(10)
        config.restarts = 10
        let result = try Biclusterer(config: config).fit(matrix)
        let labelled = result.rowLabels.indices.filter { result.rowLabels[$0] >= 0 }
        let nmi = normalizedMutualInformation(labelled.map { result.rowLabels[$0] }, labelled.map { digits[$0] })
        #expect(nmi >= 0.85, "NMI \(nmi)")
        #expect(labelled.count == digits.count)
    }

    @Test func checkerboardConsensusOverRestarts() throws {
        let matrix = try Fixtures.matrix("parity_checkerboard_a.npy")
        var config = BiclusterConfig()
        config.k = .fixed(3)
        config.algorithm = .spectralBiclustering
        config.restarts = 5
        let result = try Biclusterer(config: config).fit(matrix)
        let sklearn = BiclusterSet(checkerboardRows: try Fixtures.int32s("parity_checkerboard_a_sk_rows.npy"),
                                   cols: try Fixtures.int32s("parity_checkerboard_a_sk_cols.npy"), rowClusters: 3, colClusters: 3)
        #expect(consensusScore(result.biclusterSet, sklearn) >= 0.99)
        #expect(result.stability[0].pac == 0)
    }
}
