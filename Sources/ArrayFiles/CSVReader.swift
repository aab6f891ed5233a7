import Foundation

/// A numeric CSV file (comma-separated, one sample per line), memory-mapped and indexed by line so that
/// `floatRows(_:)` reads any rows without loading the rest.
///
/// Format: fields separated by `,`; spaces around a field and double quotes around it are ignored; numbers
/// are anything Swift's `Float(_:)` accepts (`1`, `-2.5e-3`, `nan`, `inf`). The first line is a header (kept
/// in `columnNames`, not a row) when any of its fields is not a number. A UTF-8 byte-order mark, `\r\n` line
/// ends and blank lines at the end are accepted; a blank line between rows is an error.
///
/// `init` reads the whole file once: it records where each row starts (8 bytes of memory per row) and checks
/// that every row has the same number of fields and every cell is a number, so later reads cannot fail on
/// bad data halfway through a long run.
///
/// Limits (hostile files): at most `maximumColumnCount` fields per line and `maximumCellBytes` bytes per field
/// (header names included), so a file of one endless line or cell is refused while it is scanned instead of
/// being copied into memory.
///
/// Thread safety: immutable after `init`; every method may be called from any thread concurrently.
public final class CSVReader: SampleTable {
    /// The most fields a line may have: 2^20 (a million features per sample).
    public static let maximumColumnCount = 1 << 20
    /// The longest field, in bytes: 4 KiB, far more than any number's text (a float needs under 50 bytes).
    public static let maximumCellBytes = 4096

    /// The file path, as used in error messages.
    public let path: String
    /// The header's field names, or `nil` when the first line is data.
    public let columnNames: [String]?
    /// The number of fields in every row.
    public let columnCount: Int
    /// The number of data rows (header and trailing blank lines excluded).
    public let rowCount: Int
    /// `[columnCount]`: one sample is one row of the file.
    public var rowShape: [Int] { [columnCount] }

    private let storage: ByteStorage
    /// Byte offset of each data row, plus one final offset just past the last row's line end.
    private let rowStarts: [Int]
    /// The 1-based line number of the first data row (rows are on consecutive lines).
    private let firstDataLine: Int

