import Foundation
import Testing

@testable import ArrayFiles

@Suite struct ByteStorageTests {
    @Test(arguments: [0, Int.max])
    func scratchInTemporaryFileOrMemoryHoldsWhatWasFilled(inMemoryLimit: Int) throws {
        let storage = try ByteStorage.scratch(count: 10_000, purpose: "test", inMemoryLimit: inMemoryLimit) { output in
            for i in 0..<10_000 { output.storeBytes(of: UInt8(i % 251), toByteOffset: i, as: UInt8.self) }
        }
        #expect(storage.count == 10_000)
        let bytes = UnsafeRawBufferPointer(start: storage.base, count: storage.count)
        #expect(bytes.enumerated().allSatisfy { $0.element == UInt8($0.offset % 251) })
    }

    @Test func emptyFileMapsToEmptyStorageAndReadersSayEmpty() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/empty.npy"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        let storage = try ByteStorage.map(path: path)
        #expect(storage.count == 0 && storage.base == nil)
        let message = arrayFileErrorMessage { _ = try NPYReader(path: path) }
        #expect(message.contains("empty.npy is empty"))
    }

    @Test func folderIsNotARegularFile() throws {
        let message = arrayFileErrorMessage { _ = try ByteStorage.map(path: Fixtures.folder.path) }
        #expect(message.contains("Fixtures is not a regular file"))
    }
}
