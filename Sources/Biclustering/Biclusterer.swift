import Foundation

/// Biclustering of a samples × neurons matrix with consensus over restarts: the entry point for the CLI and the
/// pipeline. `fit` reads the matrix block by block (it may be memory-mapped) and never copies it.
///
/// Deterministic: the same matrix, configuration and seed give the same bytes, whatever the BLAS thread count.
public struct Biclusterer: Sendable {
    public var config: BiclusterConfig

    public init(config: BiclusterConfig) { self.config = config }

    /// Checks the configuration against a matrix shape; throws a `BiclusteringError` naming the parameter.
    public func validate(rows: Int, cols: Int) throws {
        guard rows >= 1, cols >= 1 else {
            throw BiclusteringError("--matrix: the matrix is empty (shape \(rows)×\(cols)); it needs at least 2 rows and 2 columns.")
        }
        let tcols = config.transform.transformedColumns(cols)
        switch config.k {
        case .fixed(let k):
            guard k >= 2 else { throw BiclusteringError("--k \(k) is out of range: use 2 ≤ k ≤ min(rows, columns) = \(min(rows, tcols)), or --k auto.") }
            guard k <= rows else { throw BiclusteringError("--k \(k) is larger than the number of rows (\(rows)); use 2 ≤ k ≤ \(min(rows, tcols)).") }
            guard k <= Int(Int16.max) else { throw BiclusteringError("--k \(k) is out of range: use 2 ≤ k ≤ 32767.") }
            guard k <= tcols else { throw BiclusteringError("--k \(k) is larger than the number of columns (\(tcols)); use 2 ≤ k ≤ \(min(rows, tcols)).") }
        case .auto(let range):
            guard range.lowerBound >= 2, range.upperBound <= min(rows, tcols, Int(Int16.max)) else {
                throw BiclusteringError("--k-range \(range.lowerBound)..\(range.upperBound) is out of range: use 2 ≤ low ≤ high ≤ min(rows, columns) = \(min(rows, tcols)).")
            }
        }
        guard config.restarts >= 1, config.restarts <= 1000 else {
            throw BiclusteringError("--restarts \(config.restarts) is out of range: use 1…1000.")
        }
        guard config.initializations >= 1, config.initializations <= 1000 else {
            throw BiclusteringError("--n-init \(config.initializations) is out of range: use 1…1000.")
        }
        guard config.restartInitializations >= 1, config.restartInitializations <= 1000 else {
            throw BiclusteringError("--restart-n-init \(config.restartInitializations) is out of range: use 1…1000.")
        }
        guard config.subsampleFraction > 0, config.subsampleFraction <= 1 else {
            throw BiclusteringError("subsample fraction \(config.subsampleFraction) is out of range: use (0, 1].")
        }
        guard config.bestComponents >= 1, config.bestComponents <= config.components else {
            throw BiclusteringError("best components \(config.bestComponents) must be between 1 and components (\(config.components)).")
        }
    }

    /// Fits the biclustering. Throws `BiclusteringError` for bad input (non-finite values, an all-zero matrix,
    /// k out of range).
    public func fit(_ matrix: MatrixView) throws -> BiclusterResult {
        // Single-threaded BLAS everywhere (LAPACK included); the products parallelise over fixed row groups.
        try withSingleThreadedBLAS { try fitSingleThreaded(matrix) }
    }

    /// The transformed matrix and what the fit needs to know about it before any restart.
    private struct Prepared {
        let full: Submatrix
        let rowSums: [Double], colSums: [Double]
        let liveRows: [Int], liveCols: [Int]
        let ks: [Int], kMax: Int
        let auto: Bool
    }

