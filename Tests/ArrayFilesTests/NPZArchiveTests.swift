import Foundation
import Testing

@testable import ArrayFiles

@Suite struct NPZArchiveTests {
    @Test(arguments: ["data.npz", "data_compressed.npz", "zip64.npz"])
    func readsStoredAndDeflatedMembers(name: String) throws {
        let archive = try NPZArchive(path: Fixtures.path(name))
        #expect(archive.keys == ["x", "y"])
        let x = try archive.reader(forKey: "x")
        #expect(x.shape == [3, 4])
        #expect(x.path.hasSuffix("\(name)[x]"))
        #expect(try x.readAllFloats() == Fixtures.f4Values)
        #expect(try x.floatRows(2..<3) == Array(Fixtures.f4Values[8..<12]))
        let y = try archive.reader(forKey: "y.npy")
        #expect(y.scalarType == .int64)
        #expect(try y.integerValues() == [3, 1, 4, 1, 5])
    }

    @Test func unknownKeyListsTheKeysAndTheFlag() throws {
        let archive = try NPZArchive(path: Fixtures.path("data.npz"))
        let message = arrayFileErrorMessage { _ = try archive.reader(forKey: "z") }
        #expect(message.contains("data.npz has no array named 'z'"))
        #expect(message.contains("available keys: 'x', 'y'"))
        #expect(message.contains("--data-key"))
    }

    @Test func notAZipFileIsAnError() {
        let message = arrayFileErrorMessage { _ = try NPZArchive(path: Fixtures.path("f4_v1.npy")) }
        #expect(message.contains("f4_v1.npy is not a valid .npz archive"))
        #expect(message.contains("np.savez(path, x=x)"))
    }

    @Test func corruptedDeflatedMemberIsDetected() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("data_compressed.npz"))))
        // Flip one bit in the middle of the first member's compressed data (after its 30-byte local header,
        // name and extra field): zlib or the CRC-32 check must notice.
        let nameLength = Int(bytes[26]) | Int(bytes[27]) << 8
        let extraLength = Int(bytes[28]) | Int(bytes[29]) << 8
        bytes[30 + nameLength + extraLength + 40] ^= 0x10
        let path = folder + "/corrupt.npz"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let archive = try NPZArchive(path: path)
        let message = arrayFileErrorMessage { _ = try archive.reader(forKey: "x") }
        #expect(message.contains("corrupt.npz[x]"))
        #expect(message.contains("damaged"))
    }

    @Test func crcMatchesZlibReferenceValue() {
        let text = Array("123456789".utf8)
        #expect(text.withUnsafeBytes { crc32Checksum($0.baseAddress!, count: $0.count) } == 0xCBF4_3926)
    }
}
