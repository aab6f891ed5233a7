#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Read-only bytes backing a reader: a whole file mapped with `mmap` (pages are loaded on demand and can be
/// evicted, so memory stays bounded for files larger than RAM), or a scratch buffer filled once at creation
/// (an inflated `.npz` member).
///
/// Invariants: `base` is non-nil exactly when `count > 0`; the bytes never change after `init` returns; the
/// memory is released in `deinit` and nowhere else.
///
/// `@unchecked Sendable`: the stored pointer is immutable after init and the bytes it points to are only read,
/// so sharing the storage between threads is safe.
final class ByteStorage: @unchecked Sendable {
    /// First byte, or `nil` for an empty storage.
    let base: UnsafeRawPointer?
    /// Number of readable bytes from `base`.
    let count: Int
    private let release: Release

    private enum Release {
        case none
        case unmap(length: Int)
        case free
    }

    private init(base: UnsafeRawPointer?, count: Int, release: Release) {
        self.base = base
        self.count = count
        self.release = release
    }

    deinit {
        switch release {
        case .none: break
        case .unmap(let length): _ = munmap(UnsafeMutableRawPointer(mutating: base), length)
        case .free: Foundation.free(UnsafeMutableRawPointer(mutating: base))
        }
    }

    /// Maps the whole file at `path` read-only. An empty file gives an empty storage (no mapping).
    static func map(path: String) throws -> ByteStorage {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ArrayFileError("cannot open \(path): \(errnoDescription()); check the path and its permissions")
        }
        defer { _ = close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ArrayFileError("cannot read the size of \(path): \(errnoDescription())")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ArrayFileError("\(path) is not a regular file; pass the path of a data file")
        }
        let length = Int(info.st_size)
        if length == 0 { return ByteStorage(base: nil, count: 0, release: .none) }
        guard let pointer = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), pointer != MAP_FAILED else {
            throw ArrayFileError("cannot memory-map \(path): \(errnoDescription())")
        }
        return ByteStorage(base: UnsafeRawPointer(pointer), count: length, release: .unmap(length: length))
    }

    /// Scratch buffers up to this size live in memory; larger ones in an unlinked temporary file.
    static let inMemoryScratchLimit = 64 << 20

    /// Makes a storage of `count` bytes that `fill` writes exactly once. Buffers larger than `inMemoryLimit`
    /// are backed by an already-unlinked file in the temporary folder (`TMPDIR`), so the kernel can write them
    /// back to disk instead of holding them in RAM.
    static func scratch(
        count: Int, purpose: String, inMemoryLimit: Int = inMemoryScratchLimit,
        fill: (UnsafeMutableRawPointer) throws -> Void
    ) throws -> ByteStorage {
        if count == 0 { return ByteStorage(base: nil, count: 0, release: .none) }
        if count <= inMemoryLimit {
            guard let pointer = malloc(count) else {
                throw ArrayFileError("out of memory allocating \(count) bytes for \(purpose)")
            }
            do { try fill(pointer) } catch {
                Foundation.free(pointer)
                throw error
            }
            return ByteStorage(base: UnsafeRawPointer(pointer), count: count, release: .free)
        }
        var template = Array((NSTemporaryDirectory() + "/modscope-scratch-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw ArrayFileError(
                "cannot create a temporary file for \(purpose): \(errnoDescription()); set TMPDIR to a writable folder")
        }
        defer { _ = close(fd) }
        _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        // Reserve the blocks now (posix_fallocate), so that a full disk is an error here and not a SIGBUS when
        // the mapping is written; file systems without fallocate get a sparse file.
        var status = posix_fallocate(fd, 0, off_t(count))
        if status == EOPNOTSUPP || status == EINVAL { status = ftruncate(fd, off_t(count)) == 0 ? 0 : errno }
        guard status == 0 else {
            throw ArrayFileError(
                "cannot reserve a \(count)-byte temporary file for \(purpose): \(String(cString: strerror(status))); free disk space in TMPDIR or set TMPDIR to a folder with room")
        }
        guard let pointer = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), pointer != MAP_FAILED else {
            throw ArrayFileError("cannot memory-map a temporary file for \(purpose): \(errnoDescription())")
        }
        let storage = ByteStorage(base: UnsafeRawPointer(pointer), count: count, release: .unmap(length: count))
        try fill(pointer)
        return storage
    }
}

/// The text of the current `errno`.
func errnoDescription() -> String {
    String(cString: strerror(errno))
}

/// True when this machine stores integers little-endian (NumPy files written here are always little-endian).
let hostIsLittleEndian = UInt32(1).littleEndian == 1

/// `shape` as NumPy prints it: `(3, 4)`, `(5,)`, `()`.
func shapeDescription(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}

/// The product of `shape`, or `nil` when a dimension is negative or the product overflows `Int`.
func elementCount(of shape: [Int]) -> Int? {
    var product = 1
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
        if overflow { return nil }
        product = next
    }
    return product
}

/// `close(2)`, callable from types that have their own `close()` method.
@discardableResult
func closeDescriptor(_ fd: Int32) -> Int32 {
    close(fd)
}
