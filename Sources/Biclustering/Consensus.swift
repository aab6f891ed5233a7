/// Labels of one restart, on the full index sets (−1 = not sampled, or empty in the subsample).
struct RestartLabels: Sendable {
    var rows: [Int32]
    var cols: [Int32]
}

/// `RestartLabels` stored as int16 while all restarts are kept (halves the memory of `--k auto`).
struct CompactLabels: Sendable {
    var rows: [Int16]
    var cols: [Int16]

    var expanded: RestartLabels { RestartLabels(rows: rows.map(Int32.init), cols: cols.map(Int32.init)) }
}

/// Which elements one restart sampled.
struct RestartSample: Sendable {
    var rows: [Bool]
    var cols: [Bool]
}

/// The consensus biclustering at one k and its per-module and per-element reliability.
struct ConsensusOutcome: Sendable {
    var rowLabels: [Int32]
    var colLabels: [Int32]
    /// Fraction of the restarts that sampled the element in which it voted for its final module (0 for −1).
    var rowConfidence: [Float]
    var colConfidence: [Float]
    /// Per bicluster: mean matched Jaccard over restarts, and the fraction of restarts with Jaccard ≥ 0.5
    /// (nil with a single restart).
    var stability: [Double?]
    var reproducibility: [Double?]
}

func biclusterSet(_ labels: RestartLabels, k: Int, algorithm: BiclusterAlgorithm) -> BiclusterSet {
    switch algorithm {
    case .spectralCoclustering: return BiclusterSet(coclusterRows: labels.rows, cols: labels.cols, k: k)
    case .spectralBiclustering:
        return BiclusterSet(checkerboardRows: labels.rows, cols: labels.cols, rowClusters: k, colClusters: k)
    }
}


/// Jaccard index between the clusters of two partitions of the same elements (mask restricts the elements).
func partitionJaccard(_ x: [Int32], _ y: [Int32], k: Int, mask: [Bool]) -> [Double] {
    let table = contingency(x, y, ka: k, kb: k, mask: mask)
    var sx = [Double](repeating: 0, count: k), sy = [Double](repeating: 0, count: k)
    for i in 0..<x.count where mask[i] {
        if x[i] >= 0 && Int(x[i]) < k { sx[Int(x[i])] += 1 }
        if y[i] >= 0 && Int(y[i]) < k { sy[Int(y[i])] += 1 }
    }
    var j = [Double](repeating: 0, count: k * k)
    for a in 0..<k { for b in 0..<k {
        let u = sx[a] + sy[b] - table[a * k + b]
        j[a * k + b] = u > 0 ? table[a * k + b] / u : 0
    } }
    return j
}