    private func fitSingleThreaded(_ matrix: MatrixView) throws -> BiclusterResult {
        let prepared = try prepare(matrix)
        let (ks, algorithm, r) = (prepared.ks, config.algorithm, config.restarts)
        // Full-data co-clustering SVD: singular-value gap, warm starts of the restarts, and the single fit when R = 1.
        var fullFit: SpectralCoclusteringFit?
        if algorithm == .spectralCoclustering || prepared.auto {
            fullFit = SpectralCoclusteringFit(
                matrix: prepared.full, ks: ks, embedding: config.embedding, initializations: config.initializations,
                seed: config.seed, extraRank: prepared.auto ? prepared.kMax : 0,
                skipClustering: !(r == 1 && algorithm == .spectralCoclustering), sums: (prepared.rowSums, prepared.colSums))
        }
        let (runs, samples) = fitRestarts(matrix, prepared, fullFit: fullFit)
        let (stats, pairwiseByK) = stability(runs: runs, samples: samples, ks: ks)
        let (chosen, gapK, message) = try selectK(stats: stats, ks: ks, auto: prepared.auto, singularValues: fullFit?.singularValues ?? [])
        let chosenIndex = ks.firstIndex(of: chosen.k)!
        let consensus = consensusBiclusters(runs: runs[chosenIndex].map(\.expanded), samples: samples, pairwise: pairwiseByK[chosenIndex],
                                            k: chosen.k, algorithm: algorithm)
        let modules = buildModules(matrix: matrix, consensus: consensus, k: chosen.k)
        let selection = KSelectionReport(
            mode: prepared.auto ? "auto" : "fixed", chosenK: chosen.k, stableKFound: chosen.stable, singularGapK: gapK,
            singularValues: fullFit?.singularValues ?? [], message: message)
        return BiclusterResult(
            k: chosen.k, algorithm: algorithm, transform: config.transform, embedding: config.embedding, restarts: r,
            seed: config.seed, modules: modules, rowLabels: consensus.rowLabels, colLabels: consensus.colLabels,
            rowConfidence: consensus.rowConfidence, colConfidence: consensus.colConfidence, stability: stats,
            selection: selection)
    }

    /// Checks the values and the candidate ks against the non-zero rows and columns.
    private func prepare(_ matrix: MatrixView) throws -> Prepared {
        try validate(rows: matrix.rows, cols: matrix.cols)
        let full = Submatrix(source: matrix, transform: config.transform)
        let (rowSums, colSums, nonFinite) = full.sums()
        if let (i, j) = nonFinite {
            throw BiclusteringError("--matrix: entry (\(i), \(j)) is \(matrix[i, j]); every value must be finite.")
        }
        let liveRows = (0..<full.rows).filter { rowSums[$0] > 0 }
        let liveCols = (0..<full.cols).filter { colSums[$0] > 0 }
        if liveRows.isEmpty {
            throw BiclusteringError("--matrix: the matrix is all zero after --transform \(config.transform.rawValue); there is nothing to bicluster.")
        }
        let ks = config.candidateKs
        let kMax = ks.max()!
        if kMax > liveRows.count || kMax > liveCols.count {
            throw BiclusteringError("--k \(kMax) is larger than the number of non-zero rows (\(liveRows.count)) or columns (\(liveCols.count)) after --transform \(config.transform.rawValue).")
        }
        let auto: Bool = { if case .auto = config.k { return true } else { return false } }()
        if auto && config.restarts == 1 {
            throw BiclusteringError("--k auto needs --restarts ≥ 2 (it measures stability across restarts); got --restarts 1.")
        }
        return Prepared(full: full, rowSums: rowSums, colSums: colSums, liveRows: liveRows, liveCols: liveCols, ks: ks, kMax: kMax, auto: auto)
    }

