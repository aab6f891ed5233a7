import Foundation

/// Settings of Lloyd's k-means with greedy k-means++ seeding (Arthur & Vassilvitskii 2007; sklearn's variant
/// with 2 + ⌊ln k⌋ candidates per centre).
public struct KMeansConfig: Sendable {
    public var clusters: Int
    public var initializations: Int = 10
    public var maxIterations: Int = 300
    /// Convergence when the summed squared centre shift ≤ tolerance · (mean per-feature variance), as sklearn.
    public var tolerance: Double = 1e-4

    public init(clusters: Int, initializations: Int = 10, maxIterations: Int = 300, tolerance: Double = 1e-4) {
        self.clusters = clusters
        self.initializations = initializations
        self.maxIterations = maxIterations
        self.tolerance = tolerance
    }
}

public struct KMeansResult: Sendable {
    public var labels: [Int32]
    /// clusters×dimension, row-major.
    public var centers: [Double]
    public var inertia: Double
}

/// k-means on `count` points of dimension `dimension` (row-major doubles). The best of `initializations`
/// runs (lowest inertia; first on ties) is returned. Runs execute in parallel, each with its own generator
/// `RandomSource(seed, stream: run)`, so the result does not depend on thread scheduling.
/// - Precondition: 1 ≤ clusters ≤ count.
public func kMeans(points: [Double], count n: Int, dimension d: Int, config: KMeansConfig, seed: UInt64) -> KMeansResult {
    let k = config.clusters
    precondition(k >= 1 && k <= n && points.count == n * d, "kMeans: need 1 ≤ k ≤ n")
    // Centre the data (as sklearn) for numerical accuracy of distances.
    var z = points
    var variance: Double = 0
    for c in 0..<d {
        var mean: Double = 0
        for i in 0..<n { mean += z[i * d + c] }
        mean /= Double(n)
        var v: Double = 0
        for i in 0..<n { z[i * d + c] -= mean; v += z[i * d + c] * z[i * d + c] }
        variance += v / Double(n)
    }
    let tolAbs = d > 0 ? config.tolerance * variance / Double(d) : 0
    let runs = Swift.max(1, config.initializations)
    let results = UnsafeMutableBufferPointer<KMeansResult?>.allocate(capacity: runs)
    results.initialize(repeating: nil)
    defer {
        _ = results.deinitialize()
        results.deallocate()
    }
    z.withUnsafeBufferPointer { zb in
        let box = UncheckedSendable(zb, results)
        DispatchQueue.concurrentPerform(iterations: runs) { run in
            var rng = RandomSource(seed: seed, stream: UInt64(run) &+ 0x4B4D)
            box.results[run] = lloyd(box.points, n: n, d: d, k: k, maxIterations: config.maxIterations,
                                     tolAbs: tolAbs, rng: &rng)
        }
    }
    var best = results[0]!
    for run in 1..<runs where results[run]!.inertia < best.inertia { best = results[run]! }
    return best
}

private struct UncheckedSendable: @unchecked Sendable {
    let points: UnsafeBufferPointer<Double>
    let results: UnsafeMutableBufferPointer<KMeansResult?>
    init(_ p: UnsafeBufferPointer<Double>, _ r: UnsafeMutableBufferPointer<KMeansResult?>) { points = p; results = r }
}

@inline(__always)
private func squaredDistance(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ d: Int) -> Double {
    var s: Double = 0
    for c in 0..<d { let t = a[c] - b[c]; s += t * t }
    return s
}

/// Greedy k-means++ seeding. Above `seedingSampleLimit` points the seeds are chosen among a uniform random
/// subset of that many points (as MiniBatchKMeans' init_size): the seeding is O(k·(2+ln k)·n·d) and dominated
/// the fit on large embeddings, while Lloyd's iterations on all points remove the difference.
let seedingSampleLimit = 8192