/// Consensus over restarts by alignment and voting (the bicluster-level ensemble of Hanczar & Nadif 2010 and
/// biclust::ensemble, with the Hungarian matching of Hochreiter et al. 2010):
/// 1. reference = the medoid restart (highest mean consensus_score to the others);
/// 2. each restart's modules are matched to the reference's by Hungarian on the cell Jaccard index, computed on
///    the elements that restart sampled (rows and columns separately for a checkerboard); unmatched or
///    zero-overlap modules cast no vote;
/// 3. every element votes for the reference module its restart's module maps to; the new reference is the
///    per-element majority (ties to the lower id); repeat until unchanged (at most 5 rounds).
func consensusBiclusters(runs: [RestartLabels], samples: [RestartSample], pairwise: [[Double]], k: Int,
                         algorithm: BiclusterAlgorithm) -> ConsensusOutcome {
    let r = runs.count
    let n = runs[0].rows.count, m = runs[0].cols.count
    if r == 1 {
        return ConsensusOutcome(
            rowLabels: runs[0].rows, colLabels: runs[0].cols,
            rowConfidence: runs[0].rows.map { $0 >= 0 ? 1 : 0 }, colConfidence: runs[0].cols.map { $0 >= 0 ? 1 : 0 },
            stability: [Double?](repeating: nil, count: biclusterSet(runs[0], k: k, algorithm: algorithm).biclusters.count),
            reproducibility: [Double?](repeating: nil, count: biclusterSet(runs[0], k: k, algorithm: algorithm).biclusters.count))
    }
    let medoid = (0..<r).max { a, b in
        let sa = pairwise[a].reduce(0, +), sb = pairwise[b].reduce(0, +)
        return sa < sb || (sa == sb && a > b)
    }!
    var reference = runs[medoid]
    var rowVotes = [Int32](), colVotes = [Int32]()
    for _ in 0..<5 {
        rowVotes = [Int32](repeating: 0, count: n * k)
        colVotes = [Int32](repeating: 0, count: m * k)
        for (run, sample) in zip(runs, samples) {
            let (rowMap, colMap) = align(reference: reference, run: run, sample: sample, k: k, algorithm: algorithm)
            for i in 0..<n where run.rows[i] >= 0 {
                let target = rowMap[Int(run.rows[i])]
                if target >= 0 { rowVotes[i * k + target] += 1 }
            }
            for j in 0..<m where run.cols[j] >= 0 {
                let target = colMap[Int(run.cols[j])]
                if target >= 0 { colVotes[j * k + target] += 1 }
            }
        }
        let next = RestartLabels(rows: majority(rowVotes, count: n, k: k), cols: majority(colVotes, count: m, k: k))
        if next.rows == reference.rows && next.cols == reference.cols { break }
        reference = next
    }
    func confidence(_ votes: [Int32], _ labels: [Int32], _ sampled: (Int) -> Int) -> [Float] {
        labels.indices.map { e in
            let l = labels[e]
            let times = sampled(e)
            return l >= 0 && times > 0 ? Float(votes[e * k + Int(l)]) / Float(times) : 0
        }
    }
    let rowConfidence = confidence(rowVotes, reference.rows) { i in samples.reduce(0) { $0 + ($1.rows[i] ? 1 : 0) } }
    let colConfidence = confidence(colVotes, reference.cols) { j in samples.reduce(0) { $0 + ($1.cols[j] ? 1 : 0) } }
    let refSet = biclusterSet(reference, k: k, algorithm: algorithm)
    let count = refSet.biclusters.count
    var stabilitySum = [Double](repeating: 0, count: count)
    var reproducible = [Double](repeating: 0, count: count)
    for run in runs {
        let runSet = biclusterSet(run, k: k, algorithm: algorithm)
        let j = biclusterJaccard(refSet, runSet, commonElementsOnly: true)
        let nb = runSet.biclusters.count
        let assignment = linearSumAssignment(cost: j.map { 1 - $0 }, rows: count, cols: nb)
        for (p, q) in assignment.enumerated() where q >= 0 {
            stabilitySum[p] += j[p * nb + q]
            if j[p * nb + q] >= 0.5 { reproducible[p] += 1 }
        }
    }
    return ConsensusOutcome(
        rowLabels: reference.rows, colLabels: reference.cols, rowConfidence: rowConfidence, colConfidence: colConfidence,
        stability: stabilitySum.map { $0 / Double(r) }, reproducibility: reproducible.map { $0 / Double(r) })
}

private func majority(_ votes: [Int32], count: Int, k: Int) -> [Int32] {
    (0..<count).map { e in
        var best: Int32 = -1, bestVotes: Int32 = 0
        for l in 0..<k where votes[e * k + l] > bestVotes { bestVotes = votes[e * k + l]; best = Int32(l) }
        return best
    }
}

/// Maps a restart's row and column cluster ids to the reference's (−1 = no match).
private func align(reference: RestartLabels, run: RestartLabels, sample: RestartSample, k: Int,
                   algorithm: BiclusterAlgorithm) -> (rows: [Int], cols: [Int]) {
    func invert(_ assignment: [Int], _ j: [Double]) -> [Int] {
        var map = [Int](repeating: -1, count: k)
        for (p, q) in assignment.enumerated() where q >= 0 && j[p * k + q] > 0 { map[q] = p }
        return map
    }
    switch algorithm {
    case .spectralCoclustering:
        let j = biclusterJaccard(BiclusterSet(coclusterRows: reference.rows, cols: reference.cols, k: k),
                                 BiclusterSet(coclusterRows: run.rows, cols: run.cols, k: k), commonElementsOnly: true)
        let map = invert(linearSumAssignment(cost: j.map { 1 - $0 }, rows: k, cols: k), j)
        return (map, map)
    case .spectralBiclustering:
        let jr = partitionJaccard(reference.rows, run.rows, k: k, mask: sample.rows)
        let jc = partitionJaccard(reference.cols, run.cols, k: k, mask: sample.cols)
        return (invert(linearSumAssignment(cost: jr.map { 1 - $0 }, rows: k, cols: k), jr),
                invert(linearSumAssignment(cost: jc.map { 1 - $0 }, rows: k, cols: k), jc))
    }
}
