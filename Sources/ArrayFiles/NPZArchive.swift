import CZlib
import Foundation

/// A NumPy `.npz` archive (a zip file of `.npy` members, from `np.savez` or `np.savez_compressed`).
///
/// Opening maps the file and reads the zip central directory only. Stored members (`np.savez`) are served
/// in place from the mapping, with bounded memory; deflated members (`np.savez_compressed`) are inflated in
/// full when `reader(forKey:)` is called (into memory up to 64 MiB, beyond that into an unlinked temporary
/// file in `TMPDIR`). Every member's CRC-32 is checked when `reader(forKey:)` is called (stored members too:
/// one sequential pass over the mapped bytes). Zip64 archives (members or archives over 4 GiB) are
/// supported; encrypted members, multi-disk archives and compression methods other than stored/deflate are
/// rejected with an error.
///
/// Hostile archives: before a deflated member is inflated, its recorded size must be possible for its
/// compressed size (deflate expands at most `maximumDeflateRatio`×), at most `inflateLimit`, and equal to what
/// the `.npy` header at its start declares (that header is inflated first, alone); inflating stops at the
/// recorded size, so a member cannot grow beyond it.
///
/// Thread safety: immutable after `init`; `reader(forKey:)` may be called from any thread.
public final class NPZArchive: Sendable {
    /// The archive path, as used in error messages.
    public let path: String
    /// The member arrays' names in archive order, without their `.npy` suffix (the names given to
    /// `np.savez(path, name=array)`; `arr_0`, `arr_1`, ... for positional arrays).
    public let keys: [String]

    /// The largest recorded size a deflated member may inflate to, in bytes.
    public let inflateLimit: Int

    private let storage: ByteStorage
    private let members: [String: Member]

    /// Default `inflateLimit`: 16 GiB. Larger arrays should be saved uncompressed (`np.savez`), which is read in
    /// place without a copy; the limit stops an archive's recorded sizes from making ModScope fill `TMPDIR`.
    public static let defaultInflateLimit = 16 << 30
    /// Deflate's largest expansion: 258 output bytes per 2-bit code (≈ 1032:1, RFC 1951). A member that records
    /// more than this × its compressed size (plus `deflateRatioSlack` bytes) cannot be a valid deflate stream.
    static let maximumDeflateRatio = 1032
    /// Bytes added to the ratio bound for tiny members (block headers dominate their size).
    static let deflateRatioSlack = 1 << 16
    /// At most this many bytes are inflated ahead to read a deflated member's `.npy` header (NumPy headers are
    /// short: NumPy itself refuses headers over 10 000 bytes by default).
    static let headerProbeBytes = 1 << 20

    private struct Member: Sendable {
        var name: String
        var method: UInt16
        var flags: UInt16
        var crc32: UInt32
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
    }

    /// Opens the `.npz` at `path` and lists its members.
    /// - Parameter inflateLimit: the largest size (bytes) a deflated member may inflate to.
    /// - Throws: `ArrayFileError` when the file is missing, not a zip archive, or damaged.
    public init(path: String, inflateLimit: Int = NPZArchive.defaultInflateLimit) throws {
        let storage = try ByteStorage.map(path: path)
        let reader = ZipDirectoryReader(storage: storage, path: path)
        let entries = try reader.readCentralDirectory()
        var keys: [String] = []
        var members: [String: Member] = [:]
        for entry in entries where !entry.name.hasSuffix("/") {
            let key = entry.name.hasSuffix(".npy") ? String(entry.name.dropLast(4)) : entry.name
            guard members[key] == nil else { continue }
            keys.append(key)
            members[key] = Member(
                name: entry.name, method: entry.method, flags: entry.flags, crc32: entry.crc32,
                compressedSize: entry.compressedSize, uncompressedSize: entry.uncompressedSize,
                localHeaderOffset: entry.localHeaderOffset)
        }
        self.path = path
        self.keys = keys
        self.inflateLimit = inflateLimit
        self.storage = storage
        self.members = members
    }

