import Foundation
import Testing

@testable import ArrayFiles

@Suite struct NPYReaderTests {
    @Test(arguments: ["f4_v1.npy", "f4_v2.npy", "f4_v3.npy", "f4_be.npy"])
    func readsFloat32InEveryHeaderVersionAndByteOrder(name: String) throws {
        let reader = try NPYReader(path: Fixtures.path(name))
        #expect(reader.shape == [3, 4])
        #expect(reader.scalarType == .float32)
        #expect(reader.isBigEndian == (name == "f4_be.npy"))
        #expect(reader.rowCount == 3)
        #expect(reader.rowShape == [4])
        #expect(reader.elementsPerRow == 4)
        #expect(try reader.readAllFloats() == Fixtures.f4Values)
        #expect(try reader.floatRows(1..<3) == Array(Fixtures.f4Values[4..<12]))
        #expect(try reader.floatRows(2..<2) == [])
    }

    @Test(arguments: ["f8.npy", "f8_be.npy"])
    func convertsFloat64ToNearestFloat(name: String) throws {
        let reader = try NPYReader(path: Fixtures.path(name))
        #expect(reader.scalarType == .float64)
        #expect(reader.shape == [2, 3])
        let values = try reader.readAllFloats()
        #expect(values == [1.5, -2.25, Float(0.1), Float(3e10), -0.0, 1024])
        #expect(values[4].sign == .minus)
    }

    @Test func readsFloat16ExactlyIncludingSubnormals() throws {
        let reader = try NPYReader(path: Fixtures.path("f2.npy"))
        #expect(reader.scalarType == .float16)
        #expect(try reader.readAllFloats() == [0.5, -1.5, 65504, 0x1p-24])
    }

    @Test func readsIntegerAndBoolDtypes() throws {
        #expect(try NPYReader(path: Fixtures.path("i8_labels.npy")).readAllFloats() == [0, 1, 2, 1, 0, 2])
        let bigEndian = try NPYReader(path: Fixtures.path("i4_be.npy"))
        #expect(bigEndian.scalarType == .int32 && bigEndian.isBigEndian)
        #expect(try bigEndian.readAllFloats() == [-7, 300, 65536, -1])
        #expect(try bigEndian.integerValues() == [-7, 300, 65536, -1])
        #expect(try NPYReader(path: Fixtures.path("i1.npy")).integerValues() == [-128, 0, 127])
        #expect(try NPYReader(path: Fixtures.path("i2.npy")).integerValues() == [-32768, 5, 32767])
        #expect(try NPYReader(path: Fixtures.path("u2.npy")).integerValues() == [0, 65535])
        #expect(try NPYReader(path: Fixtures.path("u4.npy")).integerValues() == [0, 4_000_000_000])
        #expect(try NPYReader(path: Fixtures.path("bool.npy")).readAllFloats() == [1, 0, 1])
        #expect(try NPYReader(path: Fixtures.path("bool.npy")).integerValues() == [1, 0, 1])
    }

    @Test func readsUInt8ThreeDimensionalRows() throws {
        let reader = try NPYReader(path: Fixtures.path("u1.npy"))
        #expect(reader.scalarType == .uint8)
        #expect(reader.rowCount == 2)
        #expect(reader.rowShape == [2, 2])
        #expect(reader.elementsPerRow == 4)
        #expect(try reader.floatRows(1..<2) == [200, 255, 3, 4])
    }

    @Test func uint64BeyondIntIsAnErrorForIntegers() throws {
        let reader = try NPYReader(path: Fixtures.path("u8.npy"))
        #expect(try reader.readAllFloats() == [0, 0x1p64])
        let message = arrayFileErrorMessage { _ = try reader.integerValues() }
        #expect(message.contains("u8.npy element 1 is 18446744073709551615, not an integer"))
    }

    @Test(arguments: ["fortran_2d.npy", "fortran_3d.npy"])
    func readsFortranOrderTransposedIntoCOrder(name: String) throws {
        let reader = try NPYReader(path: Fixtures.path(name))
        #expect(reader.isFortranOrder)
        let count = reader.shape.reduce(1, *)
        #expect(try reader.readAllFloats() == (0..<count).map(Float.init))
        #expect(try reader.integerValues() == Array(0..<count))
        let perRow = reader.elementsPerRow
        #expect(try reader.floatRows(1..<2) == (perRow..<(2 * perRow)).map(Float.init))
    }

    @Test func zeroDimensionalArrayIsOneRowOfOne() throws {
        let reader = try NPYReader(path: Fixtures.path("scalar.npy"))
        #expect(reader.shape == [])
        #expect(reader.rowCount == 1)
        #expect(reader.rowShape == [])
        #expect(reader.elementsPerRow == 1)
        #expect(try reader.readAllFloats() == [3.5])
    }