    /// Maps, indexes and validates the CSV file at `path`.
    /// - Throws: `ArrayFileError` naming the file, line and column of a ragged row, an empty or non-numeric
    ///   cell, a blank line between rows, or a file without data rows.
    public init(path: String) throws {
        let storage = try ByteStorage.map(path: path)
        let count = storage.count
        guard let base = storage.base else {
            throw ArrayFileError("\(path) is empty; write one sample per line, numbers separated by commas")
        }
        var position = 0
        if count >= 3, base.load(fromByteOffset: 0, as: UInt8.self) == 0xEF,
            base.load(fromByteOffset: 1, as: UInt8.self) == 0xBB, base.load(fromByteOffset: 2, as: UInt8.self) == 0xBF
        {
            position = 3
        }
        var lineNumber = 0
        var firstBlankLine: Int?
        var columnNames: [String]?
        var columnCount = -1
        var firstDataLine = 0
        var firstLine = 0  // the header or first data row: the reference for the column count
        var rowStarts: [Int] = []
        var rowEnd = position
        while position < count {
            lineNumber += 1
            let lineStart = position
            let newline = memchr(base + position, 0x0A, count - position)
            let lineEnd = newline.map { UnsafeRawPointer($0) - base } ?? count
            position = lineEnd + 1
            let content = trimmedLineEnd(base, lineStart, lineEnd)
            if isBlank(base, lineStart, content) {
                if firstBlankLine == nil { firstBlankLine = lineNumber }
                continue
            }
            if let blank = firstBlankLine {
                throw ArrayFileError(
                    "\(path) line \(blank) is empty but more rows follow; remove blank lines between rows")
            }
            let limits = CSVLineLimits(path: path, line: lineNumber)
            if columnCount < 0 {
                // First line: a header when any field is not a number.
                var fields: [(Int, Int)] = []
                try forEachField(base, lineStart, content) { start, end in
                    try limits.check(column: fields.count + 1, start: start, end: end)
                    fields.append((start, end))
                }
                columnCount = fields.count
                firstLine = lineNumber
                if fields.contains(where: { parseFloat(base, $0.0, $0.1) == nil }) {
                    columnNames = fields.map { fieldText(base, $0.0, $0.1) }
                    firstDataLine = lineNumber + 1
                    rowEnd = min(position, count)
                    continue
                }
                firstDataLine = lineNumber
            }
            var fieldCount = 0
            var badCell: (column: Int, text: String)?
            try forEachField(base, lineStart, content) { start, end in
                fieldCount += 1
                try limits.check(column: fieldCount, start: start, end: end)
                if badCell == nil, parseFloat(base, start, end) == nil {
                    badCell = (fieldCount, fieldText(base, start, end))
                }
            }
            guard fieldCount == columnCount else {
                throw ArrayFileError(
                    "\(path) line \(lineNumber) has \(fieldCount) fields but line \(firstLine) has \(columnCount); every row needs the same number of comma-separated values")
            }
            if let badCell {
                throw Self.cellError(path: path, line: lineNumber, column: badCell.column, text: badCell.text)
            }
            rowStarts.append(lineStart)
            rowEnd = min(position, count)
        }
        guard !rowStarts.isEmpty else {
            throw ArrayFileError("\(path) has no data rows; write one sample per line, numbers separated by commas")
        }
        rowStarts.append(rowEnd)
        self.path = path
        self.columnNames = columnNames
        self.columnCount = columnCount
        self.rowCount = rowStarts.count - 1
        self.storage = storage
        self.rowStarts = rowStarts
        self.firstDataLine = firstDataLine
    }

    /// Rows `range` as `Float`, row after row (`range.count × columnCount` values).
    /// - Throws: `ArrayFileError` when `range` is not inside `0..<rowCount`.
    public func floatRows(_ range: Range<Int>) throws -> [Float] {
        try checkRows(range)
        let base = storage.base!
        var values: [Float] = []
        values.reserveCapacity(range.count * columnCount)
        for row in range {
            let start = rowStarts[row]
            let content = trimmedLineEnd(base, start, rowStarts[row + 1])
            var column = 0
            var failure: ArrayFileError?
            forEachField(base, start, content) { fieldStart, fieldEnd in
                column += 1
                if let value = parseFloat(base, fieldStart, fieldEnd) {
                    values.append(value)
                } else if failure == nil {
                    failure = Self.cellError(
                        path: path, line: firstDataLine + row, column: column, text: fieldText(base, fieldStart, fieldEnd))
                }
            }
            if let failure { throw failure }
        }
        return values
    }

    /// Every cell as `Int`, row after row (for class labels): cells must be integral numbers.
    /// - Throws: `ArrayFileError` naming the line and column of the first cell that is not an integer.
    public func integerValues() throws -> [Int] {
        let base = storage.base!
        var values: [Int] = []
        values.reserveCapacity(rowCount * columnCount)
        for row in 0..<rowCount {
            let start = rowStarts[row]
            let content = trimmedLineEnd(base, start, rowStarts[row + 1])
            var column = 0
            var failure: ArrayFileError?
            forEachField(base, start, content) { fieldStart, fieldEnd in
                column += 1
                let text = fieldText(base, fieldStart, fieldEnd)
                if let value = Double(text), value.isFinite, value.rounded() == value, abs(value) < 0x1p63 {
                    values.append(Int(value))
                } else if failure == nil {
                    failure = ArrayFileError(
                        "\(path) line \(firstDataLine + row), column \(column): '\(text)' is not an integer; labels must be whole numbers")
                }
            }
            if let failure { throw failure }
        }
        return values
    }