    /// A reader for the member array `key` (with or without its `.npy` suffix). A deflated member is inflated
    /// (and CRC-checked) by every call: keep the returned reader rather than asking again.
    /// - Throws: `ArrayFileError` listing the available keys when `key` is unknown, or naming the problem when
    ///   the member is damaged, encrypted, or compressed with a method other than deflate.
    public func reader(forKey key: String) throws -> NPYReader {
        let stripped = key.hasSuffix(".npy") ? String(key.dropLast(4)) : key
        guard let member = members[stripped] else {
            let available = keys.isEmpty ? "none" : keys.map { "'\($0)'" }.joined(separator: ", ")
            throw ArrayFileError(
                "\(path) has no array named '\(key)'; available keys: \(available) — choose one with --data-key")
        }
        let name = "\(path)[\(stripped)]"
        guard member.flags & 1 == 0 else {
            throw ArrayFileError("\(name) is encrypted; save the arrays again with np.savez without a password")
        }
        let dataStart = try localDataOffset(member, name: name)
        guard dataStart + member.compressedSize <= storage.count else {
            throw ArrayFileError("\(name) runs past the end of the archive; \(path) is truncated — save it again with np.savez")
        }
        switch member.method {
        case 0:
            guard member.compressedSize == member.uncompressedSize else {
                throw ArrayFileError("\(name) is stored with inconsistent sizes; \(path) is damaged — save it again with np.savez")
            }
            try checkCRC(storage.base.map { $0 + dataStart }, count: member.uncompressedSize, member, name: name)
            return try NPYReader(storage: storage, start: dataStart, length: member.compressedSize, name: name)
        case 8:
            return try inflatedReader(member, dataStart: dataStart, name: name)
        default:
            throw ArrayFileError(
                "\(name) is compressed with zip method \(member.method), which is not supported (stored and deflate are); save the arrays with np.savez or np.savez_compressed")
        }
    }

    /// Inflates a deflated member after checking its recorded size (see the type's documentation), then checks
    /// its CRC-32.
    private func inflatedReader(_ member: Member, dataStart: Int, name: String) throws -> NPYReader {
        let size = member.uncompressedSize
        let source = storage.base.map { $0 + dataStart } ?? UnsafeRawPointer(bitPattern: 1)!
        // size ≤ compressed · ratio + slack, without overflow (sizes are below 2^56).
        guard size <= Self.deflateRatioSlack
            || (size - Self.deflateRatioSlack + Self.maximumDeflateRatio - 1) / Self.maximumDeflateRatio <= member.compressedSize
        else {
            throw ArrayFileError(
                "\(name) records \(size) bytes inflated from \(member.compressedSize) compressed, more than deflate can produce; \(path) is damaged — save it again with np.savez_compressed")
        }
        guard size <= inflateLimit else {
            throw ArrayFileError(
                "\(name) inflates to \(size) bytes, over the limit of \(inflateLimit) bytes for compressed members; save the arrays uncompressed with np.savez (read in place, without inflating)")
        }
        // The .npy header alone first: its shape and dtype must account for exactly the recorded size.
        let probeCount = min(size, Self.headerProbeBytes)
        var probe = [UInt8](repeating: 0, count: probeCount)
        let probed = try probe.withUnsafeMutableBytes { buffer -> Int in
            guard let output = buffer.baseAddress else { return 0 }
            return try inflateRaw(
                from: source, count: member.compressedSize, into: output, capacity: probeCount, name: name,
                stopWhenFull: true)
        }
        probe.removeLast(probeCount - probed)
        let header = try probe.withUnsafeBytes { try NPYHeader.parse($0, file: name) }
        let declared = header.dataByteCount.flatMap { $0 <= Int.max - header.dataOffset ? $0 + header.dataOffset : nil }
        guard declared == size else {
            throw ArrayFileError(
                "\(name) records \(size) bytes but its .npy header (shape \(shapeDescription(header.shape)) \(header.scalarType.numpyName)) needs \(declared.map(String.init) ?? "more than can be addressed"); \(path) is damaged — save it again with np.savez_compressed")
        }
        let inflated = try ByteStorage.scratch(count: size, purpose: name) { output in
            try inflateRaw(from: source, count: member.compressedSize, into: output, capacity: size, name: name)
        }
        try checkCRC(inflated.base, count: inflated.count, member, name: name)
        return try NPYReader(storage: inflated, start: 0, length: nil, name: name)
    }

    /// Throws when the CRC-32 of `count` bytes at `bytes` is not the member's recorded one.
    private func checkCRC(_ bytes: UnsafeRawPointer?, count: Int, _ member: Member, name: String) throws {
        let crc = bytes.map { crc32Checksum($0, count: count) } ?? 0
        guard crc == member.crc32 else {
            throw ArrayFileError("\(name) fails its CRC-32 check; \(path) is damaged — save it again with np.savez")
        }
    }

