import Foundation
import Testing

@testable import ArrayFiles

/// A minimal zip writer for hostile archives: one member, stored (method 0) or "deflated" (method 8) as raw
/// deflate *stored blocks* (BTYPE 00, RFC 1951 §3.2.4), which zlib inflates like any deflate stream. Sizes and
/// CRC written in the headers can be overridden to lie.
struct HostileZip {
    var name = "x.npy"
    var payload: [UInt8]
    var deflate = false
    var recordedSize: Int?
    var recordedCRC: UInt32?
    /// Bytes appended to the compressed data (not part of any block), to reach a compressed size.
    var compressedPadding = 0

    /// `payload` as raw deflate stored blocks of at most 65 535 bytes each, the last one final.
    static func storedBlocks(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        repeat {
            let length = min(65_535, payload.count - start)
            let final: UInt8 = start + length == payload.count ? 1 : 0
            out += [final, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            out += payload[start..<(start + length)]
            start += length
        } while start < payload.count
        return out
    }

    var bytes: [UInt8] {
        let data = (deflate ? Self.storedBlocks(payload) : payload) + [UInt8](repeating: 0, count: compressedPadding)
        let crc = recordedCRC ?? payload.withUnsafeBytes { crc32Checksum($0.baseAddress!, count: $0.count) }
        let size = recordedSize ?? payload.count
        let nameBytes = Array(name.utf8)
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16((v >> 16) & 0xFFFF) }
        let method = deflate ? 8 : 0
        let common = le16(0) + le16(method) + le16(0) + le16(0) + le32(Int(crc)) + le32(data.count) + le32(size)
            + le16(nameBytes.count) + le16(0)
        let local = le32(0x0403_4B50) + le16(20) + common + nameBytes
        let central = le32(0x0201_4B50) + le16(20) + le16(20) + common + le16(0) + le16(0) + le16(0) + le32(0)
            + le32(0) + nameBytes
        let directoryOffset = local.count + data.count
        let end = le32(0x0605_4B50) + le16(0) + le16(0) + le16(1) + le16(1) + le32(central.count)
            + le32(directoryOffset) + le16(0)
        return local + data + central + end
    }
}

/// The `.npy` bytes of a float32 vector `(count,)` with the given header shape text.
func npyBytes(shape: String, values: [Float]) -> [UInt8] {
    let dictionary = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
    let padded = dictionary + String(repeating: " ", count: (64 - (10 + dictionary.utf8.count + 1) % 64) % 64) + "\n"
    let header = NPYHeader.magic + [1, 0, UInt8(padded.utf8.count & 0xFF), UInt8(padded.utf8.count >> 8)] + Array(padded.utf8)
    return header + values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
}

/// Writes `bytes` to `name` in a fresh folder and passes the path to `body`.
func withTemporaryFile(_ name: String, _ bytes: [UInt8], _ body: (String) throws -> Void) throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let path = folder + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    try body(path)
}