private func kMeansPlusPlus(_ z: UnsafeBufferPointer<Double>, n fullCount: Int, d: Int, k: Int, rng: inout RandomSource) -> [Double] {
    if fullCount > Swift.max(seedingSampleLimit, 4 * k) {
        let chosen = rng.sampleWithoutReplacement(fullCount, count: seedingSampleLimit)
        var subset = [Double](repeating: 0, count: chosen.count * d)
        for (a, i) in chosen.enumerated() { for c in 0..<d { subset[a * d + c] = z[i * d + c] } }
        return subset.withUnsafeBufferPointer { kMeansPlusPlus($0, n: chosen.count, d: d, k: k, rng: &rng) }
    }
    let n = fullCount
    let p = z.baseAddress!
    var centers = [Double](repeating: 0, count: k * d)
    let trials = 2 + Int(Foundation.log(Double(k)))
    var first = Int(rng.next() % UInt64(n))
    first = Swift.min(first, n - 1)
    for c in 0..<d { centers[c] = p[first * d + c] }
    var closest = [Double](repeating: 0, count: n)
    for i in 0..<n { closest[i] = squaredDistance(p + i * d, p + first * d, d) }
    var potential = closest.reduce(0, +)
    var candidateDist = [Double](repeating: 0, count: n)
    var bestDist = [Double](repeating: 0, count: n)
    for center in 1..<k {
        var bestCandidate = -1
        var bestPotential = Double.infinity
        for _ in 0..<trials {
            // Sample proportionally to the current squared distance.
            let target = rng.uniform() * potential
            var acc: Double = 0
            var cand = n - 1
            for i in 0..<n { acc += closest[i]; if acc > target { cand = i; break } }
            var pot: Double = 0
            for i in 0..<n {
                let dd = Swift.min(closest[i], squaredDistance(p + i * d, p + cand * d, d))
                candidateDist[i] = dd
                pot += dd
            }
            if pot < bestPotential {
                bestPotential = pot
                bestCandidate = cand
                swap(&bestDist, &candidateDist)
            }
        }
        if potential <= 0 { bestCandidate = Int(rng.next() % UInt64(n)) ; bestDist = closest; bestPotential = potential }
        for c in 0..<d { centers[center * d + c] = p[bestCandidate * d + c] }
        closest = bestDist
        potential = bestPotential
    }
    return centers
}

