import Foundation
import Testing

@testable import ArrayFiles

@Suite struct NPYWriterTests {
    @Test func floatRoundTripAndNumpyCompatibleHeader() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/a.npy"
        let values: [Float] = [1.5, -0.0, .infinity, Float(bitPattern: 1), 7, 8]
        try NPYWriter.write(values, shape: [2, 3], to: path)
        let reader = try NPYReader(path: path)
        #expect(reader.shape == [2, 3])
        #expect(reader.scalarType == .float32 && !reader.isBigEndian && !reader.isFortranOrder)
        let back = try reader.readAllFloats()
        #expect(back.map(\.bitPattern) == values.map(\.bitPattern))
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count == 128 + 24)
        #expect(Array(bytes[0..<10]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 118, 0])
        let header = String(decoding: bytes[10..<128], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
        #expect(header.hasSuffix(" \n"))
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["a.npy"])
    }

    @Test func bytesAreIdenticalToNumpySave() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/f4.npy"
        try NPYWriter.write(Fixtures.f4Values, shape: [3, 4], to: path)
        let ours = try Data(contentsOf: URL(fileURLWithPath: path))
        let numpy = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("f4_v1.npy")))
        #expect(ours == numpy)
    }

    @Test func int32RoundTripOneDimensional() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/labels.npy"
        try NPYWriter.write([Int32]([-1, 0, 2, 2_000_000_000]), shape: [4], to: path)
        let reader = try NPYReader(path: path)
        #expect(reader.shape == [4])
        #expect(reader.scalarType == .int32)
        #expect(try reader.integerValues() == [-1, 0, 2, 2_000_000_000])
        #expect(try readLabels(path: path) == [-1, 0, 2, 2_000_000_000])
    }

    @Test func headerIsPaddedToSixtyFourBytes() {
        #expect(NPYWriter.headerByteCount(shape: [3]) == 128)
        #expect(NPYWriter.headerByteCount(shape: []) == 128)
        #expect(NPYWriter.headerByteCount(shape: Array(repeating: 1_000_000_000, count: 8)) == 192)
        #expect(NPYRowWriter.headerByteCount(rows: 10, columns: 20) == 128)
    }

    @Test func overwritingReplacesTheWholeFile() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/a.npy"
        try NPYWriter.write([Float](repeating: 1, count: 100), shape: [10, 10], to: path)
        try NPYWriter.write([Float]([2, 3]), shape: [2], to: path)
        #expect(try NPYReader(path: path).readAllFloats() == [2, 3])
    }

    @Test func shapeMismatchAndMissingFolderAreErrors() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let shape = arrayFileErrorMessage { try NPYWriter.write([Float]([1, 2, 3]), shape: [2, 2], to: folder + "/a.npy") }
        #expect(shape.contains("a.npy: shape (2, 2) does not hold 3 values"))
        let missing = arrayFileErrorMessage { try NPYWriter.write([Float]([1]), shape: [1], to: folder + "/nope/a.npy") }
        #expect(missing.contains("nope"))
        #expect(missing.contains("check that the folder exists and is writable"))
    }
}

@Suite struct NPYRowWriterTests {
    @Test func preallocatesZerosAndWritesRowsOutOfOrder() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/matrix.npy"
        let writer = try NPYRowWriter(creating: path, rows: 4, columns: 3)
        #expect(writer.dataOffset == 128)
        #expect(try NPYReader(path: path).readAllFloats() == [Float](repeating: 0, count: 12))
        try writer.writeRows(startingAt: 2, [7, 8, 9, 10, 11, 12])
        try writer.writeRows(startingAt: 0, [1, 2, 3])
        try writer.synchronize()
        writer.close()
        let reader = try NPYReader(path: path)
        #expect(reader.shape == [4, 3])
        #expect(try reader.readAllFloats() == [1, 2, 3, 0, 0, 0, 7, 8, 9, 10, 11, 12])
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.size] as? Int) == 128 + 48)
    }

    @Test func resumeKeepsEarlierRows() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/matrix.npy"
        do {
            let first = try NPYRowWriter(creating: path, rows: 3, columns: 2)
            try first.writeRows(startingAt: 0, [1, 2])
            try first.synchronize()
        }
        let resumed = try NPYRowWriter(openingExisting: path, rows: 3, columns: 2)
        try resumed.writeRows(startingAt: 2, [5, 6])
        try resumed.synchronize()
        resumed.close()
        #expect(try NPYReader(path: path).readAllFloats() == [1, 2, 0, 0, 5, 6])
    }

    @Test func resumeRejectsAnotherShapeOrDtype() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/matrix.npy"
        _ = try NPYRowWriter(creating: path, rows: 3, columns: 2)
        let shape = arrayFileErrorMessage { _ = try NPYRowWriter(openingExisting: path, rows: 3, columns: 5) }
        #expect(shape.contains("cannot resume writing"))
        #expect(shape.contains("matrix.npy: its shape is (3, 2), expected (3, 5)"))
        let dtype = arrayFileErrorMessage {
            _ = try NPYRowWriter(openingExisting: Fixtures.path("f8.npy"), rows: 2, columns: 3)
        }
        #expect(dtype.contains("its dtype is <float64, not little-endian float32"))
    }

    @Test func writingPastTheEndOrPartialRowsIsAnError() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/matrix.npy"
        let writer = try NPYRowWriter(creating: path, rows: 2, columns: 2)
        let past = arrayFileErrorMessage { try writer.writeRows(startingAt: 1, [1, 2, 3, 4]) }
        #expect(past.contains("cannot write rows 1..<3 to"))
        #expect(past.contains("matrix.npy: the matrix has 2 rows"))
        let partial = arrayFileErrorMessage { try writer.writeRows(startingAt: 0, [1, 2, 3]) }
        #expect(partial.contains("must be a multiple of 2"))
        writer.close()
        let closed = arrayFileErrorMessage { try writer.writeRows(startingAt: 0, [1, 2]) }
        #expect(closed.contains("the writer is closed"))
        #expect(try NPYReader(path: path).readAllFloats() == [0, 0, 0, 0])
    }
}

@Suite struct NPYRowWriterReadWhileWritingTests {
    @Test func readerOpenedBeforeWritesSeesThem() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/matrix.npy"
        let writer = try NPYRowWriter(creating: path, rows: 2, columns: 2)
        let reader = try NPYReader(path: path)
        try writer.writeRows(startingAt: 1, [3, 4])
        #expect(try reader.floatRows(0..<2) == [0, 0, 3, 4])
        writer.close()
    }
}
