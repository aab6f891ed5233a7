import Foundation

/// Agreement between two labelings of the same items, from their contingency table.
///
/// - NMI: I(U;V) / ((H(U) + H(V)) / 2), scikit-learn's default `average_method="arithmetic"`; 1 when both
///   labelings are identical up to renaming, 0 when independent. Two one-cluster labelings give 1 (sklearn's
///   convention).
/// - ARI (Hubert & Arabie 1985): (Σ C(n_ij,2) − E) / (½(Σ C(a_i,2) + Σ C(b_j,2)) − E),
///   E = Σ C(a_i,2)·Σ C(b_j,2) / C(n,2); 1 for identical labelings, ≈ 0 for random ones.
/// Unassigned items (label −1) count as one more cluster.
public enum ClusteringAgreement {
    static func contingency(_ u: [Int], _ v: [Int]) -> (table: [[Double]], rows: [Double], columns: [Double]) {
        precondition(u.count == v.count, "labelings must cover the same items")
        let us = Array(Set(u)).sorted(), vs = Array(Set(v)).sorted()
        let ui = Dictionary(uniqueKeysWithValues: us.enumerated().map { ($1, $0) })
        let vi = Dictionary(uniqueKeysWithValues: vs.enumerated().map { ($1, $0) })
        var table = [[Double]](repeating: [Double](repeating: 0, count: vs.count), count: us.count)
        for (a, b) in zip(u, v) { table[ui[a]!][vi[b]!] += 1 }
        return (table, table.map { $0.reduce(0, +) }, (0..<vs.count).map { j in table.reduce(0) { $0 + $1[j] } })
    }

    public static func normalizedMutualInformation(_ u: [Int], _ v: [Int]) -> Double {
        let n = Double(u.count)
        guard n > 0 else { return 1 }
        let (table, rows, columns) = contingency(u, v)
        func entropy(_ counts: [Double]) -> Double { -counts.filter { $0 > 0 }.reduce(0) { $0 + $1 / n * log($1 / n) } }
        let (hu, hv) = (entropy(rows), entropy(columns))
        if hu == 0 && hv == 0 { return 1 }
        var mutual = 0.0
        for i in table.indices {
            for j in table[i].indices where table[i][j] > 0 {
                mutual += table[i][j] / n * log(n * table[i][j] / (rows[i] * columns[j]))
            }
        }
        let mean = (hu + hv) / 2
        return mean > 0 ? max(0, mutual / mean) : 0
    }

    public static func adjustedRandIndex(_ u: [Int], _ v: [Int]) -> Double {
        let n = Double(u.count)
        guard n > 1 else { return 1 }
        let (table, rows, columns) = contingency(u, v)
        func pairs(_ x: Double) -> Double { x * (x - 1) / 2 }
        let index = table.reduce(0.0) { $0 + $1.reduce(0) { $0 + pairs($1) } }
        let (a, b) = (rows.reduce(0) { $0 + pairs($1) }, columns.reduce(0) { $0 + pairs($1) })
        let expected = a * b / pairs(n)
        let maximum = (a + b) / 2
        return maximum == expected ? 1 : (index - expected) / (maximum - expected)
    }
}
