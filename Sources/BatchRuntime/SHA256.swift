import CChecksumKernels
import Foundation

/// SHA-256 (FIPS 180-4), for content hashes of models and data in run.json and of the model bytes workers cache.
/// Streaming: feed any number of chunks, then `finalize()`.
///
/// Performance: whole 64-byte blocks are compressed straight from the caller's contiguous bytes; only a partial
/// block is buffered. With the x86 SHA extensions (detected at run time, `CChecksumKernels`) about 1.7 GB/s;
/// elsewhere portable Swift with the state and message schedule in locals, about 0.2 GB/s.
public struct SHA256: Sendable {
    /// Whether the CPU's SHA extensions are used (tests compare both paths).
    static let hardwareAvailable = modscope_sha256_hardware_supported() == 1
    private var useHardware = SHA256.hardwareAvailable
    private var h0: UInt32 = 0x6a09_e667, h1: UInt32 = 0xbb67_ae85, h2: UInt32 = 0x3c6e_f372, h3: UInt32 = 0xa54f_f53a
    private var h4: UInt32 = 0x510e_527f, h5: UInt32 = 0x9b05_688c, h6: UInt32 = 0x1f83_d9ab, h7: UInt32 = 0x5be0_cd19
    /// Bytes of an unfinished block (< 64).
    private var pending = [UInt8]()
    private var length: UInt64 = 0

    /// FIPS 180-4 round constants (one table, in `CChecksumKernels`).
    private static var k: UnsafeBufferPointer<UInt32> { UnsafeBufferPointer(start: modscope_sha256_round_constants(), count: 64) }

    public init() {}

    /// A hasher that never uses the SHA extensions (tests).
    init(portable: Bool) { useHardware = !portable && Self.hardwareAvailable }

    public mutating func update<D: DataProtocol>(_ data: D) {
        for region in data.regions {
            let done: Void? = region.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
            if done == nil { Array(region).withUnsafeBytes { update($0) } }
        }
    }

    /// Feeds raw bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        length += UInt64(bytes.count)
        var rest = bytes[...]
        if !pending.isEmpty {
            let take = min(64 - pending.count, rest.count)
            pending.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            guard pending.count == 64 else { return }
            let block = pending
            block.withUnsafeBytes { compress(blocks: $0.baseAddress!, count: 1) }
            pending.removeAll(keepingCapacity: true)
        }
        let whole = rest.count / 64
        if whole > 0 { compress(blocks: bytes.baseAddress! + rest.startIndex, count: whole) }
        pending.append(contentsOf: rest.dropFirst(whole * 64))
    }

    public mutating func finalize() -> [UInt8] {
        let bits = length * 8
        var tail = pending + [0x80]
        while tail.count % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        tail.withUnsafeBytes { compress(blocks: $0.baseAddress!, count: $0.count / 64) }
        pending = []
        return [h0, h1, h2, h3, h4, h5, h6, h7].flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * $0)) } }
    }

    @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 - n) }

    /// Compresses `count` consecutive 64-byte blocks.
    private mutating func compress(blocks: UnsafeRawPointer, count: Int) {
        if useHardware {
            var words = [h0, h1, h2, h3, h4, h5, h6, h7]
            modscope_sha256_hardware_blocks(&words, blocks.assumingMemoryBound(to: UInt8.self), count)
            (h0, h1, h2, h3, h4, h5, h6, h7) = (words[0], words[1], words[2], words[3], words[4], words[5], words[6], words[7])
            return
        }
        var (s0, s1, s2, s3, s4, s5, s6, s7) = (h0, h1, h2, h3, h4, h5, h6, h7)
        let k = Self.k
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            for blockIndex in 0..<count {
                let block = blocks + blockIndex * 64
                for i in 0..<16 { w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
                for i in 16..<64 {
                    let x = w[i - 15], y = w[i - 2]
                    let sigma0 = Self.rotr(x, 7) ^ Self.rotr(x, 18) ^ (x >> 3)
                    let sigma1 = Self.rotr(y, 17) ^ Self.rotr(y, 19) ^ (y >> 10)
                    w[i] = w[i - 16] &+ sigma0 &+ w[i - 7] &+ sigma1
                }
                var (a, b, c, d, e, f, g, h) = (s0, s1, s2, s3, s4, s5, s6, s7)
                for i in 0..<64 {
                    let bigSigma1 = Self.rotr(e, 6) ^ Self.rotr(e, 11) ^ Self.rotr(e, 25)
                    let choose = (e & f) ^ (~e & g)
                    let t1 = h &+ bigSigma1 &+ choose &+ k[i] &+ w[i]
                    let bigSigma0 = Self.rotr(a, 2) ^ Self.rotr(a, 13) ^ Self.rotr(a, 22)
                    let majority = (a & b) ^ (a & c) ^ (b & c)
                    h = g
                    g = f
                    f = e
                    e = d &+ t1
                    d = c
                    c = b
                    b = a
                    a = t1 &+ bigSigma0 &+ majority
                }
                s0 = s0 &+ a
                s1 = s1 &+ b
                s2 = s2 &+ c
                s3 = s3 &+ d
                s4 = s4 &+ e
                s5 = s5 &+ f
                s6 = s6 &+ g
                s7 = s7 &+ h
            }
        }
        (h0, h1, h2, h3, h4, h5, h6, h7) = (s0, s1, s2, s3, s4, s5, s6, s7)
    }

    /// Hex digest of `data`.
    public static func hex<D: DataProtocol>(_ data: D) -> String {
        var hasher = SHA256()
        hasher.update(data)
        return hexString(hasher.finalize())
    }

    static func hexString(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(digest.count * 2)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Hex digest of a file, read in 4 MiB chunks.
    public static func hex(fileAt path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw RuntimeError("cannot read '\(path)' to hash it") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { hasher.update(chunk) }
        return hexString(hasher.finalize())
    }
}
