import ArrayFiles
import Foundation
import Testing
import TensorCore
@testable import Biclustering

@Suite struct BiclustererTests {
    static func config(k: Int, restarts: Int = 3) -> BiclusterConfig {
        var c = BiclusterConfig()
        c.k = .fixed(k)
        c.restarts = restarts
        return c
    }

    static func message(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as BiclusteringError { return e.message } catch { return "\(error)" }
    }

    @Test func badInputGivesClearErrors() {
        let small = MatrixView(copying: [1, 2, 3, 4, 5, 6], rows: 3, cols: 2)
        #expect(Self.message { _ = try Biclusterer(config: Self.config(k: 1)).fit(small) }?.contains("--k 1") == true)
        #expect(Self.message { _ = try Biclusterer(config: Self.config(k: 3)).fit(small) }?.contains("number of columns (2)") == true)
        #expect(Self.message { _ = try Biclusterer(config: Self.config(k: 4)).fit(small) }?.contains("number of rows (3)") == true)
        let nan = MatrixView(copying: [1, 2, .nan, 4, 5, 6], rows: 3, cols: 2)
        #expect(Self.message { _ = try Biclusterer(config: Self.config(k: 2)).fit(nan) }?.contains("entry (1, 0) is nan") == true)
        let inf = MatrixView(copying: [1, 2, 3, 4, 5, .infinity], rows: 3, cols: 2)
        #expect(Self.message { _ = try Biclusterer(config: Self.config(k: 2)).fit(inf) }?.contains("finite") == true)
        let zero = MatrixView(copying: [Float](repeating: 0, count: 6), rows: 3, cols: 2)
        #expect(Self.message { _ = try Biclusterer(config: Self.config(k: 2)).fit(zero) }?.contains("all zero") == true)
        let positive = MatrixView(copying: [1, 2, 3, 4, 5, 6], rows: 3, cols: 2)
        var negative = Self.config(k: 2)
        negative.transform = .negative
        #expect(Self.message { _ = try Biclusterer(config: negative).fit(positive) }?.contains("all zero after --transform negative") == true)
        var auto = Self.config(k: 2, restarts: 1)
        auto.k = .auto(2...3)
        #expect(Self.message { _ = try Biclusterer(config: auto).fit(MatrixView(copying: [Float](repeating: 1, count: 12), rows: 4, cols: 3)) }?.contains("--restarts") == true)
    }

