import Foundation
import Testing
@testable import BatchRuntime

@Suite struct WireCodecTests {
    static let header = WireHeader(type: .hello, runId: 0x1122_3344_5566_7788, epoch: 3, shard: 7, incarnation: 99, attempt: 2, seq: 5)

    static let samples: [WireBody] = [
        .hello(credit: 2, threads: 4, pid: 1234, host: "node-1"),
        .welcome(heartbeatMs: 1000, leaseMs: 5000, chunkBytes: 4 << 20, maxChunksInFlight: 4, job: Array("{\"kind\":\"x\"}".utf8)),
        .modelRequest(offset: 10, hash: String(repeating: "ab", count: 32)),
        .modelData(offset: 0, total: 3, bytes: [1, 2, 3]),
        .assign(firstRow: 16, rowCount: 2, elementsPerRow: 3, samples: [UInt8](repeating: 1, count: 24)),
        .heartbeat(rowsDone: 5, held: 2, rssBytes: 1 << 30),
        .result(chunkIndex: 0, chunkCount: 2, byteOffset: 0, totalBytes: 16, totalCRC: 77, bytes: [UInt8](repeating: 0, count: 8)),
        .ack(chunkIndex: .max, status: .committed),
        .fail(failureClass: .computation, sampleRow: 203, message: "boom"),
        .cancel(reason: 1),
        .disconnect(reason: .done, message: "run complete"),
        .statusRequest,
        .status(json: Array("{}".utf8)),
    ]

