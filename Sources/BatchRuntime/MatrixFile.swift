import ArrayFiles
import Foundation

/// Where verified shard rows go: row-positioned writes plus a durability barrier.
public protocol RowSink: AnyObject {
    /// Writes whole job rows (float32 LE bytes, a multiple of the job's columns × 4) starting at job row `row`.
    func write(rowBytes bytes: [UInt8], startingAt row: Int) throws
    /// Makes every write so far durable (fdatasync).
    func synchronize() throws
}

/// RUN/matrix.npy through ArrayFiles' `NPYRowWriter`: an NPY v1.0 little-endian float32 (rows, columns) file,
/// created complete (atomically, space reserved) and filled in place with pwrite. Writes are idempotent (a row
/// is always written with the same bytes), so re-writing after a crash is harmless. Owned by the coordinator
/// thread.
public final class MatrixFile: RowSink {
    public let url: URL
    public let rows: Int
    public let columns: Int
    /// Matrix rows per job row: `write` positions are job rows (see `JobSpec.matrixRowsPerRow`).
    public let rowsPerJobRow: Int
    private let writer: NPYRowWriter

    /// Opens the file, creating it if missing; an existing file must be a (rows, columns) float32 matrix.
    public init(url: URL, rows: Int, columns: Int, rowsPerJobRow: Int = 1) throws {
        self.url = url
        self.rows = rows
        self.columns = columns
        self.rowsPerJobRow = max(1, rowsPerJobRow)
        if FileManager.default.fileExists(atPath: url.path) {
            do { writer = try NPYRowWriter(openingExisting: url.path, rows: rows, columns: columns) } catch {
                throw RuntimeError("\(error); move \(url.path) away or start a new run")
            }
        } else {
            do { writer = try NPYRowWriter(creating: url.path, rows: rows, columns: columns) } catch {
                let folder = url.deletingLastPathComponent().path
                throw RuntimeError("\(error); nothing was computed — make room, then continue with `modscope resume \(folder)`")
            }
        }
    }

    deinit { writer.close() }

    /// Bytes before row 0.
    public static func headerSize(rows: Int, columns: Int) -> Int { NPYRowWriter.headerByteCount(rows: rows, columns: columns) }

    public func write(rowBytes bytes: [UInt8], startingAt row: Int) throws {
        do {
            try bytes.withUnsafeBytes { raw in
                try writer.writeRows(startingAt: row * rowsPerJobRow, raw.bindMemory(to: Float.self))
            }
        } catch {
            throw RuntimeError("cannot write rows to \(url.path): \(error); free disk space, then run `modscope resume`")
        }
    }

    public func synchronize() throws {
        do { try writer.synchronize() } catch {
            throw RuntimeError("cannot fdatasync \(url.path): \(error)")
        }
    }
}