@Suite struct HostileArrayFileTests {
    let values: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]

    @Test func wellFormedStoredAndDeflatedMembersOfTheTestWriterRead() throws {
        for deflate in [false, true] {
            let zip = HostileZip(payload: npyBytes(shape: "(10,)", values: values), deflate: deflate)
            try withTemporaryFile("ok.npz", zip.bytes) { path in
                let read = try NPZArchive(path: path).reader(forKey: "x").readAllFloats()
                #expect(read == values)
            }
        }
    }

    @Test func storedMemberWithAFlippedDataByteFailsItsCRC() throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("data.npz"))))
        let nameLength = Int(bytes[26]) | Int(bytes[27]) << 8
        let extraLength = Int(bytes[28]) | Int(bytes[29]) << 8
        // Member x: 128 bytes of .npy header, then data; flip a bit of the third float.
        bytes[30 + nameLength + extraLength + 128 + 9] ^= 0x01
        try withTemporaryFile("flipped.npz", bytes) { path in
            let archive = try NPZArchive(path: path)
            let message = arrayFileErrorMessage { _ = try archive.reader(forKey: "x") }
            #expect(message.contains("flipped.npz[x] fails its CRC-32 check"))
            #expect(message.contains("save it again with np.savez"))
            let labels = try archive.reader(forKey: "y").integerValues()
            #expect(labels == [3, 1, 4, 1, 5])
        }
    }

    @Test func deflatedMemberRecordingMoreThanDeflateCanProduceIsRefused() throws {
        let zip = HostileZip(payload: npyBytes(shape: "(10,)", values: values), deflate: true, recordedSize: 1 << 31)
        try withTemporaryFile("bomb.npz", zip.bytes) { path in
            let message = arrayFileErrorMessage { _ = try NPZArchive(path: path).reader(forKey: "x") }
            #expect(message.contains("more than deflate can produce"))
        }
    }

    /// The case: a member recording 2 GiB (with enough compressed bytes to be plausible) whose header
    /// says 40 bytes is refused after inflating only its header, so the test is fast and allocates nothing big.
    @Test func twoGiBMemberIsRefusedAfterInflatingOnlyItsHeader() throws {
        let recorded = 1 << 31
        var zip = HostileZip(payload: npyBytes(shape: "(10,)", values: values), deflate: true, recordedSize: recorded)
        zip.compressedPadding = recorded / NPZArchive.maximumDeflateRatio + 1
        try withTemporaryFile("big.npz", zip.bytes) { path in
            let start = ContinuousClock.now
            let message = arrayFileErrorMessage { _ = try NPZArchive(path: path).reader(forKey: "x") }
            #expect(message.contains("records \(recorded) bytes but its .npy header (shape (10,) float32) needs 168"))
            #expect(ContinuousClock.now - start < .seconds(5))
        }
    }

    @Test func headerDeclaringMoreThanTheRecordedSizeIsRefused() throws {
        let zip = HostileZip(payload: npyBytes(shape: "(1000000,)", values: values), deflate: true)
        try withTemporaryFile("short.npz", zip.bytes) { path in
            let message = arrayFileErrorMessage { _ = try NPZArchive(path: path).reader(forKey: "x") }
            #expect(message.contains("needs 4000128"))
            #expect(message.contains("damaged"))
        }
    }

    @Test func memberOverTheInflateLimitIsRefusedWithTheFix() throws {
        let zip = HostileZip(payload: npyBytes(shape: "(10,)", values: values), deflate: true)
        try withTemporaryFile("limit.npz", zip.bytes) { path in
            let message = arrayFileErrorMessage { _ = try NPZArchive(path: path, inflateLimit: 100).reader(forKey: "x") }
            #expect(message.contains("over the limit of 100 bytes"))
            #expect(message.contains("np.savez"))
        }
    }

    @Test func deflatedMemberThatInflatesBeyondItsRecordedSizeIsRefused() throws {
        let payload = npyBytes(shape: "(10,)", values: values)
        let zip = HostileZip(payload: payload + [UInt8](repeating: 7, count: 5000), deflate: true, recordedSize: payload.count)
        try withTemporaryFile("longer.npz", zip.bytes) { path in
            let message = arrayFileErrorMessage { _ = try NPZArchive(path: path).reader(forKey: "x") }
            #expect(message.contains("longer.npz[x]"))
            #expect(message.contains("damaged"))
        }
    }

    @Test func zip64ExtraFieldLongerThanItsEntryDoesNotReadOutOfBounds() throws {
        let bytes = HostileZip(payload: npyBytes(shape: "(10,)", values: values)).bytes
        // Move the central directory after the end record (so it ends the file) and give its entry Zip64 sizes
        // and a 4-byte extra field (id 1) that claims 65 535 bytes: the parser must stay inside the entry.
        let endRecord = Array(bytes.suffix(22))
        var central = Array(bytes.dropLast(22).suffix(46 + 5))
        let prefix = Array(bytes.dropLast(22 + 46 + 5))
        central[30] = 4
        central.replaceSubrange(20..<28, with: [UInt8](repeating: 0xFF, count: 8))
        central += [1, 0, 0xFF, 0xFF]
        var end = endRecord
        end[12] = UInt8(central.count)
        let offset = prefix.count + 22
        end.replaceSubrange(16..<20, with: [UInt8(offset & 0xFF), UInt8(offset >> 8), 0, 0])
        try withTemporaryFile("extra.npz", prefix + end + central) { path in
            let message = arrayFileErrorMessage { _ = try NPZArchive(path: path).reader(forKey: "x") }
            #expect(message.contains("extra.npz"))
        }
    }

    @Test(arguments: ["(0, 1099511627776, 1099511627776)", "(1099511627776, 1099511627776)", "(4611686018427387904,)"])
    func npyShapesBeyondAddressableAreRefused(shape: String) throws {
        try withTemporaryFile("huge.npy", npyBytes(shape: shape, values: [])) { path in
            let message = arrayFileErrorMessage { _ = try NPYReader(path: path) }
            #expect(message.contains("huge.npy declares shape"))
            #expect(message.contains("too many elements to address"))
        }
    }

    @Test func csvLineWithTooManyFieldsIsRefused() throws {
        let line = String(repeating: "1,", count: CSVReader.maximumColumnCount) + "1\n"
        try withTemporaryFile("wide.csv", Array(line.utf8)) { path in
            let message = arrayFileErrorMessage { _ = try CSVReader(path: path) }
            #expect(message.contains("wide.csv line 1 has more than \(CSVReader.maximumColumnCount) fields"))
        }
    }

    @Test func csvCellLongerThanTheLimitIsRefused() throws {
        let text = "1,2\n3," + String(repeating: "9", count: CSVReader.maximumCellBytes + 1) + "\n"
        try withTemporaryFile("long.csv", Array(text.utf8)) { path in
            let message = arrayFileErrorMessage { _ = try CSVReader(path: path) }
            #expect(message.contains("long.csv line 2, column 2 is \(CSVReader.maximumCellBytes + 1) bytes long"))
        }
    }
}
