/// Minimum-cost assignment on a rectangular cost matrix (Kuhn–Munkres with potentials, O(r²c); the
/// shortest-augmenting-path form of Jonker & Volgenant 1987, as scipy's `linear_sum_assignment`).
///
/// - Parameters: `cost` is rows×cols row-major.
/// - Returns: for each row, its assigned column, or −1 when rows > cols leaves it unassigned. Exactly
///   min(rows, cols) pairs are assigned and their total cost is minimal.
public func linearSumAssignment(cost: [Double], rows: Int, cols: Int) -> [Int] {
    precondition(cost.count == rows * cols)
    if rows == 0 || cols == 0 { return [Int](repeating: -1, count: rows) }
    if rows > cols {
        var transposed = [Double](repeating: 0, count: rows * cols)
        for i in 0..<rows { for j in 0..<cols { transposed[j * rows + i] = cost[i * cols + j] } }
        let colToRow = linearSumAssignment(cost: transposed, rows: cols, cols: rows)
        var result = [Int](repeating: -1, count: rows)
        for (j, i) in colToRow.enumerated() where i >= 0 { result[i] = j }
        return result
    }
    // rows ≤ cols; 1-based arrays as in the classic formulation.
    let n = rows, m = cols
    var u = [Double](repeating: 0, count: n + 1)
    var v = [Double](repeating: 0, count: m + 1)
    var p = [Int](repeating: 0, count: m + 1)
    var way = [Int](repeating: 0, count: m + 1)
    for i in 1...n {
        p[0] = i
        var j0 = 0
        var minv = [Double](repeating: .infinity, count: m + 1)
        var used = [Bool](repeating: false, count: m + 1)
        repeat {
            used[j0] = true
            let i0 = p[j0]
            var delta = Double.infinity
            var j1 = 0
            for j in 1...m where !used[j] {
                let cur = cost[(i0 - 1) * m + (j - 1)] - u[i0] - v[j]
                if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                if minv[j] < delta { delta = minv[j]; j1 = j }
            }
            for j in 0...m {
                if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
            }
            j0 = j1
        } while p[j0] != 0
        repeat {
            let j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
        } while j0 != 0
    }
    var result = [Int](repeating: -1, count: n)
    for j in 1...m where p[j] != 0 { result[p[j] - 1] = j - 1 }
    return result
}
