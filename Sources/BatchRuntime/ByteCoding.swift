import Foundation

/// Appends little-endian integers to a byte buffer (wire fields, journal records).
struct LittleEndianWriter {
    var bytes: [UInt8] = []
    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func raw(_ v: [UInt8]) { bytes.append(contentsOf: v) }
}

/// Reads little-endian integers from untrusted bytes: every read is bounds-checked and throws instead of trapping.
struct LittleEndianReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var remaining: Int { bytes.count - offset }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw RuntimeError("truncated field: need \(n) bytes, have \(remaining)") }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }
    mutating func u8() throws -> UInt8 { try take(1).first! }
    mutating func u16() throws -> UInt16 { UInt16(try uint(2)) }
    mutating func u32() throws -> UInt32 { UInt32(try uint(4)) }
    mutating func u64() throws -> UInt64 { try uint(8) }
    mutating func i64() throws -> Int64 { Int64(bitPattern: try uint(8)) }
    private mutating func uint(_ n: Int) throws -> UInt64 {
        let s = try take(n)
        var v: UInt64 = 0
        for (k, b) in s.enumerated() { v |= UInt64(b) << (8 * UInt64(k)) }
        return v
    }
}

extension Data: DataProtocolLike {}
extension Array: DataProtocolLike where Element == UInt8 {}

extension Array where Element == Float {
    /// The floats as little-endian float32 bytes (the wire and matrix.npy layout; x86-64 and arm64 are little-endian).
    var littleEndianBytes: [UInt8] { withUnsafeBytes { [UInt8]($0) } }

    /// Floats from little-endian float32 bytes; the count must be a multiple of 4.
    init(littleEndianBytes bytes: [UInt8]) {
        let count = bytes.count / 4
        guard count > 0 else { self = []; return }
        self = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { raw in
                _ = memcpy(buffer.baseAddress!, raw.baseAddress!, count * 4)
            }
            initialized = count
        }
    }
}