/// Lloyd's iterations with Hamerly's bounds (Hamerly 2010, "Making k-means even faster", SDM): an upper bound on
/// each point's distance to its centre and a lower bound on the distance to the second closest let most points
/// skip the distance computations once centres move little. The result is exactly Lloyd's (up to exact ties);
/// the inertia is summed exactly at the end. Empty clusters take the points with the largest (bounded)
/// distance to their centre, as sklearn's relocation.
private func lloyd(_ z: UnsafeBufferPointer<Double>, n: Int, d: Int, k: Int, maxIterations: Int, tolAbs: Double,
                   rng: inout RandomSource) -> KMeansResult {
    let p = z.baseAddress!
    var centers = kMeansPlusPlus(z, n: n, d: d, k: k, rng: &rng)
    var labels = [Int32](repeating: -1, count: n)
    var upper = [Double](repeating: 0, count: n)
    var lower = [Double](repeating: 0, count: n)
    var sums = [Double](repeating: 0, count: k * d)
    var counts = [Int](repeating: 0, count: k)
    var centersT = [Double](repeating: 0, count: k * d)
    var dist = [Double](repeating: 0, count: k)
    /// Exact E-step over all points: distances to all centres with the centre index innermost (vectorisable).
    func assign() -> (changed: Bool, inertia: Double) {
        for j in 0..<k { for c in 0..<d { centersT[c * k + j] = centers[j * d + c] } }
        var changed = false
        var inertia: Double = 0
        centersT.withUnsafeBufferPointer { cb in
            dist.withUnsafeMutableBufferPointer { db in
                let ct = cb.baseAddress!, dd = db.baseAddress!
                for i in 0..<n {
                    let x = p + i * d
                    for j in 0..<k { dd[j] = 0 }
                    for c in 0..<d {
                        let xc = x[c]
                        let row = ct + c * k
                        for j in 0..<k { let t = xc - row[j]; dd[j] += t * t }
                    }
                    var best = 0
                    var bestD = dd[0]
                    var secondD = Double.infinity
                    for j in 1..<Swift.max(k, 1) {
                        if dd[j] < bestD { secondD = bestD; bestD = dd[j]; best = j } else if dd[j] < secondD { secondD = dd[j] }
                    }
                    if labels[i] != Int32(best) { changed = true; labels[i] = Int32(best) }
                    upper[i] = bestD.squareRoot()
                    lower[i] = secondD.squareRoot()
                    inertia += bestD
                }
            }
        }
        return (changed, inertia)
    }
    /// Bounded E-step (Hamerly): `halfGap[j]` = half the distance from centre j to its nearest other centre.
    func boundedAssign() -> Bool {
        var halfGap = [Double](repeating: .infinity, count: k)
        for a in 0..<k {
            for b in (a + 1)..<Swift.max(a + 1, k) {
                var s: Double = 0
                for c in 0..<d { let t = centers[a * d + c] - centers[b * d + c]; s += t * t }
                let h = 0.5 * s.squareRoot()
                halfGap[a] = Swift.min(halfGap[a], h)
                halfGap[b] = Swift.min(halfGap[b], h)
            }
        }
        var changed = false
        centers.withUnsafeBufferPointer { cb in
            let cp = cb.baseAddress!
            for i in 0..<n {
                let a = Int(labels[i])
                let bound = Swift.max(halfGap[a], lower[i])
                if upper[i] <= bound { continue }
                let x = p + i * d
                upper[i] = squaredDistance(x, cp + a * d, d).squareRoot()
                if upper[i] <= bound { continue }
                var best = 0
                var bestD = Double.infinity, secondD = Double.infinity
                for j in 0..<k {
                    let dd = squaredDistance(x, cp + j * d, d)
                    if dd < bestD { secondD = bestD; bestD = dd; best = j } else if dd < secondD { secondD = dd }
                }
                if best != a { changed = true; labels[i] = Int32(best) }
                upper[i] = bestD.squareRoot()
                lower[i] = secondD.squareRoot()
            }
        }
        return changed
    }
    _ = assign()
    for _ in 0..<maxIterations {
        // M-step.
        for j in 0..<(k * d) { sums[j] = 0 }
        for j in 0..<k { counts[j] = 0 }
        for i in 0..<n {
            let l = Int(labels[i])
            counts[l] += 1
            for c in 0..<d { sums[l * d + c] += p[i * d + c] }
        }
        var newCenters = centers
        let empty = (0..<k).filter { counts[$0] == 0 }
        if !empty.isEmpty {
            let far = upper.indices.sorted { upper[$0] > upper[$1] || (upper[$0] == upper[$1] && $0 < $1) }
            for (e, j) in empty.enumerated() where e < far.count {
                let i = far[e]
                let old = Int(labels[i])
                counts[old] -= 1
                for c in 0..<d { sums[old * d + c] -= p[i * d + c]; sums[j * d + c] = p[i * d + c] }
                counts[j] = 1
            }
        }
        for j in 0..<k where counts[j] > 0 {
            for c in 0..<d { newCenters[j * d + c] = sums[j * d + c] / Double(counts[j]) }
        }
        var shift: Double = 0
        var move = [Double](repeating: 0, count: k)
        for j in 0..<k {
            var s: Double = 0
            for c in 0..<d { let t = newCenters[j * d + c] - centers[j * d + c]; s += t * t }
            shift += s
            move[j] = s.squareRoot()
        }
        centers = newCenters
        var changed: Bool
        if !empty.isEmpty {
            changed = assign().changed
        } else {
            // Bounds follow the centres: u += own move, l −= largest move of another centre.
            var first = 0
            for j in 1..<Swift.max(k, 1) where move[j] > move[first] { first = j }
            var secondMove: Double = 0
            for j in 0..<k where j != first { secondMove = Swift.max(secondMove, move[j]) }
            for i in 0..<n {
                let a = Int(labels[i])
                upper[i] += move[a]
                lower[i] -= a == first ? secondMove : move[first]
            }
            changed = boundedAssign()
        }
        if !changed || shift <= tolAbs { break }
    }
    // Labels are exact for the final centres (Hamerly's bounds are exact); the inertia is summed exactly.
    var inertia: Double = 0
    centers.withUnsafeBufferPointer { cb in
        for i in 0..<n { inertia += squaredDistance(p + i * d, cb.baseAddress! + Int(labels[i]) * d, d) }
    }
    return KMeansResult(labels: labels, centers: centers, inertia: inertia)
}
