import Testing
@testable import Biclustering

/// Parity with scikit-learn 1.9.1 (labels stored by scripts/make_bicluster_fixtures.py).
@Suite struct ParityTests {
    static let coclusterCases = [("cocluster_a", 5), ("cocluster_b", 4), ("cocluster_c", 8)]

    @Test(arguments: coclusterCases)
    func spectralCoclusteringMatchesSklearn(name: String, k: Int) throws {
        var config = BiclusterConfig()
        config.k = .fixed(k)
        config.embedding = .log2
        config.restarts = 1
        config.initializations = 10
        let result = try Biclusterer(config: config).fit(try Fixtures.matrix("parity_\(name).npy"))
        let sklearn = BiclusterSet(coclusterRows: try Fixtures.int32s("parity_\(name)_sk_rows.npy"),
                                   cols: try Fixtures.int32s("parity_\(name)_sk_cols.npy"), k: k)
        let score = consensusScore(result.biclusterSet, sklearn)
        #expect(score >= 0.99, "consensus_score(ours, sklearn) = \(score) on \(name)")
        // Well separated: identical partitions up to relabelling.
        #expect(score == 1)
    }

    @Test(arguments: [("checkerboard_a", 3, CheckerboardNormalization.bistochastic), ("checkerboard_b", 4, .log)])
    func spectralBiclusteringMatchesSklearn(name: String, k: Int, normalization: CheckerboardNormalization) throws {
        var config = BiclusterConfig()
        config.k = .fixed(k)
        config.algorithm = .spectralBiclustering
        config.checkerboardNormalization = normalization
        config.restarts = 1
        let result = try Biclusterer(config: config).fit(try Fixtures.matrix("parity_\(name).npy"))
        let sklearn = BiclusterSet(checkerboardRows: try Fixtures.int32s("parity_\(name)_sk_rows.npy"),
                                   cols: try Fixtures.int32s("parity_\(name)_sk_cols.npy"), rowClusters: k, colClusters: k)
        let score = consensusScore(result.biclusterSet, sklearn)
        #expect(score >= 0.99, "consensus_score(ours, sklearn) = \(score) on \(name)")
        #expect(result.modules.count == k * k)
    }
}
