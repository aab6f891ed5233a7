/// A set of disjoint-per-mode biclusters given by a row partition and a column partition (label −1 = in no
/// bicluster) and the list of (row cluster, column cluster) pairs that form the biclusters.
///
/// Spectral co-clustering gives `biclusters = [(0,0), (1,1), …]`; the checkerboard of spectral biclustering
/// gives every pair (a, b), bicluster index a·kc + b (sklearn's order).
public struct BiclusterSet: Sendable, Equatable {
    public var rowLabels: [Int32]
    public var colLabels: [Int32]
    public var biclusters: [(row: Int, col: Int)]

    public init(rowLabels: [Int32], colLabels: [Int32], biclusters: [(row: Int, col: Int)]) {
        self.rowLabels = rowLabels
        self.colLabels = colLabels
        self.biclusters = biclusters
    }

    /// Co-clustering layout: bicluster b = (rows labelled b, columns labelled b), b in 0..<k.
    public init(coclusterRows rowLabels: [Int32], cols colLabels: [Int32], k: Int) {
        self.init(rowLabels: rowLabels, colLabels: colLabels, biclusters: (0..<k).map { ($0, $0) })
    }

    /// Checkerboard layout with kr row clusters and kc column clusters.
    public init(checkerboardRows rowLabels: [Int32], cols colLabels: [Int32], rowClusters kr: Int, colClusters kc: Int) {
        var list: [(row: Int, col: Int)] = []
        for a in 0..<kr { for b in 0..<kc { list.append((a, b)) } }
        self.init(rowLabels: rowLabels, colLabels: colLabels, biclusters: list)
    }

    public static func == (l: BiclusterSet, r: BiclusterSet) -> Bool {
        l.rowLabels == r.rowLabels && l.colLabels == r.colLabels
            && l.biclusters.map(\.row) == r.biclusters.map(\.row) && l.biclusters.map(\.col) == r.biclusters.map(\.col)
    }

    var rowClusterCount: Int { Swift.max(biclusters.map(\.row).max() ?? -1, rowLabels.max().map(Int.init) ?? -1) + 1 }
    var colClusterCount: Int { Swift.max(biclusters.map(\.col).max() ?? -1, colLabels.max().map(Int.init) ?? -1) + 1 }
}

/// Contingency table N[a][b] = #{i : x[i] = a, y[i] = b} over elements labelled in both (≥ 0), optionally only
/// where `mask[i]` is true. O(n + ka·kb).
func contingency(_ x: [Int32], _ y: [Int32], ka: Int, kb: Int, mask: [Bool]? = nil) -> [Double] {
    var counts = [Int](repeating: 0, count: ka * kb)
    let n = Swift.min(x.count, y.count)
    x.withUnsafeBufferPointer { xb in
        y.withUnsafeBufferPointer { yb in
            counts.withUnsafeMutableBufferPointer { cb in
                for i in 0..<n {
                    let a = Int(xb[i]), b = Int(yb[i])
                    if a < 0 || b < 0 || a >= ka || b >= kb { continue }
                    if let mask, !mask[i] { continue }
                    cb[a * kb + b] += 1
                }
            }
        }
    }
    return counts.map(Double.init)
}

/// Cell Jaccard matrix J[i][j] between the biclusters of `a` and `b` (Hochreiter et al. 2010):
/// |Ra∩Rb|·|Ca∩Cb| / (|Ra||Ca| + |Rb||Cb| − |Ra∩Rb|·|Ca∩Cb|), computed from two contingency tables.
/// Elements outside `rowMask`/`colMask` are ignored. Two empty biclusters score 0 (sklearn gives NaN).
///
/// With `commonElementsOnly`, only elements labelled (≥ 0) in both sets count, sizes included: the comparison of
/// two subsampled restarts on what both saw, in one pass per mode.
public func biclusterJaccard(_ a: BiclusterSet, _ b: BiclusterSet, rowMask: [Bool]? = nil, colMask: [Bool]? = nil,
                             commonElementsOnly: Bool = false) -> [Double] {
    let kar = a.rowClusterCount, kac = a.colClusterCount, kbr = b.rowClusterCount, kbc = b.colClusterCount
    let rowTable = contingency(a.rowLabels, b.rowLabels, ka: kar, kb: kbr, mask: rowMask)
    let colTable = contingency(a.colLabels, b.colLabels, ka: kac, kb: kbc, mask: colMask)
    func sizes(_ labels: [Int32], _ k: Int, _ mask: [Bool]?) -> [Double] {
        var s = [Double](repeating: 0, count: k)
        for (i, l) in labels.enumerated() where l >= 0 && Int(l) < k && (mask?[i] ?? true) { s[Int(l)] += 1 }
        return s
    }
    func marginals(_ table: [Double], _ ka: Int, _ kb: Int) -> ([Double], [Double]) {
        var x = [Double](repeating: 0, count: ka), y = [Double](repeating: 0, count: kb)
        for p in 0..<ka { for q in 0..<kb { x[p] += table[p * kb + q]; y[q] += table[p * kb + q] } }
        return (x, y)
    }
    let (ar, br) = commonElementsOnly ? marginals(rowTable, kar, kbr) : (sizes(a.rowLabels, kar, rowMask), sizes(b.rowLabels, kbr, rowMask))
    let (ac, bc) = commonElementsOnly ? marginals(colTable, kac, kbc) : (sizes(a.colLabels, kac, colMask), sizes(b.colLabels, kbc, colMask))
    let na = a.biclusters.count, nb = b.biclusters.count
    var j = [Double](repeating: 0, count: na * nb)
    for (p, x) in a.biclusters.enumerated() {
        let sizeA = ar[x.row] * ac[x.col]
        for (q, y) in b.biclusters.enumerated() {
            let inter = rowTable[x.row * kbr + y.row] * colTable[x.col * kbc + y.col]
            let union = sizeA + br[y.row] * bc[y.col] - inter
            j[p * nb + q] = union > 0 ? inter / union : 0
        }
    }
    return j
}

/// consensus_score of Hochreiter et al. 2010 (sklearn.metrics.consensus_score with the Jaccard similarity):
/// the biclusters of `a` and `b` are matched one-to-one by the Hungarian algorithm maximising the summed cell
/// Jaccard index, and the sum is divided by the larger number of biclusters. 1 = identical, 0 = disjoint.
/// Runs in O(n + m + ka·kb + k³) instead of sklearn's O(ka·kb·(n + m)).
public func consensusScore(_ a: BiclusterSet, _ b: BiclusterSet, rowMask: [Bool]? = nil, colMask: [Bool]? = nil,
                           commonElementsOnly: Bool = false) -> Double {
    let na = a.biclusters.count, nb = b.biclusters.count
    if na == 0 || nb == 0 { return 0 }
    let j = biclusterJaccard(a, b, rowMask: rowMask, colMask: colMask, commonElementsOnly: commonElementsOnly)
    let assignment = linearSumAssignment(cost: j.map { 1 - $0 }, rows: na, cols: nb)
    var total: Double = 0
    for (p, q) in assignment.enumerated() where q >= 0 { total += j[p * nb + q] }
    return total / Double(Swift.max(na, nb))
}
