#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Writes whole arrays as NumPy `.npy` files: format version 1.0, little-endian, C order, header padded so the
/// data starts at a multiple of 64 bytes (byte-identical to `np.save` of the same array, up to its padding).
///
/// Writes are atomic: the bytes go to a temporary file in the destination folder, which is flushed to disk
/// (`fsync`) and then renamed over `path`. A crash leaves either the old file or the complete new one,
/// never a partial file under `path`.
public enum NPYWriter {
    /// Writes `values` (C order) as a `float32` array of `shape`.
    /// - Throws: `ArrayFileError` when the product of `shape` is not `values.count` or the file cannot be written.
    public static func write(_ values: [Float], shape: [Int], to path: String) throws {
        try checkShape(shape, count: values.count, path: path)
        let header = NPYHeader.encodeVersion1(descr: "<f4", shape: shape)
        if hostIsLittleEndian {
            try values.withUnsafeBytes { try writeAtomically(header: header, body: $0, to: path) }
        } else {
            try values.map { $0.bitPattern.littleEndian }.withUnsafeBytes {
                try writeAtomically(header: header, body: $0, to: path)
            }
        }
    }

    /// Writes `values` (C order) as an `int32` array of `shape` (e.g. module labels, −1 = no module).
    /// - Throws: `ArrayFileError` when the product of `shape` is not `values.count` or the file cannot be written.
    public static func write(_ values: [Int32], shape: [Int], to path: String) throws {
        try checkShape(shape, count: values.count, path: path)
        let header = NPYHeader.encodeVersion1(descr: "<i4", shape: shape)
        if hostIsLittleEndian {
            try values.withUnsafeBytes { try writeAtomically(header: header, body: $0, to: path) }
        } else {
            try values.map { $0.littleEndian }.withUnsafeBytes { try writeAtomically(header: header, body: $0, to: path) }
        }
    }

    /// The size in bytes of the header `NPYWriter` and `NPYRowWriter` write for a `float32` or `int32` array of
    /// `shape`: the byte offset of the first element (a multiple of 64).
    public static func headerByteCount(shape: [Int]) -> Int {
        NPYHeader.encodeVersion1(descr: "<f4", shape: shape).count
    }

    private static func checkShape(_ shape: [Int], count: Int, path: String) throws {
        guard let expected = elementCount(of: shape), expected == count else {
            throw ArrayFileError(
                "cannot write \(path): shape \(shapeDescription(shape)) does not hold \(count) values")
        }
    }

    /// Writes `header` then `body` to a temporary file next to `path`, syncs it, and renames it to `path`.
    static func writeAtomically(header: [UInt8], body: UnsafeRawBufferPointer, to path: String) throws {
        try replaceAtomically(path) { fd, temporary in
            try header.withUnsafeBytes { try writeFully(fd, $0, at: 0, path: temporary) }
            try writeFully(fd, body, at: header.count, path: temporary)
        }
    }
}

/// Creates a temporary file next to `path`, lets `fill` write it, syncs it, renames it to `path` and syncs the
/// folder. The temporary file is removed when anything fails.
func replaceAtomically(_ path: String, fill: (Int32, String) throws -> Void) throws {
    let url = URL(fileURLWithPath: path)
    let folder = url.deletingLastPathComponent().path
    var template = Array((folder + "/." + url.lastPathComponent + ".tmp-XXXXXX").utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else {
        throw ArrayFileError("cannot create a file in \(folder) to write \(path): \(errnoDescription()); check that the folder exists and is writable")
    }
    let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    var renamed = false
    defer {
        if !renamed { _ = unlink(temporary) }
    }
    do {
        defer { _ = close(fd) }
        _ = fchmod(fd, 0o644)
        try fill(fd, temporary)
        guard fsync(fd) == 0 else {
            throw ArrayFileError("cannot flush \(path) to disk: \(errnoDescription())")
        }
    }
    guard rename(temporary, path) == 0 else {
        throw ArrayFileError("cannot move the new file into place at \(path): \(errnoDescription())")
    }
    renamed = true
    syncFolder(folder)
}

/// Flushes a folder's entries (a rename) to disk; best effort, as some file systems refuse it.
func syncFolder(_ folder: String) {
    let fd = open(folder, O_RDONLY | O_CLOEXEC)
    if fd >= 0 {
        _ = fsync(fd)
        _ = close(fd)
    }
}

/// `pwrite`s all of `bytes` at `offset`, retrying short writes and interruptions.
func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
    var done = 0
    while done < bytes.count {
        let result = pwrite(fd, bytes.baseAddress! + done, min(bytes.count - done, 1 << 30), off_t(offset + done))
        if result < 0 {
            if errno == EINTR { continue }
            throw ArrayFileError("cannot write \(path): \(errnoDescription()); check free disk space")
        }
        done += result
    }
}