    /// The offset of a member's data: after its local file header, whose name and extra lengths may differ
    /// from the central directory's.
    private func localDataOffset(_ member: Member, name: String) throws -> Int {
        let offset = member.localHeaderOffset
        guard offset >= 0, offset + 30 <= storage.count,
            readLE32(storage.base!, offset) == 0x0403_4B50
        else {
            throw ArrayFileError("\(name) has no valid zip local header; \(path) is damaged — save it again with np.savez")
        }
        let nameLength = Int(readLE16(storage.base!, offset + 26))
        let extraLength = Int(readLE16(storage.base!, offset + 28))
        return offset + 30 + nameLength + extraLength
    }
}

/// One central-directory entry of a zip archive.
struct ZipEntry {
    var name: String
    var method: UInt16
    var flags: UInt16
    var crc32: UInt32
    var compressedSize: Int
    var uncompressedSize: Int
    var localHeaderOffset: Int
}

/// Reads the central directory of a memory-mapped zip archive, including Zip64 records.
struct ZipDirectoryReader {
    let storage: ByteStorage
    let path: String

    private func damaged(_ detail: String) -> ArrayFileError {
        ArrayFileError("\(path) is not a valid .npz archive (\(detail)); save the arrays again with np.savez(path, x=x)")
    }

    func readCentralDirectory() throws -> [ZipEntry] {
        guard storage.count >= 22, let base = storage.base else { throw damaged("too short for a zip file") }
        // The end-of-central-directory record is in the last 22 + 65535 bytes (it may be followed by a comment).
        var eocd = -1
        var position = storage.count - 22
        let lowest = max(0, storage.count - 22 - 0xFFFF)
        while position >= lowest {
            if readLE32(base, position) == 0x0605_4B50 {
                eocd = position
                break
            }
            position -= 1
        }
        guard eocd >= 0 else { throw damaged("no zip end-of-central-directory record") }
        guard readLE16(base, eocd + 4) == 0, readLE16(base, eocd + 6) == 0 else {
            throw ArrayFileError("\(path) is a multi-disk zip archive, which is not supported; save the arrays again with np.savez")
        }
        var entryCount = Int(readLE16(base, eocd + 10))
        var directorySize = Int(readLE32(base, eocd + 12))
        var directoryOffset = Int(readLE32(base, eocd + 16))
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // Zip64: a locator right before the EOCD points at the Zip64 end-of-central-directory record.
            let locator = eocd - 20
            guard locator >= 0, readLE32(base, locator) == 0x0706_4B50 else {
                throw damaged("Zip64 sizes without a Zip64 locator")
            }
            let record = try checkedInt(readLE64(base, locator + 8))
            guard record + 56 <= storage.count, readLE32(base, record) == 0x0606_4B50 else {
                throw damaged("bad Zip64 end-of-central-directory record")
            }
            entryCount = try checkedInt(readLE64(base, record + 32))
            directorySize = try checkedInt(readLE64(base, record + 40))
            directoryOffset = try checkedInt(readLE64(base, record + 48))
        }
        guard directoryOffset + directorySize <= storage.count else {
            throw damaged("the central directory runs past the end of the file; the file is truncated")
        }
        var entries: [ZipEntry] = []
        entries.reserveCapacity(min(entryCount, 1 << 16))
        var cursor = directoryOffset
        for _ in 0..<entryCount {
            guard cursor + 46 <= storage.count, readLE32(base, cursor) == 0x0201_4B50 else {
                throw damaged("bad central directory entry")
            }
            let flags = readLE16(base, cursor + 8)
            let method = readLE16(base, cursor + 10)
            let crc = readLE32(base, cursor + 16)
            var compressed = UInt64(readLE32(base, cursor + 20))
            var uncompressed = UInt64(readLE32(base, cursor + 24))
            let nameLength = Int(readLE16(base, cursor + 28))
            let extraLength = Int(readLE16(base, cursor + 30))
            let commentLength = Int(readLE16(base, cursor + 32))
            var localOffset = UInt64(readLE32(base, cursor + 42))
            let nameStart = cursor + 46
            let extraStart = nameStart + nameLength
            let next = extraStart + extraLength + commentLength
            guard next <= storage.count else { throw damaged("a central directory entry runs past the end") }
            let name = String(decoding: UnsafeRawBufferPointer(start: base + nameStart, count: nameLength), as: UTF8.self)
            // Zip64 extended information (id 1) holds, in order, the fields whose 32-bit value is 0xFFFFFFFF.
            var extra = extraStart
            while extra + 4 <= extraStart + extraLength {
                let id = readLE16(base, extra)
                let size = Int(readLE16(base, extra + 2))
                if id == 1 {
                    var field = extra + 4
                    let end = min(extra + 4 + size, extraStart + extraLength)
                    if uncompressed == 0xFFFF_FFFF, field + 8 <= end { uncompressed = readLE64(base, field); field += 8 }
                    if compressed == 0xFFFF_FFFF, field + 8 <= end { compressed = readLE64(base, field); field += 8 }
                    if localOffset == 0xFFFF_FFFF, field + 8 <= end { localOffset = readLE64(base, field); field += 8 }
                }
                extra += 4 + size
            }
            entries.append(
                ZipEntry(
                    name: name, method: method, flags: flags, crc32: crc,
                    compressedSize: try checkedInt(compressed), uncompressedSize: try checkedInt(uncompressed),
                    localHeaderOffset: try checkedInt(localOffset)))
            cursor = next
        }
        return entries
    }

    private func checkedInt(_ value: UInt64) throws -> Int {
        // Sizes and offsets are bounded well below Int.max so that sums of them cannot overflow.
        guard let result = Int(exactly: value), result < 1 << 56 else {
            throw damaged("a size or offset is out of range")
        }
        return result
    }
}