    /// Every restart's labels per candidate k (int16, in place), and which rows and columns each restart saw.
    ///
    /// All long-lived per-restart storage is allocated up front: small arrays created between the big
    /// temporaries of each restart would fragment the heap and grow the peak memory with R. `--k auto` keeps
    /// |k-range| × R label sets, expanded to int32 one k at a time for the statistics.
    private func fitRestarts(
        _ matrix: MatrixView, _ prepared: Prepared, fullFit: SpectralCoclusteringFit?
    ) -> (runs: [[CompactLabels]], samples: [RestartSample]) {
        let (full, ks, r) = (prepared.full, prepared.ks, config.restarts)
        var runs: [[CompactLabels]] = ks.map { _ in
            (0..<r).map { _ in
                CompactLabels(rows: [Int16](repeating: -1, count: full.rows), cols: [Int16](repeating: -1, count: full.cols))
            }
        }
        let (subsamples, samples) = drawSubsamples(prepared)
        let sums = RestartSums(full: full, subsamples: subsamples)
        for restart in 0..<r {
            let rowIndex: [Int32]? = r > 1 ? subsamples[restart].rows : nil
            let colIndex: [Int32]? = r > 1 ? subsamples[restart].cols : nil
            if r > 1 && config.algorithm == .spectralCoclustering && restart % RestartSums.batch == 0 {
                sums.compute(restart..<min(r, restart + RestartSums.batch))
            }
            let sub = Submatrix(source: matrix, transform: config.transform, rowIndex: rowIndex, colIndex: colIndex)
            let (rowLabels, colLabels) = fitRestart(
                restart, sub: sub, ks: ks, fullFit: fullFit, colIndex: colIndex,
                sums: rowIndex.flatMap { rows in colIndex.flatMap { sums.of(restart: restart, rows: rows, cols: $0) } })
            for index in ks.indices {
                for (p, l) in rowLabels[index].enumerated() { runs[index][restart].rows[rowIndex.map { Int($0[p]) } ?? p] = Int16(l) }
                for (p, l) in colLabels[index].enumerated() { runs[index][restart].cols[colIndex.map { Int($0[p]) } ?? p] = Int16(l) }
            }
            config.onRestartFinished?(restart + 1, r)
        }
        return (runs, samples)
    }

    /// The rows and columns of every restart (one random stream each), drawn up front so that one pass over A
    /// gives the sums of a whole batch of restarts' submatrices. With one restart: the whole live matrix.
    private func drawSubsamples(_ prepared: Prepared) -> (subsamples: [(rows: [Int32], cols: [Int32])], samples: [RestartSample]) {
        let (full, r) = (prepared.full, config.restarts)
        var samples: [RestartSample] = (0..<r).map { _ in
            r == 1
                ? RestartSample(rows: prepared.rowSums.map { $0 > 0 }, cols: prepared.colSums.map { $0 > 0 })
                : RestartSample(rows: [Bool](repeating: false, count: full.rows), cols: [Bool](repeating: false, count: full.cols))
        }
        var subsamples: [(rows: [Int32], cols: [Int32])] = []
        guard r > 1 else { return (subsamples, samples) }
        let (liveRows, liveCols, kMax) = (prepared.liveRows, prepared.liveCols, prepared.kMax)
        for restart in 0..<r {
            var rng = RandomSource(seed: config.seed, stream: 0x5355_0000 &+ UInt64(restart))
            let rowCount = max(kMax, Int((config.subsampleFraction * Double(liveRows.count)).rounded()))
            let colCount = max(kMax, Int((config.subsampleFraction * Double(liveCols.count)).rounded()))
            let rows = rng.sampleWithoutReplacement(liveRows.count, count: rowCount).map { Int32(liveRows[$0]) }
            let cols = rng.sampleWithoutReplacement(liveCols.count, count: colCount).map { Int32(liveCols[$0]) }
            for i in rows { samples[restart].rows[Int(i)] = true }
            for j in cols { samples[restart].cols[Int(j)] = true }
            subsamples.append((rows, cols))
        }
        return (subsamples, samples)
    }

    /// One restart's labels per k: the full fit's with one restart, else a fit of the subsampled matrix (warm
    /// started from the full fit's singular vectors for co-clustering).
    private func fitRestart(
        _ restart: Int, sub: Submatrix, ks: [Int], fullFit: SpectralCoclusteringFit?, colIndex: [Int32]?,
        sums: (rows: [Double], cols: [Double])?
    ) -> (rows: [[Int32]], cols: [[Int32]]) {
        let restartSeed = config.seed &+ UInt64(restart) &* 0x9E37_79B9
        let r = config.restarts
        switch config.algorithm {
        case .spectralCoclustering:
            if r == 1, let fullFit { return (fullFit.rowLabels, fullFit.colLabels) }
            var warm: (vectors: [Double], width: Int)?
            if let fullFit, let colIndex {
                let w = fullFit.rank
                var vectors = [Double](repeating: 0, count: colIndex.count * w)
                for (p, j) in colIndex.enumerated() {
                    for c in 0..<w { vectors[p * w + c] = fullFit.v[Int(j) * w + c] }
                }
                warm = (vectors, w)
            }
            let fit = SpectralCoclusteringFit(matrix: sub, ks: ks, embedding: config.embedding,
                                              initializations: config.restartInitializations, seed: restartSeed,
                                              warmStart: warm, sums: sums)
            return (fit.rowLabels, fit.colLabels)
        case .spectralBiclustering:
            let fit = SpectralBiclusteringFit(
                matrix: sub, ks: ks, normalization: config.checkerboardNormalization, components: config.components,
                bestComponents: config.bestComponents,
                initializations: r == 1 ? config.initializations : config.restartInitializations, seed: restartSeed)
            return (fit.rowLabels, fit.colLabels)
        }
    }

