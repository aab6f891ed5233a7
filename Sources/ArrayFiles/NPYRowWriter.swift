#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A `float32` matrix `.npy` file (format 1.0, little-endian, C order, shape `(rows, columns)`) filled in place,
/// rows in any order: the distributed runtime's `matrix.npy`.
///
/// The file always has its final size and a valid header, so `NPYReader` (or `np.load`) can open it at any
/// time, also while this writer is open (the mapping shares the page cache, so it sees written rows); rows
/// never written read as zeros. `writeRows` does not flush: call `synchronize()` before recording
/// rows as committed (e.g. in a journal).
///
/// Not `Sendable`: `close()` mutates it. Use it from one task at a time (e.g. inside an actor); writes to
/// different rows never overlap in the file.
public final class NPYRowWriter {
    /// The file path.
    public let path: String
    /// The number of rows (shape[0]).
    public let rows: Int
    /// The number of `Float` values per row (shape[1]).
    public let columns: Int
    /// Byte offset of row 0 (a multiple of 64).
    public let dataOffset: Int
    private var fd: Int32

    /// The header size of a `(rows, columns)` matrix file: the byte offset of its row 0.
    public static func headerByteCount(rows: Int, columns: Int) -> Int {
        NPYWriter.headerByteCount(shape: [rows, columns])
    }

    /// Creates (or replaces) `path` as a zero-filled `(rows, columns)` `float32` matrix with its disk space
    /// reserved, atomically (the file appears complete under `path` or not at all), and opens it for writing.
    /// - Throws: `ArrayFileError` when a dimension is negative, the size overflows, or the disk is full.
    public convenience init(creating path: String, rows: Int, columns: Int) throws {
        let (dataBytes, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard rows >= 0, columns >= 0, !overflow, !dataBytes.multipliedReportingOverflow(by: 4).overflow else {
            throw ArrayFileError("cannot create \(path): a (\(rows), \(columns)) float32 matrix is not a valid size")
        }
        let header = NPYHeader.encodeVersion1(descr: "<f4", shape: [rows, columns])
        let total = header.count + dataBytes * 4
        try replaceAtomically(path) { fd, temporary in
            guard ftruncate(fd, off_t(total)) == 0 else {
                throw ArrayFileError("cannot size \(path) to \(total) bytes: \(errnoDescription()); check free disk space")
            }
            #if os(Linux)
            let status = posix_fallocate(fd, 0, off_t(total))
            #else
            let status: Int32 = 0
            #endif
            guard status == 0 || status == EINVAL || status == EOPNOTSUPP else {
                throw ArrayFileError(
                    "cannot reserve \(total) bytes for \(path): \(String(cString: strerror(status))); free disk space or choose another folder")
            }
            try header.withUnsafeBytes { try writeFully(fd, $0, at: 0, path: temporary) }
        }
        try self.init(openExisting: path, rows: rows, columns: columns, dataOffset: header.count)
    }

    /// Opens an existing matrix file for resuming: its header must be a C-order little-endian `float32`
    /// `(rows, columns)` header and its size must match. Rows already written are kept.
    /// - Throws: `ArrayFileError` naming what differs (dtype, order, shape, size) and what to do.
    public convenience init(openingExisting path: String, rows: Int, columns: Int) throws {
        let reader = try NPYReader(path: path)
        let problem: String? =
            if reader.scalarType != .float32 || reader.isBigEndian {
                "its dtype is \(reader.isBigEndian ? ">" : "<")\(reader.scalarType.numpyName), not little-endian float32"
            } else if reader.isFortranOrder {
                "it is in Fortran order, not C order"
            } else if reader.shape != [rows, columns] {
                "its shape is \(shapeDescription(reader.shape)), expected \(shapeDescription([rows, columns]))"
            } else {
                nil
            }
        if let problem {
            throw ArrayFileError(
                "cannot resume writing \(path): \(problem); it belongs to another run — start a new output or remove it")
        }
        try self.init(openExisting: path, rows: rows, columns: columns, dataOffset: reader.dataStart)
    }

    private init(openExisting path: String, rows: Int, columns: Int, dataOffset: Int) throws {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw ArrayFileError("cannot open \(path) for writing: \(errnoDescription()); check its permissions")
        }
        self.path = path
        self.rows = rows
        self.columns = columns
        self.dataOffset = dataOffset
        self.fd = fd
    }

    deinit {
        if fd >= 0 { _ = closeDescriptor(fd) }
    }

    /// Writes whole rows `row ..< row + values.count / columns` at their place in the file (`pwrite`).
    /// - Throws: `ArrayFileError` when the writer is closed, `values.count` is not a multiple of `columns`,
    ///   the rows run past `rows`, or the write fails.
    public func writeRows(startingAt row: Int, _ values: UnsafeBufferPointer<Float>) throws {
        guard fd >= 0 else { throw ArrayFileError("cannot write rows to \(path): the writer is closed") }
        guard columns > 0 ? values.count % columns == 0 : values.isEmpty else {
            throw ArrayFileError(
                "cannot write \(values.count) values to \(path): rows have \(columns) columns, so the count must be a multiple of \(columns)")
        }
        let rowCount = columns > 0 ? values.count / columns : 0
        guard row >= 0, row <= rows, rowCount <= rows - row else {
            throw ArrayFileError(
                "cannot write rows \(row)..<\(row + rowCount) to \(path): the matrix has \(rows) rows")
        }
        guard !values.isEmpty else { return }
        let offset = dataOffset + row * columns * 4
        if hostIsLittleEndian {
            try writeFully(fd, UnsafeRawBufferPointer(values), at: offset, path: path)
        } else {
            try values.map { $0.bitPattern.littleEndian }.withUnsafeBytes {
                try writeFully(fd, $0, at: offset, path: path)
            }
        }
    }

    /// Writes whole rows starting at `row`; see `writeRows(startingAt:_:)` for the `UnsafeBufferPointer` form.
    public func writeRows(startingAt row: Int, _ values: [Float]) throws {
        try values.withUnsafeBufferPointer { try writeRows(startingAt: row, $0) }
    }

    /// Flushes the written rows to disk (`fdatasync`); after it returns they survive a crash.
    public func synchronize() throws {
        guard fd >= 0 else { throw ArrayFileError("cannot synchronize \(path): the writer is closed") }
        #if os(Linux)
        let status = fdatasync(fd)
        #else
        let status = fsync(fd)
        #endif
        guard status == 0 else {
            throw ArrayFileError("cannot flush \(path) to disk: \(errnoDescription())")
        }
    }

    /// Closes the file (without an implicit `synchronize()`). Later writes throw; closing twice is harmless.
    public func close() {
        if fd >= 0 {
            _ = closeDescriptor(fd)
            fd = -1
        }
    }
}