/// Inflates a raw deflate stream (`count` bytes at `source`) into exactly `capacity` bytes at `output`; with
/// `stopWhenFull` (a prefix probe), returns once `capacity` bytes are produced or the stream ends, whichever
/// comes first. Never writes past `capacity`: a stream that inflates to more is an error. Returns the number
/// of bytes produced.
@discardableResult
func inflateRaw(
    from source: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer, capacity: Int, name: String,
    stopWhenFull: Bool = false
) throws -> Int {
    var stream = z_stream()
    guard inflateInit2_(&stream, -MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw ArrayFileError("cannot start zlib to inflate \(name)")
    }
    defer { inflateEnd(&stream) }
    let chunk = Int(UInt32.max)
    var consumed = 0
    var produced = 0
    while true {
        let inputChunk = min(count - consumed, chunk)
        let outputChunk = min(capacity - produced, chunk)
        stream.next_in = UnsafeMutablePointer(mutating: source.assumingMemoryBound(to: Bytef.self) + consumed)
        stream.avail_in = uInt(inputChunk)
        stream.next_out = output.assumingMemoryBound(to: Bytef.self) + produced
        stream.avail_out = uInt(outputChunk)
        let status = inflate(&stream, Z_NO_FLUSH)
        consumed += inputChunk - Int(stream.avail_in)
        produced += outputChunk - Int(stream.avail_out)
        if status == Z_STREAM_END || (stopWhenFull && produced == capacity) { break }
        guard status == Z_OK || (status == Z_BUF_ERROR && consumed < count && produced < capacity) else {
            let detail = status == Z_BUF_ERROR ? "the compressed data ends early or is longer than recorded" : "zlib error \(status)"
            throw ArrayFileError("cannot inflate \(name) (\(detail)); the archive is damaged — save it again with np.savez_compressed")
        }
    }
    guard produced == capacity || stopWhenFull else {
        throw ArrayFileError(
            "\(name) inflates to \(produced) bytes but the archive records \(capacity); the archive is damaged — save it again with np.savez_compressed")
    }
    return produced
}

/// The zip/zlib CRC-32 of `count` bytes.
func crc32Checksum(_ bytes: UnsafeRawPointer, count: Int) -> UInt32 {
    var crc: uLong = crc32(0, nil, 0)
    var offset = 0
    while offset < count {
        let length = min(count - offset, 1 << 30)
        crc = crc32(crc, bytes.assumingMemoryBound(to: Bytef.self) + offset, uInt(length))
        offset += length
    }
    return UInt32(truncatingIfNeeded: crc)
}

@inline(__always) func readLE16(_ base: UnsafeRawPointer, _ offset: Int) -> UInt16 {
    UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

@inline(__always) func readLE32(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
    UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}

@inline(__always) func readLE64(_ base: UnsafeRawPointer, _ offset: Int) -> UInt64 {
    UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
}