    @Test func wrongDtypeAndRankAreRejected() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bicluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let ints = folder.appendingPathComponent("ints.npy")
        try NPYWriter.write([Int32]([1, 2, 3, 4]), shape: [2, 2], to: ints.path)
        #expect(Self.message { _ = try MappedNPYFile(path: ints.path) }?.contains("dtype int32 is not supported") == true)
        let vector = folder.appendingPathComponent("vector.npy")
        try NPYWriter.write([Float]([1, 2, 3, 4]), shape: [4], to: vector.path)
        #expect(Self.message { _ = try MappedNPYFile(path: vector.path) }?.contains("rank 2") == true)
        let good = folder.appendingPathComponent("good.npy")
        try NPYWriter.write([Float]([1, 2, 3, 4, 5, 6]), shape: [3, 2], to: good.path)
        let file = try MappedNPYFile(path: good.path)
        #expect(file.rows == 3 && file.cols == 2 && file.view[2, 1] == 6)
    }

    @Test func float64AndFortranFilesAreConverted() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bicluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func write(_ name: String, descr: String, fortran: Bool, bytes: Data) throws -> String {
            var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': (3, 2), }"
            header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
            var data = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0, UInt8(header.utf8.count), 0])
            data += Data(header.utf8) + bytes
            let url = folder.appendingPathComponent(name)
            try data.write(to: url)
            return url.path
        }
        let doubles: [Double] = [1, 2, 3, 4, 5, 6]
        let f8 = try MappedNPYFile(path: write("f8.npy", descr: "<f8", fortran: false, bytes: doubles.withUnsafeBytes { Data($0) }))
        #expect(f8.view[2, 1] == 6 && f8.view[0, 1] == 2)
        // Fortran order stores column after column: (1, 3, 5), (2, 4, 6) is the C matrix [[1, 2], [3, 4], [5, 6]].
        let column: [Float] = [1, 3, 5, 2, 4, 6]
        let fortran = try MappedNPYFile(path: write("f.npy", descr: "<f4", fortran: true, bytes: column.withUnsafeBytes { Data($0) }))
        #expect((0..<3).flatMap { i in (0..<2).map { fortran.view[i, $0] } } == [1, 2, 3, 4, 5, 6])
    }

    @Test func zeroRowsAndColumnsAreSetAside() throws {
        var planted = PlantedBiclusters(rows: 120, cols: 40, clusters: 3, noise: 0.5, seed: 4)
        for j in 0..<40 { planted.values[7 * 40 + j] = 0 }
        for i in 0..<120 { planted.values[i * 40 + 5] = 0 }
        let result = try Biclusterer(config: Self.config(k: 3)).fit(planted.view)
        #expect(result.rowLabels[7] == -1)
        #expect(result.colLabels[5] == -1)
        #expect(result.rowLabels.filter { $0 < 0 }.count == 1)
        #expect(result.modules.allSatisfy { !$0.samples.contains(7) && !$0.neurons.contains(5) })
    }

    @Test func signedSplitDoublesTheColumns() throws {
        var planted = PlantedBiclusters(rows: 200, cols: 30, clusters: 3, noise: 1, seed: 5)
        // Negate the columns of module 2: their negative parts carry that module.
        for i in 0..<200 { for j in 0..<30 where planted.colLabels[j] == 2 { planted.values[i * 30 + j] *= -1 } }
        var config = Self.config(k: 3)
        config.transform = .signedSplit
        let result = try Biclusterer(config: config).fit(planted.view)
        #expect(result.colLabels.count == 60)
        #expect(result.modules.allSatisfy { $0.columns != nil })
        let truthCols = (0..<60).map { t -> Int32 in
            let j = t % 30
            let negativePart = t >= 30
            return (planted.colLabels[j] == 2) == negativePart ? planted.colLabels[j] : -1
        }
        let truth = BiclusterSet(coclusterRows: planted.rowLabels, cols: truthCols, k: 3)
        let found = BiclusterSet(coclusterRows: result.rowLabels,
                                 cols: result.colLabels.enumerated().map { truthCols[$0.offset] < 0 ? -1 : $0.element }, k: 3)
        #expect(consensusScore(found, truth) >= 0.95)
    }

    /// BLAS runs single-threaded process-wide (parallelism comes from fixed row groups), so the result cannot depend
    /// on a BLAS thread count; the same seed gives the same bytes. The global count is not toggled here: other
    /// suites run BLAS concurrently in this process.
    @Test func sameSeedSameBytesAndSingleThreadedBLAS() throws {
        let planted = PlantedBiclusters(rows: 3000, cols: 128, clusters: 5, noise: 8, seed: 6)
        let view = planted.view
        let one = try Biclusterer(config: Self.config(k: 5, restarts: 4)).fit(view)
        #expect(BLAS.threadCount == 1)
        let two = try Biclusterer(config: Self.config(k: 5, restarts: 4)).fit(view)
        #expect(one.rowLabels == two.rowLabels && one.colLabels == two.colLabels)
        #expect(one.rowConfidence == two.rowConfidence && one.modules == two.modules)
        #expect(one.selection.singularValues == two.selection.singularValues)
    }

    @Test func writesTheOutputFolder() throws {
        let planted = PlantedBiclusters(rows: 200, cols: 40, clusters: 4, noise: 1, seed: 8)
        let result = try Biclusterer(config: Self.config(k: 4)).fit(planted.view)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bicluster-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try result.write(to: folder)
        let modules = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("modules.json"))) as! [String: Any]
        #expect(modules["k"] as? Int == 4)
        #expect(modules["method"] as? String == "spectral-coclustering")
        let list = modules["modules"] as! [[String: Any]]
        #expect(list.count == 4)
        #expect(list.allSatisfy { $0["samples"] != nil && $0["neurons"] != nil && $0["stability"] != nil && $0["density_ratio"] != nil })
        let stability = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("stability.json"))) as! [String: Any]
        #expect((stability["k"] as! [[String: Any]]).first?["pac"] as? Double == 0)
        let labels = try Data(contentsOf: folder.appendingPathComponent("row_labels.npy"))
        #expect(labels.count == 128 + 200 * 4)
        let header = String(decoding: labels[10..<128], as: UTF8.self)
        #expect(header.contains("'descr': '<i4'") && header.contains("(200,)"))
    }

    @Test func truncatedSVDMatchesDenseEigenvalues() {
        let planted = PlantedBiclusters(rows: 150, cols: 40, clusters: 4, noise: 2, seed: 9)
        let sub = Submatrix(source: planted.view, transform: .abs)
        let (rs, cs, _) = sub.sums()
        let norm = ScaledNormalization(matrix: sub, rowSums: rs, colSums: cs)
        var options = TruncatedSVD.Options()
        options.tolerance = 1e-12
        options.maxIterations = 50
        let svd = TruncatedSVD(operator: norm.op, rank: 5, options: options, seed: 1)
        // Dense reference: eigenvalues of (An − u1v1ᵀ)ᵀ(An − u1v1ᵀ), columns via unit vectors.
        var dense = [Double](repeating: 0, count: 150 * 40)
        for j in 0..<40 {
            var e = [Float](repeating: 0, count: 40)
            e[j] = 1
            let y = norm.op.apply(e, width: 1, gram: false).y
            for i in 0..<150 { dense[i * 40 + j] = Double(y[i]) }
        }
        var gram = [Double](repeating: 0, count: 40 * 40)
        for a in 0..<40 { for b in 0..<40 { for i in 0..<150 { gram[a * 40 + b] += dense[i * 40 + a] * dense[i * 40 + b] } } }
        let eigen = LinearAlgebra.symmetricEigen(gram, n: 40)!
        for k in 0..<5 { #expect(abs(svd.values[k] - eigen.values[k].squareRoot()) < 1e-4) }
        // The trivial pair is gone: σ₂ < 1.
        #expect(svd.values[0] < 1)
    }

    @Test func kMeansSeparatesObviousClusters() {
        var points: [Double] = []
        for c in 0..<3 { for i in 0..<50 { points += [Double(c) * 10 + Double(i % 5) * 0.01, Double(c) * -7] } }
        let result = kMeans(points: points, count: 150, dimension: 2, config: KMeansConfig(clusters: 3), seed: 1)
        for c in 0..<3 { #expect(Set(result.labels[(c * 50)..<(c * 50 + 50)]).count == 1) }
        #expect(Set(result.labels).count == 3)
    }
}
