import Foundation

/// Where verified shard rows go: positioned writes plus a durability barrier.
public protocol RowSink: AnyObject {
    /// Writes `bytes` (float32 LE) at byte `offset` of the data region (row r starts at r·columns·4).
    func write(bytes: UnsafeRawBufferPointer, atDataOffset offset: Int) throws
    /// Makes every write so far durable (fdatasync).
    func synchronize() throws
}

/// RUN/matrix.npy: an NPY v1.0 little-endian float32 (rows, columns) file, preallocated and filled in place with
/// pwrite. Writes are idempotent (a row region is always written with the same bytes), so re-writing after a
/// crash is harmless.
public final class MatrixFile: RowSink {
    public let url: URL
    public let rows: Int
    public let columns: Int
    private let fd: Int32
    public let headerSize: Int

    /// Opens the file, creating and preallocating it if missing. An existing file must have the same header.
    public init(url: URL, rows: Int, columns: Int) throws {
        self.url = url
        self.rows = rows
        self.columns = columns
        let header = Self.header(rows: rows, columns: columns)
        headerSize = header.count
        let existed = FileManager.default.fileExists(atPath: url.path)
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RuntimeError("cannot open \(url.path): \(String(cString: strerror(errno))); check the run folder")
        }
        let total = off_t(header.count + rows * columns * 4)
        if existed {
            var existing = [UInt8](repeating: 0, count: header.count)
            let n = existing.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, header.count, 0) }
            guard n == header.count, existing == header else {
                close(fd)
                throw RuntimeError("\(url.path) is not a \(rows)×\(columns) float32 matrix of this run; move it away or start a new run")
            }
        } else {
            let n = header.withUnsafeBytes { pwrite(fd, $0.baseAddress!, header.count, 0) }
            guard n == header.count else {
                close(fd)
                throw RuntimeError("cannot write \(url.path): \(String(cString: strerror(errno)))")
            }
        }
        guard ftruncate(fd, total) == 0 else {
            close(fd)
            throw RuntimeError("cannot size \(url.path) to \(total) bytes: \(String(cString: strerror(errno))); free disk space")
        }
    }

    deinit { close(fd) }

    /// The NPY v1.0 header, padded with spaces so header+dict is a multiple of 64 bytes, ending in "\n".
    public static func header(rows: Int, columns: Int) -> [UInt8] {
        var dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(columns)), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let len = UInt16(dict.utf8.count)
        out += [UInt8(len & 0xFF), UInt8(len >> 8)]
        out += Array(dict.utf8)
        return out
    }

    public func write(bytes: UnsafeRawBufferPointer, atDataOffset offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(headerSize + offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw RuntimeError("cannot write rows to \(url.path): \(String(cString: strerror(errno))); free disk space, then run `modscope resume`")
            }
            done += n
        }
    }

    public func synchronize() throws {
        guard fdatasync(fd) == 0 else {
            throw RuntimeError("cannot fdatasync \(url.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Reads rows back (status checks, tests).
    public func readBytes(dataOffset: Int, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, count, off_t(headerSize + dataOffset)) }
        guard n == count else { throw RuntimeError("short read from \(url.path)") }
        return out
    }
}
