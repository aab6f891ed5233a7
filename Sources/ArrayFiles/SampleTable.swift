/// A table of samples read in batches of rows: the input of attribution.
///
/// Invariants: `rowCount ≥ 0`; every row has `rowShape` (the product of which is `elementsPerRow`);
/// `floatRows(r)` returns exactly `r.count × elementsPerRow` values, row after row, each row in C order;
/// conforming types are immutable, so `floatRows` may be called concurrently.
public protocol SampleTable: Sendable {
    /// The number of samples.
    var rowCount: Int { get }
    /// The shape of one sample (`[]` for a scalar per sample).
    var rowShape: [Int] { get }
    /// Samples `range` as `Float`, row after row.
    /// - Throws: `ArrayFileError` when `range` is not inside `0..<rowCount` or the data cannot be read.
    func floatRows(_ range: Range<Int>) throws -> [Float]
}

extension SampleTable {
    /// The number of values in one sample: the product of `rowShape` (1 for a scalar).
    public var elementsPerSample: Int { rowShape.reduce(1, *) }
}

/// The data formats `openSampleTable` and `readLabels` accept, for error messages.
private let supportedSampleFormats = ".npy, .npz (choose the array with --data-key) and .csv"

/// Opens samples by file extension (case-insensitive): `.npy` → `NPYReader`; `.npz` → the member `key`
/// (optional when the archive holds exactly one array); `.csv` → `CSVReader`.
/// - Throws: `ArrayFileError` for any other extension (listing the supported formats), for a `key` given with
///   a format other than `.npz`, for a missing key in a multi-array `.npz` (listing its keys), and for any
///   error of the readers.
public func openSampleTable(path: String, key: String?) throws -> any SampleTable {
    let fileExtension = pathExtension(path)
    if fileExtension != "npz", let key {
        throw ArrayFileError(
            "--data-key \(key) only applies to .npz archives, but \(path) is not one; drop --data-key")
    }
    switch fileExtension {
    case "npy":
        return try NPYReader(path: path)
    case "npz":
        let archive = try NPZArchive(path: path)
        if let key { return try archive.reader(forKey: key) }
        guard archive.keys.count == 1 else {
            let available = archive.keys.map { "'\($0)'" }.joined(separator: ", ")
            throw ArrayFileError(
                archive.keys.isEmpty
                    ? "\(path) contains no arrays; save the samples with np.savez(path, x=x)"
                    : "\(path) holds several arrays (\(available)); choose one with --data-key")
        }
        return try archive.reader(forKey: archive.keys[0])
    case "csv":
        return try CSVReader(path: path)
    default:
        throw ArrayFileError(
            "\(path) has an unsupported format; samples must be \(supportedSampleFormats)")
    }
}

/// Reads class labels, one integer per sample: a `.npy` of shape `(N,)` or `(N, 1)` with an integer, bool or
/// integral floating-point dtype, or a `.csv` with one column (an optional header line is skipped).
/// - Throws: `ArrayFileError` naming the file when it has another format or shape, or a label is not an integer.
public func readLabels(path: String) throws -> [Int] {
    switch pathExtension(path) {
    case "npy":
        let reader = try NPYReader(path: path)
        guard reader.shape.count == 1 || (reader.shape.count == 2 && reader.shape[1] == 1) else {
            throw ArrayFileError(
                "\(path) has shape \(shapeDescription(reader.shape)), but labels need one value per sample; save a 1-D array with np.save(path, y.reshape(-1))")
        }
        return try reader.integerValues()
    case "csv":
        let reader = try CSVReader(path: path)
        guard reader.columnCount == 1 else {
            throw ArrayFileError(
                "\(path) has \(reader.columnCount) columns, but labels need one value per line; write a single column")
        }
        return try reader.integerValues()
    default:
        throw ArrayFileError("\(path) has an unsupported format; labels must be .npy or .csv")
    }
}

/// The index of the first NaN or ±infinity in `values`, or `nil` when all are finite.
public func firstNonFinite(in values: [Float]) -> Int? {
    values.withUnsafeBufferPointer { firstNonFinite(in: $0) }
}

/// The index of the first NaN or ±infinity in `values`, or `nil` when all are finite. Scans in branch-free
/// blocks (vectorizable) and only looks closer inside a block that contains one.
public func firstNonFinite(in values: UnsafeBufferPointer<Float>) -> Int? {
    let block = 256
    var start = 0
    while start < values.count {
        let end = min(start + block, values.count)
        // The exponent field is all ones exactly for NaN and infinity; adding one exponent unit then sets bit 31.
        var flags: UInt32 = 0
        for index in start..<end { flags |= (values[index].bitPattern & 0x7F80_0000) &+ 0x0080_0000 }
        if flags & 0x8000_0000 != 0 {
            for index in start..<end where !values[index].isFinite { return index }
        }
        start = end
    }
    return nil
}

/// The lower-cased extension of the last path component (`""` when there is none).
func pathExtension(_ path: String) -> String {
    let name = path.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
    guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
    return name[name.index(after: dot)...].lowercased()
}

/// Several arrays with the same number of samples read as one table: sample i is the concatenation of every
/// part's sample i (flattened, in part order). The samples of a model with several inputs (`--data` .npz keyed
/// by input names); integer parts convert exactly below 2^24 (`NPYReader.floatRows`).
public struct ConcatenatedSampleTable: SampleTable {
    public struct Part: Sendable {
        public let name: String
        public let table: any SampleTable
        public init(name: String, table: any SampleTable) {
            self.name = name
            self.table = table
        }
    }

    public let parts: [Part]
    public let rowCount: Int
    public var rowShape: [Int] { [parts.reduce(0) { $0 + $1.table.elementsPerSample }] }

    /// - Throws: `ArrayFileError` naming the part whose sample count differs from the first's.
    public init(parts: [Part], source: String) throws {
        precondition(!parts.isEmpty, "a concatenated table needs parts")
        let count = parts[0].table.rowCount
        if let other = parts.first(where: { $0.table.rowCount != count }) {
            throw ArrayFileError(
                "\(source): '\(parts[0].name)' has \(count) samples but '\(other.name)' has \(other.table.rowCount); every array needs the same first axis N")
        }
        self.parts = parts
        self.rowCount = count
    }

    public func floatRows(_ range: Range<Int>) throws -> [Float] {
        let blocks = try parts.map { try $0.table.floatRows(range) }
        let sizes = parts.map(\.table.elementsPerSample)
        var packed = [Float]()
        packed.reserveCapacity(range.count * sizes.reduce(0, +))
        for i in 0..<range.count {
            for (block, size) in zip(blocks, sizes) { packed.append(contentsOf: block[(i * size)..<((i + 1) * size)]) }
        }
        return packed
    }
}
