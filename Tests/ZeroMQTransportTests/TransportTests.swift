import BatchRuntime
import Foundation
import Testing
@testable import ZeroMQTransport

@Suite struct CurveKeyTests {
    @Test func z85RoundTripsAndKeyPairsDerive() throws {
        let bytes = (0..<32).map { UInt8($0 * 7 & 0xFF) }
        let text = try #require(Z85.encode(bytes))
        #expect(text.count == 40)
        #expect(Z85.decode(text) == bytes)
        #expect(Z85.decode("not z85 because of spaces    ") == nil)
        let pair = try CurveKeyPair.generate()
        #expect(try CurveKeyPair(secretKey: pair.secretKey).publicKey == pair.publicKey)
    }

    @Test func keyFolderHasAllowListAndPairs() throws {
        let url = URL(fileURLWithPath: "/tmp/mszk-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: url) }
        let folder = KeyFolder(url)
        try folder.generate(workers: 2)
        let allowed = try folder.allowList()
        #expect(allowed.count == 2)
        #expect(allowed[try folder.workerKeys(name: "worker-2").publicKey] == "worker-2")
        #expect(try folder.coordinatorKeys().publicKey == folder.coordinatorPublicKey())
    }
}

/// Coordinator and workers in one process over ipc:// (real sockets, real threads).
@Suite(.serialized) struct EndToEndTransportTests {
    func worker(_ endpoint: String, curve: (serverKey: String, keys: CurveKeyPair)? = nil) -> Background<Void> {
        var settings = WorkerSettings(endpoint: endpoint)
        settings.curve = curve
        settings.giveUpAfter = 20
        let client = WorkerClient(settings: settings)
        return Background { try client.run() }
    }

    @Test(.timeLimit(.minutes(1))) func twoWorkersAssembleTheExactMatrix() throws {
        let folder = try makeRun(rows: 300, columns: 64, shardSize: 7)
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let server = try CoordinatorServer(folder: folder, settings: CoordinatorSettings(endpoint: folder.ipcEndpoint))
        let coordinator = Background { try server.run() }
        let workers = [worker(folder.ipcEndpoint), worker(folder.ipcEndpoint)]
        let outcome = try #require(coordinator.wait(seconds: 30)).get()
        #expect(outcome.complete && outcome.poisoned.isEmpty)
        // Both workers joined before the end, or the coordinator answered the late one's HELLO with DISCONNECT(done).
        for w in workers { _ = try #require(w.wait(seconds: 5)).get() }
        #expect(try matrixDataBytes(folder) == expectedMatrixBytes(folder))
        let journal = try Journal(url: folder.journalURL)
        #expect(journal.state.commitCount == 43)  // exactly one COMMIT per shard
    }

    /// A rogue client floods 10,000 random and mutated messages while the run proceeds: nothing crashes, the
    /// matrix is exact, and the coordinator's memory stays bounded.
    @Test(.timeLimit(.minutes(1))) func rogueClientWithTenThousandFramesChangesNothing() throws {
        let folder = try makeRun(rows: 400, columns: 64, shardSize: 8, rowMs: 8)
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let server = try CoordinatorServer(folder: folder, settings: CoordinatorSettings(endpoint: folder.ipcEndpoint))
        let rssBefore = residentBytes()
        let coordinator = Background { try server.run() }
        let honest = worker(folder.ipcEndpoint)
        let endpoint = folder.ipcEndpoint
        let runId = try folder.loadManifest().runId
        let rogue = Background { () -> Int in
            let context = try ZMQContext()
            let socket = try ZMQSocket(context: context, type: .dealer)
            defer { socket.close() }
            try socket.connect(endpoint)
            var rng = SystemRandomNumberGenerator()
            var sent = 0
            for i in 0..<10_000 {
                var frames: [[UInt8]]
                // Never a decodable HELLO: a registered rogue would be an authenticated worker, whose bad results are
                // rejected but legitimately use up attempts (the CURVE allow-list is the defence against that).
                let type = MessageType.allCases[1 + i % (MessageType.allCases.count - 1)]
                let header = WireHeader(type: type, runId: i % 3 == 0 ? runId : UInt64.random(in: 0...9, using: &rng), epoch: 1,
                    shard: UInt32.random(in: 0...60, using: &rng), incarnation: UInt64(i), attempt: 1)
                switch i % 3 {
                case 0:  // well-formed messages with hostile values
                    let body: WireBody = i % 2 == 0
                        ? .result(chunkIndex: 0, chunkCount: 1, byteOffset: 0, totalBytes: 2048, totalCRC: 1, bytes: [UInt8](repeating: 0xFF, count: 2048))
                        : .heartbeat(rowsDone: 1, held: 1, rssBytes: 0)
                    frames = WireCodec.encode(WireMessage(header: header, body: body))
                case 1:  // random noise of random frame counts
                    frames = (0..<Int.random(in: 1...5, using: &rng)).map { _ in (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
                default:  // mutated valid messages
                    frames = WireCodec.encode(WireMessage(header: header, body: .hello(credit: 64, threads: 1, pid: 1, host: "rogue")))
                    frames[Int.random(in: 0...2, using: &rng)].append(UInt8.random(in: 0...255, using: &rng))
                }
                for _ in 0..<1000 {
                    if try socket.send(frames, dontWait: true) {
                        sent += 1
                        break
                    }
                    usleep(1000)
                }
            }
            return sent
        }
        let sent = try #require(rogue.wait(seconds: 40)).get()
        #expect(sent == 10_000)
        let outcome = try #require(coordinator.wait(seconds: 40)).get()
        _ = honest.wait(seconds: 5)
        #expect(outcome.complete && outcome.poisoned.isEmpty)
        #expect(try matrixDataBytes(folder) == expectedMatrixBytes(folder))
        #expect(residentBytes() - rssBefore < 64 << 20)
    }

    /// CURVE with a ZAP allow-list: the allowed worker computes; a worker with an unknown key is never assigned
    /// work and stops with a clear message within 5 s.
    @Test(.timeLimit(.minutes(1))) func unknownCurveKeyIsRejectedWithAMessage() throws {
        let folder = try makeRun(rows: 200, columns: 16, shardSize: 10, rowMs: 2)
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let serverKeys = try CurveKeyPair.generate(), allowed = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        var settings = CoordinatorSettings(endpoint: folder.ipcEndpoint)
        settings.curve = (serverKeys, [allowed.publicKey: "worker-1"])
        let server = try CoordinatorServer(folder: folder, settings: settings)
        let coordinator = Background { try server.run() }
        usleep(200_000)
        let start = Date()
        let rejected = worker(folder.ipcEndpoint, curve: (serverKeys.publicKey, stranger))
        let result = try #require(rejected.wait(seconds: 5))
        let elapsed = Date().timeIntervalSince(start)
        guard case .failure(let error) = result else {
            Issue.record("the unknown worker was not rejected")
            return
        }
        #expect("\(error)".contains("rejected this worker's CURVE key"))
        #expect(elapsed < 5)
        let good = worker(folder.ipcEndpoint, curve: (serverKeys.publicKey, allowed))
        let outcome = try #require(coordinator.wait(seconds: 30)).get()
        _ = good.wait(seconds: 5)
        #expect(outcome.complete)
        #expect(try matrixDataBytes(folder) == expectedMatrixBytes(folder))
        let journal = try Journal(url: folder.journalURL)
        #expect(journal.records.allSatisfy { if case .commit(_, _, _, let w) = $0 { return !w.isEmpty } else { return true } })
        print("unknown CURVE key rejected after \(String(format: "%.2f", elapsed)) s")
    }
}
