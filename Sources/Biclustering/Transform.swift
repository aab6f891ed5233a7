/// How the signed attribution matrix A becomes the non-negative matrix F that spectral co-clustering needs
/// (Dhillon 2001 works on a bipartite graph with non-negative edge weights).
///
/// `signedSplit` doubles the columns: column j of F is max(A[:, j], 0) and column m + j is max(−A[:, j], 0).
/// All transforms are applied on the fly, block by block; F is never stored.
public enum Transform: String, Sendable, CaseIterable, Codable {
    case abs
    case positive
    case negative
    case signedSplit = "signed-split"

    /// Number of columns of F for a matrix with `sourceColumns` columns.
    public func transformedColumns(_ sourceColumns: Int) -> Int {
        self == .signedSplit ? 2 * sourceColumns : sourceColumns
    }

    /// The source column of transformed column `t`.
    @inlinable public func sourceColumn(_ t: Int, sourceColumns: Int) -> Int {
        self == .signedSplit && t >= sourceColumns ? t - sourceColumns : t
    }

    /// F[i, t] from the source row `row` (length `sourceColumns`).
    @inlinable public func value(_ row: UnsafePointer<Float>, _ t: Int, sourceColumns: Int) -> Float {
        switch self {
        case .abs: return Swift.abs(row[t])
        case .positive: return Swift.max(row[t], 0)
        case .negative: return Swift.max(-row[t], 0)
        case .signedSplit:
            return t < sourceColumns ? Swift.max(row[t], 0) : Swift.max(-row[t - sourceColumns], 0)
        }
    }

    /// Writes F[row, t] for every t in `columns` (nil = all transformed columns) into `out`.
    @inlinable public func fill(
        row: UnsafePointer<Float>, sourceColumns m: Int, columns: UnsafeBufferPointer<Int32>?,
        into out: UnsafeMutablePointer<Float>
    ) {
        if let columns {
            // Gathered columns (a restart's subsample): the switch is hoisted out of the element loop.
            let count = columns.count
            let index = columns.baseAddress!
            switch self {
            case .abs: for k in 0..<count { out[k] = Swift.abs(row[Int(index[k])]) }
            case .positive: for k in 0..<count { out[k] = Swift.max(row[Int(index[k])], 0) }
            case .negative: for k in 0..<count { out[k] = Swift.max(-row[Int(index[k])], 0) }
            case .signedSplit:
                for k in 0..<count {
                    let t = Int(index[k])
                    out[k] = t < m ? Swift.max(row[t], 0) : Swift.max(-row[t - m], 0)
                }
            }
            return
        }
        switch self {
        case .abs: for j in 0..<m { out[j] = Swift.abs(row[j]) }
        case .positive: for j in 0..<m { out[j] = Swift.max(row[j], 0) }
        case .negative: for j in 0..<m { out[j] = Swift.max(-row[j], 0) }
        case .signedSplit:
            for j in 0..<m {
                out[j] = Swift.max(row[j], 0)
                out[m + j] = Swift.max(-row[j], 0)
            }
        }
    }

    /// `out[k] = F[row, t_k] · scale[k] · rowFactor` for the gathered columns t_k (all columns when nil).
    @inlinable public func fillScaled(
        row: UnsafePointer<Float>, sourceColumns m: Int, columns: UnsafeBufferPointer<Int32>?,
        scale: UnsafePointer<Float>, rowFactor r: Float, into out: UnsafeMutablePointer<Float>, count: Int
    ) {
        guard let columns else {
            fill(row: row, sourceColumns: m, columns: nil, into: out)
            for k in 0..<count { out[k] *= scale[k] * r }
            return
        }
        let index = columns.baseAddress!
        switch self {
        case .abs: for k in 0..<count { out[k] = Swift.abs(row[Int(index[k])]) * scale[k] * r }
        case .positive: for k in 0..<count { out[k] = Swift.max(row[Int(index[k])], 0) * scale[k] * r }
        case .negative: for k in 0..<count { out[k] = Swift.max(-row[Int(index[k])], 0) * scale[k] * r }
        case .signedSplit:
            for k in 0..<count {
                let t = Int(index[k])
                out[k] = (t < m ? Swift.max(row[t], 0) : Swift.max(-row[t - m], 0)) * scale[k] * r
            }
        }
    }
}
