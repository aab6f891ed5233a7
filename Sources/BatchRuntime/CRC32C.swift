import CChecksumKernels

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every wire frame and journal record.
///
/// The SSE4.2 crc32 instruction where the CPU has it (detected at run time, `CChecksumKernels`; about 11 GB/s),
/// else a slicing-by-8 table implementation (about 2 GB/s), so checksumming never limits the coordinator's
/// throughput. Check value: `CRC32C.checksum("123456789")` is `0xE3069283` (same as Python's `crc32c` package).
public enum CRC32C {
    /// Whether the SSE4.2 instruction is used (tests compare both paths).
    static let hardwareAvailable = modscope_crc32c_hardware_supported() == 1

    /// Eight 256-entry tables laid out flat: entry `t * 256 + i` is table `t`, index `i`.
    static let table: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var crc = UInt32(i)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            table[i] = crc
        }
        for t in 1..<8 {
            for i in 0..<256 {
                let prev = table[(t - 1) * 256 + i]
                table[t * 256 + i] = (prev >> 8) ^ table[Int(prev & 0xFF)]
            }
        }
        return table
    }()

    /// The CRC of `bytes`, continuing from `previous` (the value returned for the bytes before).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        guard bytes.count > 0, let base = bytes.baseAddress else { return previous }
        if hardwareAvailable {
            return ~modscope_crc32c_hardware_update(~previous, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        }
        return portableChecksum(bytes, continuing: previous)
    }

    /// The table implementation (used when the CPU lacks SSE4.2; tests compare it with the instruction).
    static func portableChecksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return previous }
        let p = base.assumingMemoryBound(to: UInt8.self)
        var crc = ~previous
        var i = 0
        table.withUnsafeBufferPointer { t in
            while count - i >= 8 {
                let lo = crc ^ (UInt32(p[i]) | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2]) << 16 | UInt32(p[i + 3]) << 24)
                let hi = UInt32(p[i + 4]) | UInt32(p[i + 5]) << 8 | UInt32(p[i + 6]) << 16 | UInt32(p[i + 7]) << 24
                let a = t[1792 + Int(lo & 0xFF)] ^ t[1536 + Int((lo >> 8) & 0xFF)]
                let b = t[1280 + Int((lo >> 16) & 0xFF)] ^ t[1024 + Int(lo >> 24)]
                let c = t[768 + Int(hi & 0xFF)] ^ t[512 + Int((hi >> 8) & 0xFF)]
                let d = t[256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                crc = a ^ b ^ c ^ d
                i += 8
            }
            while i < count {
                crc = t[Int((crc ^ UInt32(p[i])) & 0xFF)] ^ (crc >> 8)
                i += 1
            }
        }
        return ~crc
    }

    /// The CRC of `a ‖ b` from `crcA = checksum(a)`, `crcB = checksum(b)` and `b.count` (zlib's crc32_combine,
    /// GF(2) matrix squaring: O(log lengthB) work, no data pass). Lets a receiver check a message CRC and reuse
    /// the body's own CRC without reading the body twice.
    public static func combine(_ crcA: UInt32, _ crcB: UInt32, lengthB: Int) -> UInt32 {
        guard lengthB > 0 else { return crcA }
        func times(_ matrix: [UInt32], _ vector: UInt32) -> UInt32 {
            var v = vector, sum: UInt32 = 0, i = 0
            while v != 0 {
                if v & 1 != 0 { sum ^= matrix[i] }
                v >>= 1
                i += 1
            }
            return sum
        }
        func square(_ matrix: [UInt32]) -> [UInt32] { (0..<32).map { times(matrix, matrix[$0]) } }
        var odd = [UInt32](repeating: 0, count: 32)
        odd[0] = 0x82F6_3B78  // the operator for one zero bit
        var row: UInt32 = 1
        for n in 1..<32 {
            odd[n] = row
            row <<= 1
        }
        var even = square(odd)  // two zero bits
        odd = square(even)  // four zero bits
        var crc = crcA, length = lengthB
        repeat {
            even = square(odd)
            if length & 1 != 0 { crc = times(even, crc) }
            length >>= 1
            if length == 0 { break }
            odd = square(even)
            if length & 1 != 0 { crc = times(odd, crc) }
            length >>= 1
        } while length != 0
        return crc ^ crcB
    }

    public static func checksum(_ data: [UInt8], continuing previous: UInt32 = 0) -> UInt32 {
        data.withUnsafeBytes { checksum($0, continuing: previous) }
    }

    public static func checksum<D: DataProtocolLike>(_ data: D, continuing previous: UInt32 = 0) -> UInt32 {
        data.withUnsafeBytes { checksum($0, continuing: previous) }
    }

    public static func checksum(_ string: String) -> UInt32 { checksum(Array(string.utf8)) }
}

/// Anything whose bytes can be borrowed contiguously (Foundation `Data`, `[UInt8]`).
public protocol DataProtocolLike {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}
