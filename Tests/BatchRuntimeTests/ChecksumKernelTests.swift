import Foundation
import Testing
@testable import BatchRuntime

/// The hardware kernels (SHA extensions, SSE4.2 crc32) must give exactly the portable results, at every length and
/// alignment; on a CPU without them both sides run the portable code and the tests still check the vectors.
@Suite struct ChecksumKernelTests {
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    @Test func sha256HardwareMatchesPortable() {
        for length in [0, 1, 63, 64, 65, 200, 4096, 100_003] {
            let data = Self.bytes(length, seed: UInt64(length))
            var fast = SHA256()
            var portable = SHA256(portable: true)
            fast.update(data)
            portable.update(data)
            #expect(fast.finalize() == portable.finalize(), "length \(length)")
        }
    }

    @Test func crc32cHardwareMatchesTableAtEveryAlignment() {
        let data = Self.bytes(4099, seed: 7)
        data.withUnsafeBytes { raw in
            for start in 0..<9 {
                for count in [0, 1, 7, 8, 9, 15, 16, 17, 1000, 4090] where start + count <= raw.count {
                    let slice = UnsafeRawBufferPointer(rebasing: raw[start..<(start + count)])
                    #expect(CRC32C.checksum(slice, continuing: 0x1234_5678) == CRC32C.portableChecksum(slice, continuing: 0x1234_5678))
                    #expect(CRC32C.checksum(slice) == CRC32C.portableChecksum(slice))
                }
            }
        }
        #expect(CRC32C.checksum("123456789") == 0xE306_9283)
    }

    /// Which path this machine takes, for the test log.
    @Test func reportsTheKernelsInUse() {
        print("SHA-256 extensions: \(SHA256.hardwareAvailable); SSE4.2 CRC-32C: \(CRC32C.hardwareAvailable)")
    }
}