    private func checkRows(_ range: Range<Int>) throws {
        guard range.lowerBound >= 0, range.upperBound <= rowCount else {
            throw ArrayFileError(
                "rows \(range.lowerBound)..<\(range.upperBound) are out of range: \(path) has \(rowCount) rows")
        }
    }

    private static func cellError(path: String, line: Int, column: Int, text: String) -> ArrayFileError {
        let shown = text.isEmpty ? "an empty cell" : "'\(text)'"
        return ArrayFileError(
            "\(path) line \(line), column \(column): \(shown) is not a number; every cell of a data row must be numeric")
    }
}

// MARK: - Line and field scanning (byte offsets into a mapped file)

/// `end` moved back over a trailing `\n` and `\r`.
private func trimmedLineEnd(_ base: UnsafeRawPointer, _ start: Int, _ end: Int) -> Int {
    var end = end
    while end > start {
        let byte = base.load(fromByteOffset: end - 1, as: UInt8.self)
        guard byte == 0x0A || byte == 0x0D else { break }
        end -= 1
    }
    return end
}

private func isBlank(_ base: UnsafeRawPointer, _ start: Int, _ end: Int) -> Bool {
    for offset in start..<end where !isSpace(base.load(fromByteOffset: offset, as: UInt8.self)) { return false }
    return true
}

@inline(__always) private func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

/// The per-line limits of `CSVReader`, with the error naming the file, line and column.
private struct CSVLineLimits {
    let path: String
    let line: Int

    func check(column: Int, start: Int, end: Int) throws {
        guard column <= CSVReader.maximumColumnCount else {
            throw ArrayFileError(
                "\(path) line \(line) has more than \(CSVReader.maximumColumnCount) fields; ModScope reads at most that many values per sample — save wide data as .npy")
        }
        guard end - start <= CSVReader.maximumCellBytes else {
            throw ArrayFileError(
                "\(path) line \(line), column \(column) is \(end - start) bytes long, more than \(CSVReader.maximumCellBytes); every cell must be one number (is the file CSV text?)")
        }
    }
}

/// Calls `body(start, end)` for each comma-separated field of `[start, end)`, with surrounding spaces and
/// double quotes removed. Commas inside double quotes do not separate fields.
private func forEachField(
    _ base: UnsafeRawPointer, _ start: Int, _ end: Int, _ body: (Int, Int) throws -> Void
) rethrows {
    var fieldStart = start
    var inQuotes = false
    var offset = start
    while offset <= end {
        let byte: UInt8 = offset < end ? base.load(fromByteOffset: offset, as: UInt8.self) : 0x2C
        if byte == 0x22 {
            inQuotes.toggle()
        } else if byte == 0x2C && (!inQuotes || offset == end) {
            var a = fieldStart
            var b = offset
            while a < b, isSpace(base.load(fromByteOffset: a, as: UInt8.self)) { a += 1 }
            while b > a, isSpace(base.load(fromByteOffset: b - 1, as: UInt8.self)) { b -= 1 }
            if b - a >= 2, base.load(fromByteOffset: a, as: UInt8.self) == 0x22,
                base.load(fromByteOffset: b - 1, as: UInt8.self) == 0x22
            {
                a += 1
                b -= 1
            }
            try body(a, b)
            fieldStart = offset + 1
        }
        offset += 1
    }
}

@inline(__always) private func fieldText(_ base: UnsafeRawPointer, _ start: Int, _ end: Int) -> String {
    String(decoding: UnsafeRawBufferPointer(start: base + start, count: end - start), as: UTF8.self)
}

/// The number in `[start, end)`, or nil when the field is empty or not a number.
@inline(__always) private func parseFloat(_ base: UnsafeRawPointer, _ start: Int, _ end: Int) -> Float? {
    guard end > start else { return nil }
    return Float(fieldText(base, start, end))
}