    /// PAC and run-to-run consensus of every candidate k, and the pairwise consensus matrices.
    private func stability(runs: [[CompactLabels]], samples: [RestartSample], ks: [Int]) -> (stats: [KStability], pairwise: [[[Double]]]) {
        let (r, algorithm) = (config.restarts, config.algorithm)
        var stats: [KStability] = []
        var pairwiseByK: [[[Double]]] = []
        for (index, k) in ks.enumerated() {
            let expanded = runs[index].map(\.expanded)
            let pairwise = pairwiseConsensus(runs: expanded, samples: samples, k: k, algorithm: algorithm)
            pairwiseByK.append(pairwise)
            guard r > 1 else {
                stats.append(KStability(k: k, pac: nil, runToRunConsensus: nil, stable: false))
                continue
            }
            var total: Double = 0
            for a in 0..<r { for b in (a + 1)..<max(a + 1, r) { total += pairwise[a][b] } }
            let s = total / Double(r * (r - 1) / 2)
            let pac = pairSampledPAC(runs: expanded, pairs: config.pacPairs,
                                     crossMode: algorithm == .spectralCoclustering, seed: config.seed)
            stats.append(KStability(k: k, pac: pac, runToRunConsensus: s,
                                    stable: pac <= config.pacThreshold && s >= config.consensusThreshold))
        }
        return (stats, pairwiseByK)
    }

    /// The k to report (fixed, or chosen by stability), the singular-gap k, and the sentence saying why.
    private func selectK(
        stats: [KStability], ks: [Int], auto: Bool, singularValues: [Double]
    ) throws -> (chosen: (k: Int, stable: Bool), gapK: Int?, message: String) {
        guard auto else {
            let message = config.restarts == 1 ? "fixed k = \(ks[0]), single fit on the full matrix." : "fixed k = \(ks[0])."
            return ((ks[0], stats[0].stable), nil, message)
        }
        let gapK = singularGapK(singularValues, range: ks.first!...ks.last!)
        let chosen = chooseK(stats)
        let gapNote = gapK.map { $0 == chosen.k ? "; the singular-value gap agrees (k = \($0))" : "; the singular-value gap suggests k = \($0)" } ?? ""
        let message = chosen.stable
            ? "k = \(chosen.k) is the largest k with PAC ≤ \(config.pacThreshold) and run-to-run consensus ≥ \(config.consensusThreshold)\(gapNote)."
            : "no stable k in \(ks.first!)..\(ks.last!): no k has PAC ≤ \(config.pacThreshold) and run-to-run consensus ≥ \(config.consensusThreshold); best candidate k = \(chosen.k) (lowest PAC)\(gapNote)."
        return (chosen, gapK, message)
    }