    static func type(of body: WireBody) -> MessageType {
        switch body {
        case .hello: .hello
        case .welcome: .welcome
        case .modelRequest: .modelRequest
        case .modelData: .modelData
        case .assign: .assign
        case .heartbeat: .heartbeat
        case .result: .result
        case .ack: .ack
        case .fail: .fail
        case .cancel: .cancel
        case .disconnect: .disconnect
        case .statusRequest: .statusRequest
        case .status: .status
        }
    }

    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum("123456789") == 0xE306_9283)
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let whole = CRC32C.checksum(data)
        let split = CRC32C.checksum(Array(data[300...]), continuing: CRC32C.checksum(Array(data[..<300])))
        #expect(whole == split)
        for cut in [0, 1, 7, 8, 300, 999, 1000] {
            let a = Array(data[..<cut]), b = Array(data[cut...])
            #expect(CRC32C.combine(CRC32C.checksum(a), CRC32C.checksum(b), lengthB: b.count) == whole)
        }
    }

    @Test func sha256MatchesFIPSVectors() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func everyMessageTypeRoundTrips() throws {
        for body in Self.samples {
            var header = Self.header
            header.type = Self.type(of: body)
            let message = WireMessage(header: header, body: body)
            let frames = WireCodec.encode(message)
            #expect(frames.count == 3)
            #expect(frames[0].count == 48)
            #expect(try WireCodec.decode(frames) == message)
        }
    }

    @Test func headerLayoutIsTheDocumentedOne() {
        let frames = WireCodec.encode(WireMessage(header: Self.header, body: Self.samples[0]))
        #expect(Array(frames[0][0..<4]) == Array("BMX1".utf8))
        #expect(frames[0][4] == 1)
        #expect(frames[0][5] == MessageType.hello.rawValue)
        #expect(frames[0][8] == 0x88)  // runId little-endian
        #expect(frames[0][20] == 7)  // shard
        #expect(frames[0][40] == 16 + 6)  // payload length = fields + "node-1"
    }

    @Test func corruptedMessagesAreRejected() throws {
        var header = Self.header
        header.type = .result
        var frames = WireCodec.encode(WireMessage(header: header, body: Self.samples[6]))
        frames[2][3] ^= 1
        #expect(throws: RuntimeError.self) { try WireCodec.decode(frames) }
        #expect(throws: RuntimeError.self) { try WireCodec.decode([frames[0], frames[1]]) }
        #expect(throws: RuntimeError.self) { try WireCodec.decode([[], [], []]) }
    }

    /// 10,000 random and mutated frame sets: the decoder must throw or succeed, never trap; memory stays bounded
    /// because the decoder allocates nothing larger than its input.
    @Test(.timeLimit(.minutes(1))) func fuzzTenThousandFramesNeverCrash() {
        var rng = SplitMix(seed: 0xF022)
        let valid = Self.samples.map { body -> [[UInt8]] in
            var header = Self.header
            header.type = Self.type(of: body)
            return WireCodec.encode(WireMessage(header: header, body: body))
        }
        var accepted = 0, rejected = 0
        for i in 0..<10_000 {
            var frames: [[UInt8]]
            switch i % 4 {
            case 0:  // pure noise
                frames = (0..<Int(rng.next() % 5)).map { _ in (0..<Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
            case 1:  // a valid message with random byte flips
                frames = valid[Int(rng.next() % UInt64(valid.count))]
                for _ in 0..<Int(1 + rng.next() % 4) {
                    let f = Int(rng.next() % 3)
                    guard !frames[f].isEmpty else { continue }
                    frames[f][Int(rng.next() % UInt64(frames[f].count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            case 2:  // valid header, fields/body replaced, CRC recomputed (reaches the field validation)
                frames = valid[Int(rng.next() % UInt64(valid.count))]
                frames[1] = (0..<frames[1].count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                frames[2] = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                frames = Self.reseal(frames)
            default:  // truncated or extended frames
                frames = valid[Int(rng.next() % UInt64(valid.count))]
                let f = Int(rng.next() % 3)
                if rng.next() % 2 == 0 { frames[f] = Array(frames[f].prefix(Int(rng.next() % UInt64(frames[f].count + 1)))) } else { frames[f] += [0, 1, 2] }
            }
            if (try? WireCodec.decode(frames)) != nil { accepted += 1 } else { rejected += 1 }
        }
        #expect(accepted + rejected == 10_000)
        #expect(rejected > 9_000)
    }

    /// Rewrites payload length and CRC so mutated fields get past the checksum.
    static func reseal(_ frames: [[UInt8]]) -> [[UInt8]] {
        var h = frames[0]
        let len = UInt32(frames[1].count + frames[2].count)
        for k in 0..<4 { h[40 + k] = UInt8(truncatingIfNeeded: len >> (8 * UInt32(k))) }
        var crc = CRC32C.checksum(Array(h[0..<44]))
        crc = CRC32C.checksum(frames[1], continuing: crc)
        crc = CRC32C.checksum(frames[2], continuing: crc)
        for k in 0..<4 { h[44 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
        return [h, frames[1], frames[2]]
    }
}

/// A seeded generator so fuzz failures replay.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension WireCodecTests {
    /// The wire fuzz target's seed corpus (Fuzz/Corpus/wire, committed) holds one valid message of each type in
    /// the fuzzer's input layout: the 48-byte header, one byte giving the fields' length, the fields, the body.
    /// The seeds must stay what the codec encodes today, or the fuzzer starts from frames it rejects at once;
    /// `MODSCOPE_WRITE_FUZZ_SEEDS=1 swift test --filter wireFuzzSeeds` rewrites them after a protocol change.
    @Test func wireFuzzSeedsAreOneEncodedMessageOfEachType() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fuzz/Corpus/wire").standardizedFileURL
        let rewrite = ProcessInfo.processInfo.environment["MODSCOPE_WRITE_FUZZ_SEEDS"] == "1"
        if rewrite { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        for body in Self.samples {
            var header = Self.header
            header.type = Self.type(of: body)
            let frames = WireCodec.encode(WireMessage(header: header, body: body))
            #expect(frames[1].count < 64, "the fuzzer reads the fields' length as one byte mod 64")
            let seed = Data(frames[0] + [UInt8(frames[1].count)] + frames[1] + frames[2])
            let file = folder.appendingPathComponent("\(header.type).seed")
            if rewrite { try seed.write(to: file) }
            #expect(try Data(contentsOf: file) == seed, "\(file.path) is stale: rewrite the seeds (see this test's doc)")
        }
    }
}

extension WireCodecTests {
    /// Frames with the header's payload length and CRC-32C recomputed (as a peer that means harm would send them).
    static func resealed(_ frames: [[UInt8]]) -> [[UInt8]] {
        var header = frames[0]
        let length = UInt32(frames[1].count + frames[2].count)
        withUnsafeBytes(of: length.littleEndian) { header.replaceSubrange(40..<44, with: $0) }
        let prefix = CRC32C.checksum(frames[1], continuing: CRC32C.checksum(Array(header[0..<44])))
        let crc = CRC32C.combine(prefix, CRC32C.checksum(frames[2]), lengthB: frames[2].count)
        withUnsafeBytes(of: crc.littleEndian) { header.replaceSubrange(44..<48, with: $0) }
        return [header, frames[1], frames[2]]
    }

    /// Found by the wire fuzzer: an ASSIGN whose row count × elements per row × 4 overflows 64 bits trapped in
    /// the size check. It must be rejected as inconsistent instead.
    @Test func anAssignWhoseSizeOverflowsIsRejectedNotTrapped() throws {
        var header = Self.header
        header.type = .assign
        var frames = WireCodec.encode(WireMessage(header: header, body: .assign(firstRow: 0, rowCount: 1, elementsPerRow: 1, samples: [0, 0, 0, 0])))
        frames[1].replaceSubrange(8..<16, with: [UInt8](repeating: 0xFF, count: 8))  // rowCount = elements = 2^32 − 1
        #expect(throws: RuntimeError.self) { try WireCodec.decode(Self.resealed(frames)) }
    }
}

/// run.json stores a job's parameters as readable JSON; older folders hold base64 and are still read.
@Suite struct JobSpecEncodingTests {
    static let parameters = #"{"a":1,"b":0,"c":true,"d":1.5,"e":18446744073709551615,"f":-3,"g":"text","h":[1,2.25,null],"i":{"j":1e-10}}"#

    @Test func parametersAreWrittenAsJSONAndRoundTripExactly() throws {
        let job = JobSpec(kind: "k", parameters: Data(Self.parameters.utf8), rowCount: 3, sampleElementsPerRow: 2, columns: 4, shardSize: 1)
        let encoded = try JSONEncoder().encode(job)
        let object = try JSONSerialization.jsonObject(with: encoded) as! [String: Any]
        #expect(object["parameters"] is [String: Any], "parameters must be a JSON object in run.json")
        let decoded = try JSONDecoder().decode(JobSpec.self, from: encoded)
        let original = try JSONSerialization.jsonObject(with: Data(Self.parameters.utf8)) as! NSDictionary
        let back = try JSONSerialization.jsonObject(with: decoded.parameters) as! NSDictionary
        #expect(back == original)
        let text = String(decoding: decoded.parameters, as: UTF8.self)
        #expect(text.contains(#""a":1"#) && text.contains(#""b":0"#) && text.contains(#""c":true"#))
        #expect(text.contains("18446744073709551615"))
    }

    @Test func base64ParametersOfOlderRunFoldersAreRead() throws {
        let base64 = Data(Self.parameters.utf8).base64EncodedString()
        let json = #"{"kind":"k","parameters":"\#(base64)","rowCount":3,"sampleElementsPerRow":2,"columns":4,"shardSize":1}"#
        let decoded = try JSONDecoder().decode(JobSpec.self, from: Data(json.utf8))
        #expect(decoded.parameters == Data(Self.parameters.utf8))
    }
}
