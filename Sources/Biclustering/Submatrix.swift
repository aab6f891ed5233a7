/// F[S, T]: the transformed matrix F = transform(A) restricted to the rows S and transformed columns T of one
/// restart (nil = all). Nothing is copied: every product reads A block by block and transforms on the fly.
struct Submatrix: Sendable {
    let source: MatrixView
    let transform: Transform
    /// Source row indices (increasing), nil = all rows.
    let rowIndex: [Int32]?
    /// Transformed column indices (increasing), nil = all transformed columns.
    let colIndex: [Int32]?
    let rows: Int
    let cols: Int

    init(source: MatrixView, transform: Transform, rowIndex: [Int32]? = nil, colIndex: [Int32]? = nil) {
        self.source = source
        self.transform = transform
        self.rowIndex = rowIndex
        self.colIndex = colIndex
        rows = rowIndex?.count ?? source.rows
        cols = colIndex?.count ?? transform.transformedColumns(source.cols)
    }

    /// Row ranges processed in parallel by the products: a fixed split (independent of the number of cores or
    /// BLAS threads), so partial sums are always combined in the same order.
    var rowGroups: [Range<Int>] {
        let groups = Swift.max(1, Swift.min(8, rows / Swift.max(1, blockRows)))
        return (0..<groups).map { g in (rows * g / groups)..<(rows * (g + 1) / groups) }
    }

    /// Rows per block: about 1 MiB of float32 per block buffer.
    var blockRows: Int { Swift.max(8, Swift.min(rows, 262_144 / Swift.max(1, cols))) }

    /// Calls `body(firstRow, rowCount, buffer)` for consecutive row blocks with F[S, T] of those rows written
    /// row-major into `buffer` (row stride `cols`), scaled as `rowScale[i] · g(F) · colScale[j]` when given.
    func forEachBlock(
        rowScale: [Float]? = nil, colScale: [Float]? = nil, logShift: Float? = nil, rowRange: Range<Int>? = nil,
        _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void
    ) {
        let br = blockRows
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: br * cols)
        defer { buffer.deallocate() }
        let m = source.cols
        let range = rowRange ?? 0..<rows
        let colScaleCopy = colScale.map { UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, $0.count)) }
        defer { colScaleCopy?.deallocate() }
        if let colScale, let colScaleCopy { for j in 0..<colScale.count { colScaleCopy[j] = colScale[j] } }
        let colScalePointer = colScaleCopy.map { UnsafePointer($0) }
        var start = range.lowerBound
        colIndex.withOptionalBuffer { colBuffer in
            while start < range.upperBound {
                let count = Swift.min(br, range.upperBound - start)
                for i in 0..<count {
                    let src = rowIndex.map { Int($0[start + i]) } ?? (start + i)
                    let out = buffer + i * cols
                    let r = rowScale.map { $0[start + i] } ?? 1
                    if logShift == nil, let colScalePointer {
                        // Transform, gather and scale in one loop (the products' hot path).
                        transform.fillScaled(row: source.base + src * m, sourceColumns: m, columns: colBuffer,
                                             scale: colScalePointer, rowFactor: r, into: out, count: cols)
                        continue
                    }
                    transform.fill(row: source.base + src * m, sourceColumns: m, columns: colBuffer, into: out)
                    if let logShift { for j in 0..<cols { out[j] = Foundation.log(out[j] + logShift) } }
                    if let colScalePointer {
                        for j in 0..<cols { out[j] *= colScalePointer[j] * r }
                    } else if rowScale != nil {
                        for j in 0..<cols { out[j] *= r }
                    }
                }
                body(start, count, buffer)
                start += count
            }
        }
    }

    /// Row and column sums of F[S, T] (double accumulation) and the first non-finite source entry, if any.
    func sums(logShift: Float? = nil) -> (rowSums: [Double], colSums: [Double], nonFinite: (Int, Int)?) {
        var rowSums = [Double](repeating: 0, count: rows)
        var colSums = [Double](repeating: 0, count: cols)
        var nonFinite: (Int, Int)?
        // Row groups in parallel, each with its own column sums (float per row, double across rows), added in
        // group order: deterministic whatever the number of cores.
        let groups = rowGroups
        let parts = rowSums.withUnsafeMutableBufferPointer { rb in
            let out = UncheckedPointer(rb.baseAddress!)
            return parallelMap(groups.count) { g -> [Double] in
                var cs = [Double](repeating: 0, count: cols)
                cs.withUnsafeMutableBufferPointer { csb in
                    forEachBlock(logShift: logShift, rowRange: groups[g]) { start, count, buffer in
                        for i in 0..<count {
                            let row = buffer + i * cols
                            var s: Double = 0
                            for j in 0..<cols {
                                let v = Double(row[j])
                                s += v
                                csb[j] += v
                            }
                            out.pointer[start + i] = s
                        }
                    }
                }
                return cs
            }
        }
        for part in parts { for j in 0..<cols { colSums[j] += part[j] } }
        if let i = rowSums.firstIndex(where: { !$0.isFinite }) {
            let srcRow = rowIndex.map { Int($0[i]) } ?? i
            let rowPtr = source.base + srcRow * source.cols
            let j = (0..<source.cols).first { !rowPtr[$0].isFinite } ?? 0
            nonFinite = (srcRow, j)
        }
        return (rowSums, colSums, nonFinite)
    }

    /// `(F c, Fᵀ r)` for the bistochastic iteration, in one pass.
    func bilinear(rowWeights r: [Double], colWeights c: [Double]) -> (fc: [Double], ftr: [Double]) {
        var fc = [Double](repeating: 0, count: rows)
        var ftr = [Double](repeating: 0, count: cols)
        forEachBlock { start, count, buffer in
            c.withUnsafeBufferPointer { cb in
                ftr.withUnsafeMutableBufferPointer { out in
                    for i in 0..<count {
                        let row = buffer + i * cols
                        let ri = r[start + i]
                        var s: Double = 0
                        for j in 0..<cols {
                            let v = Double(row[j])
                            s += v * cb[j]
                            out[j] += v * ri
                        }
                        fc[start + i] = s
                    }
                }
            }
        }
        return (fc, ftr)
    }
}

extension Optional where Wrapped == [Int32] {
    func withOptionalBuffer<R>(_ body: (UnsafeBufferPointer<Int32>?) throws -> R) rethrows -> R {
        switch self {
        case .none: return try body(nil)
        case .some(let array): return try array.withUnsafeBufferPointer { try body($0) }
        }
    }
}

import Foundation

struct UncheckedPointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