    /// Modules with members, stability and density ratio (one pass over A accumulating |A| per label cell).
    private func buildModules(matrix: MatrixView, consensus: ConsensusOutcome, k: Int) -> [BiclusterModule] {
        let m = matrix.cols
        let transform = config.transform
        let rows = consensus.rowLabels, cols = consensus.colLabels
        let kk = k + 1  // label −1 goes to bucket k
        var cellSum = [Double](repeating: 0, count: kk * kk)
        var rowBucketCount = [Double](repeating: 0, count: kk)
        var colBucketCount = [Double](repeating: 0, count: kk)
        for l in rows { rowBucketCount[l >= 0 ? Int(l) : k] += 1 }
        for l in cols { colBucketCount[l >= 0 ? Int(l) : k] += 1 }
        var total: Double = 0
        var colBucket = cols.map { $0 >= 0 ? Int($0) : k }
        var acc = [Double](repeating: 0, count: kk)
        colBucket.withUnsafeMutableBufferPointer { cb in
            for i in 0..<matrix.rows {
                let row = matrix.base + i * m
                for b in 0..<kk { acc[b] = 0 }
                for t in 0..<cb.count {
                    acc[cb[t]] += Double(Swift.abs(row[transform.sourceColumn(t, sourceColumns: m)]))
                }
                let a = rows[i] >= 0 ? Int(rows[i]) : k
                for b in 0..<kk { cellSum[a * kk + b] += acc[b]; total += acc[b] }
            }
        }
        let pairs: [(Int, Int)]
        switch config.algorithm {
        case .spectralCoclustering: pairs = (0..<k).map { ($0, $0) }
        case .spectralBiclustering: pairs = (0..<k).flatMap { a in (0..<k).map { (a, $0) } }
        }
        let totalCells = Double(rows.count) * Double(cols.count)
        return pairs.enumerated().map { id, pair in
            let (a, b) = pair
            let samples = rows.indices.filter { rows[$0] == Int32(a) }
            let columns = cols.indices.filter { cols[$0] == Int32(b) }
            let neurons = Array(Set(columns.map { transform.sourceColumn($0, sourceColumns: m) })).sorted()
            let insideCells = rowBucketCount[a] * colBucketCount[b]
            let inside = cellSum[a * kk + b]
            let outsideCells = totalCells - insideCells
            var ratio: Double?
            if insideCells > 0 && outsideCells > 0 && total - inside > 0 {
                ratio = (inside / insideCells) / ((total - inside) / outsideCells)
            }
            let degenerate: String? = samples.isEmpty && columns.isEmpty ? "empty"
                : samples.isEmpty ? "columns-only" : columns.isEmpty ? "rows-only" : nil
            func mean(_ values: [Float], _ idx: [Int]) -> Double? {
                idx.isEmpty ? nil : idx.reduce(0) { $0 + Double(values[$1]) } / Double(idx.count)
            }
            return BiclusterModule(
                id: id, samples: samples, neurons: neurons, columns: transform == .signedSplit ? columns : nil,
                stability: consensus.stability[id], reproducibility: consensus.reproducibility[id],
                densityRatio: ratio, meanSampleConfidence: mean(consensus.rowConfidence, samples),
                meanNeuronConfidence: mean(consensus.colConfidence, columns), degenerate: degenerate)
        }
    }
}

/// The row and column sums of a batch of restarts' submatrices, from one pass over A: F·1_T for all T and
/// Fᵀ·1_S for all S (two gemms). Batches of `batch` restarts keep the n × batch factors small.
private final class RestartSums {
    static let batch = 10
    let full: Submatrix
    let subsamples: [(rows: [Int32], cols: [Int32])]
    private var rowSums: [Float] = [], colSums: [Double] = []
    private var current: Range<Int> = 0..<0

    init(full: Submatrix, subsamples: [(rows: [Int32], cols: [Int32])]) {
        self.full = full
        self.subsamples = subsamples
    }

    func compute(_ batch: Range<Int>) {
        let width = batch.count
        var q = [Float](repeating: 0, count: full.cols * width)
        var p = [Float](repeating: 0, count: full.rows * width)
        for h in batch {
            for j in subsamples[h].cols { q[Int(j) * width + h - batch.lowerBound] = 1 }
            for i in subsamples[h].rows { p[Int(i) * width + h - batch.lowerBound] = 1 }
        }
        rowSums = []
        (rowSums, colSums) = ImplicitOperator(matrix: full).products(q, width: width, transposed: p, width: width)
        current = batch
    }

    /// The sums of restart `restart`'s submatrix, when its batch was computed.
    func of(restart: Int, rows: [Int32], cols: [Int32]) -> (rows: [Double], cols: [Double])? {
        guard !rowSums.isEmpty, current.contains(restart) else { return nil }
        let width = current.count, h = restart - current.lowerBound
        return (rows.map { Double(rowSums[Int($0) * width + h]) }, cols.map { colSums[Int($0) * width + h] })
    }
}