    @Test func oneDimensionalArrayIsRowsOfOneElement() throws {
        let reader = try NPYReader(path: Fixtures.path("i8_labels.npy"))
        #expect(reader.rowCount == 6)
        #expect(reader.rowShape == [])
        #expect(reader.elementsPerRow == 1)
        #expect(try reader.floatRows(2..<4) == [2, 1])
    }

    @Test func emptyArrayHasNoRows() throws {
        let reader = try NPYReader(path: Fixtures.path("empty.npy"))
        #expect(reader.rowCount == 0)
        #expect(reader.elementsPerRow == 5)
        #expect(try reader.readAllFloats() == [])
    }

    @Test func integerValuesOfFloatsMustBeIntegral() throws {
        #expect(try NPYReader(path: Fixtures.path("labels_f4.npy")).integerValues() == [2, 0, 1])
        let message = arrayFileErrorMessage { _ = try NPYReader(path: Fixtures.path("labels_fraction.npy")).integerValues() }
        #expect(message.contains("labels_fraction.npy element 1 is 0.5, not an integer"))
        #expect(message.contains("y.astype(np.int64)"))
    }

    @Test func rowsOutOfRangeAreAnError() throws {
        let reader = try NPYReader(path: Fixtures.path("f4_v1.npy"))
        let message = arrayFileErrorMessage { _ = try reader.floatRows(2..<4) }
        #expect(message.contains("rows 2..<4 are out of range"))
        #expect(message.contains("f4_v1.npy has 3 rows"))
    }

    @Test func objectDtypeNamesTheFileAndTheFix() {
        let message = arrayFileErrorMessage { _ = try NPYReader(path: Fixtures.path("object.npy")) }
        #expect(message.contains("object.npy was saved with dtype object"))
        #expect(message.contains("np.save(path, x.astype(np.float32))"))
    }

    @Test func textStructuredAndComplexDtypesAreRejected() {
        let text = arrayFileErrorMessage { _ = try NPYReader(path: Fixtures.path("unicode.npy")) }
        #expect(text.contains("unicode.npy holds text (dtype <U2)"))
        #expect(text.contains("x.astype(np.float32)"))
        let structured = arrayFileErrorMessage { _ = try NPYReader(path: Fixtures.path("structured.npy")) }
        #expect(structured.contains("structured.npy holds a structured array"))
        let complex = arrayFileErrorMessage { _ = try NPYReader(path: Fixtures.path("complex.npy")) }
        #expect(complex.contains("complex.npy holds complex numbers (dtype <c8)"))
        #expect(complex.contains("x.real.astype(np.float32)"))
    }

    @Test func truncatedFilesAreAnError() {
        let data = arrayFileErrorMessage { _ = try NPYReader(path: Fixtures.path("truncated.npy")) }
        #expect(data.contains("truncated.npy is truncated"))
        #expect(data.contains("48 bytes of data, but only 40 bytes follow"))
        #expect(data.contains("save it again with np.save"))
        let header = arrayFileErrorMessage { _ = try NPYReader(path: Fixtures.path("truncated_header.npy")) }
        #expect(header.contains("truncated_header.npy is truncated inside its header"))
    }

    @Test func badMagicAndMissingFilesAreAnError() {
        let magic = arrayFileErrorMessage { _ = try NPYReader(path: Fixtures.path("bad_magic.npy")) }
        #expect(magic.contains("bad_magic.npy is not a NumPy .npy file"))
        #expect(magic.contains("np.save(path, x)"))
        let missing = arrayFileErrorMessage { _ = try NPYReader(path: Fixtures.path("no_such_file.npy")) }
        #expect(missing.contains("cannot open"))
        #expect(missing.contains("no_such_file.npy: No such file or directory"))
    }

    @Test func trailingBytesAreAnError() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/long.npy"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("f4_v1.npy")))
        bytes.append(contentsOf: [0, 0, 0, 0])
        try bytes.write(to: URL(fileURLWithPath: path))
        let message = arrayFileErrorMessage { _ = try NPYReader(path: path) }
        #expect(message.contains("long.npy has 4 bytes more than its header's shape (3, 4) float32 allows"))
    }

    @Test func headerParserAcceptsPython2LongsAndDoubleQuotes() throws {
        var parser = PyLiteralParser(
            bytes: Array(#"{"descr": "<i8", 'fortran_order': False, 'shape': (2L, 3), }"#.utf8), file: "x")
        let literal = try parser.parseHeader()
        #expect(literal == .dict([("descr", .string("<i8")), ("fortran_order", .bool(false)), ("shape", .tuple([.int(2), .int(3)]))]))
    }

    @Test func halfConversionCoversSpecialValues() {
        #expect(floatFromHalf(0x7C00) == .infinity)
        #expect(floatFromHalf(0xFC00) == -.infinity)
        #expect(floatFromHalf(0x7E00).isNaN)
        #expect(floatFromHalf(0x8000).sign == .minus && floatFromHalf(0x8000) == 0)
        #expect(floatFromHalf(0x3C00) == 1)
        #expect(floatFromHalf(0x03FF) == Float(0x3FF) * 0x1p-24)
    }
}
