import Testing
@testable import Biclustering

@Suite struct ConsensusScoreTests {
    @Test func matchesSklearnOnRandomLabelings() throws {
        let json = try Fixtures.json()
        let c = json["consensus_score_case"] as! [String: Any]
        func ints(_ key: String) -> [Int32] { (c[key] as! [Int]).map(Int32.init) }
        let a = BiclusterSet(coclusterRows: ints("rows_a"), cols: ints("cols_a"), k: 4)
        let b = BiclusterSet(coclusterRows: ints("rows_b"), cols: ints("cols_b"), k: 5)
        let expected = c["score"] as! Double
        #expect(abs(consensusScore(a, b) - expected) < 1e-12)
        #expect(abs(consensusScore(b, a) - expected) < 1e-12)
    }

    @Test func identicalUpToRelabellingScoresOne() {
        let a = BiclusterSet(coclusterRows: [0, 0, 1, 1, 2], cols: [2, 1, 0], k: 3)
        let b = BiclusterSet(coclusterRows: [2, 2, 0, 0, 1], cols: [1, 0, 2], k: 3)
        #expect(consensusScore(a, b) == 1)
    }

    @Test func unmatchedBiclustersCountAsZero() {
        let a = BiclusterSet(coclusterRows: [0, 0, 1, 1], cols: [0, 1], k: 2)
        let b = BiclusterSet(coclusterRows: [0, 0, 0, 0], cols: [0, 0], k: 1)
        // Best match: b0 = all 8 cells vs a0 (2 cells) or a1 (2 cells): Jaccard 2/8; divided by max(2, 1).
        #expect(abs(consensusScore(a, b) - 0.125) < 1e-12)
    }

    @Test func hungarianFindsTheMinimumOnRectangularMatrices() {
        // Brute force over all injections of 3 rows into 4 columns.
        var rng = RandomSource(seed: 7)
        for _ in 0..<20 {
            let cost = (0..<12).map { _ in rng.uniform() }
            let assignment = linearSumAssignment(cost: cost, rows: 3, cols: 4)
            let total = assignment.enumerated().reduce(0.0) { $0 + cost[$1.offset * 4 + $1.element] }
            var best = Double.infinity
            for a in 0..<4 { for b in 0..<4 where b != a { for c in 0..<4 where c != a && c != b {
                best = min(best, cost[a] + cost[4 + b] + cost[8 + c])
            } } }
            #expect(abs(total - best) < 1e-12)
            #expect(Set(assignment).count == 3)
            let transposed = (0..<12).map { cost[($0 % 3) * 4 + $0 / 3] }
            let back = linearSumAssignment(cost: transposed, rows: 4, cols: 3)
            #expect(back.filter { $0 >= 0 }.count == 3)
        }
    }
}
