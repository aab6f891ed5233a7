/// Stability of one k over the restarts.
public struct KStability: Sendable, Codable, Equatable {
    public var k: Int
    /// Proportion of ambiguous clustering (Şenbabaoğlu et al. 2014): the fraction of sampled element pairs whose
    /// co-clustering frequency c (over restarts that sampled both) lies in (0.1, 0.9]. Mean over the modes
    /// row–row, column–column and (co-clustering only) row–column. nil with one restart.
    public var pac: Double?
    /// Mean consensus_score between every two restarts, on the elements both sampled. nil with one restart.
    public var runToRunConsensus: Double?
    public var stable: Bool

    enum CodingKeys: String, CodingKey {
        case k, pac, stable
        case runToRunConsensus = "run_to_run_consensus"
    }
}

/// consensus_score between every two restarts, restricted to the elements both sampled (and labelled).
func pairwiseConsensus(runs: [RestartLabels], samples: [RestartSample], k: Int, algorithm: BiclusterAlgorithm) -> [[Double]] {
    let r = runs.count
    var scores = [[Double]](repeating: [Double](repeating: 1, count: r), count: r)
    let sets = runs.map { biclusterSet($0, k: k, algorithm: algorithm) }
    for a in 0..<r {
        for b in (a + 1)..<Swift.max(a + 1, r) {
            let s = consensusScore(sets[a], sets[b], commonElementsOnly: true)
            scores[a][b] = s
            scores[b][a] = s
        }
    }
    return scores
}

/// Pair-sampled PAC: `pairs` random pairs per mode (seeded), standard error ≤ 0.5/√pairs. The labels are
/// first laid out element-major (element × restart) so that one pair reads two contiguous rows.
func pairSampledPAC(runs: [RestartLabels], pairs: Int, crossMode: Bool, seed: UInt64) -> Double {
    let n = runs[0].rows.count, m = runs[0].cols.count, r = runs.count
    var rowTable = [Int32](repeating: -1, count: n * r)
    var colTable = [Int32](repeating: -1, count: m * r)
    for (h, run) in runs.enumerated() {
        for i in 0..<n { rowTable[i * r + h] = run.rows[i] }
        for j in 0..<m { colTable[j * r + h] = run.cols[j] }
    }
    var rng = RandomSource(seed: seed, stream: 0x5041_4300)
    func modePAC(_ first: [Int32], _ firstCount: Int, _ second: [Int32], _ secondCount: Int, distinct: Bool) -> Double? {
        if firstCount == 0 || secondCount == 0 || (distinct && firstCount < 2) { return nil }
        var ambiguous = 0, counted = 0
        first.withUnsafeBufferPointer { fa in
            second.withUnsafeBufferPointer { sa in
                for _ in 0..<pairs {
                    let i = Int(rng.next() % UInt64(firstCount))
                    var j = Int(rng.next() % UInt64(secondCount))
                    if distinct && i == j { j = (j + 1) % secondCount }
                    var both = 0, same = 0
                    let x = fa.baseAddress! + i * r, y = sa.baseAddress! + j * r
                    for h in 0..<r {
                        let a = x[h], b = y[h]
                        if a < 0 || b < 0 { continue }
                        both += 1
                        if a == b { same += 1 }
                    }
                    if both == 0 { continue }
                    counted += 1
                    let c = Double(same) / Double(both)
                    if c > 0.1 && c <= 0.9 { ambiguous += 1 }
                }
            }
        }
        return counted > 0 ? Double(ambiguous) / Double(counted) : nil
    }
    var values: [Double] = []
    if let v = modePAC(rowTable, n, rowTable, n, distinct: true) { values.append(v) }
    if let v = modePAC(colTable, m, colTable, m, distinct: true) { values.append(v) }
    if crossMode, let v = modePAC(rowTable, n, colTable, m, distinct: false) { values.append(v) }
    return values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
}

/// How `--k auto` chose k.
public struct KSelectionReport: Sendable, Codable, Equatable {
    /// "fixed" or "auto".
    public var mode: String
    public var chosenK: Int
    /// False when no candidate passed both thresholds ("no stable k"); chosenK is then the best candidate
    /// (lowest PAC, then highest run-to-run consensus).
    public var stableKFound: Bool
    /// k suggested by the largest relative gap σ_j / σ_{j+1} of the normalised singular values σ₂ ≥ σ₃ ≥ …:
    /// a gap after σ_j suggests k = j (Dhillon's k−1 non-trivial vectors). nil when not computed.
    public var singularGapK: Int?
    /// σ₂, σ₃, … of the normalised full matrix (co-clustering normalisation).
    public var singularValues: [Double]
    public var message: String

    enum CodingKeys: String, CodingKey {
        case mode, message
        case chosenK = "chosen_k"
        case stableKFound = "stable_k_found"
        case singularGapK = "singular_gap_k"
        case singularValues = "singular_values"
    }
}

/// "Largest stable k": the largest k with PAC ≤ pacThreshold and run-to-run consensus ≥ consensusThreshold.
/// Merged planted modules are stable too, so the smallest-PAC k would under-split (docs/biclustering.md).
func chooseK(_ stats: [KStability]) -> (k: Int, stable: Bool) {
    if let best = stats.filter(\.stable).map(\.k).max() { return (best, true) }
    let best = stats.min { a, b in
        let pa = a.pac ?? 1, pb = b.pac ?? 1
        if pa != pb { return pa < pb }
        return (a.runToRunConsensus ?? 0) > (b.runToRunConsensus ?? 0)
    }!
    return (best.k, false)
}

/// k from the largest relative gap σ_j / σ_{j+1} of the non-trivial normalised singular values, within `range`.
/// The ratio (not the difference) keeps a weak planted module from hiding behind stronger ones.
func singularGapK(_ values: [Double], range: ClosedRange<Int>) -> Int? {
    var best: (gap: Double, k: Int)?
    // values[0] = σ₂; a gap after values[j] means j + 1 useful vectors, k = j + 2.
    for j in 0..<Swift.max(0, values.count - 1) {
        let k = j + 2
        guard range.contains(k) else { continue }
        let gap = values[j] / Swift.max(values[j + 1], 1e-300)
        if best == nil || gap > best!.gap { best = (gap, k) }
    }
    return best?.k
}
