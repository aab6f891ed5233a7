import BatchRuntime
import Foundation
import Testing
@testable import ZeroMQTransport

/// A job kind whose output depends on the model bytes, to check that models travel over ZeroMQ (by hash, in
/// chunks, requested by the worker) and reach the computer intact.
struct ModelEchoComputer: ShardComputer {
    func computeRows(
        job: JobSpec, model: Data?, samples: UnsafeBufferPointer<Float>, firstRow: Int, rowCount: Int,
        progress: (Int) throws -> Void
    ) throws -> [Float] {
        guard let model, !model.isEmpty else { throw RuntimeError("model-echo needs a model") }
        var out = [Float]()
        for r in 0..<rowCount {
            for c in 0..<job.columns {
                // Sample the model at spread-out offsets so every chunk of it matters.
                let i = ((firstRow + r) * 7919 + c * 104_729) % model.count
                out.append(Float(model[i]) + Float(model.count % 1000))
            }
            try progress(r + 1)
        }
        return out
    }
}

struct ZeroSamples: SampleSource {
    var elements: Int
    func samples(rows: Range<Int>) throws -> [Float] { [Float](repeating: 0, count: rows.count * elements) }
}

@Suite(.serialized) struct ModelTransferTests {
    @Test(.timeLimit(.minutes(1))) func modelBytesTravelInChunksAndReachTheComputer() throws {
        var rng = SystemRandomNumberGenerator()
        let model = Data((0..<300_001).map { _ in UInt8.random(in: 0...255, using: &rng) })
        JobRegistry.shared.register(JobKind(
            name: "model-echo", makeComputer: { _ in ModelEchoComputer() },
            makeSampleSource: { job in ZeroSamples(elements: job.sampleElementsPerRow) }, loadModel: { _ in model }))
        let job = JobSpec(
            kind: "model-echo", parameters: Data("{}".utf8), modelHash: SHA256.hex(model), rowCount: 64,
            sampleElementsPerRow: 2, columns: 16, shardSize: 4)
        let folder = RunFolder(path: "/tmp/msmt-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder.url) }
        _ = try folder.create(job: job, version: "test")
        var settings = CoordinatorSettings(endpoint: folder.ipcEndpoint)
        settings.config.chunkBytes = 64 * 1024  // the 300 kB model goes in 5 MODEL_DATA chunks
        let server = try CoordinatorServer(folder: folder, settings: settings)
        let coordinator = Background { try server.run() }
        let workers = (0..<2).map { _ -> Background<Void> in
            var w = WorkerSettings(endpoint: folder.ipcEndpoint)
            w.giveUpAfter = 20
            let client = WorkerClient(settings: w)
            return Background { try client.run() }
        }
        let outcome = try #require(coordinator.wait(seconds: 30)).get()
        for w in workers { _ = w.wait(seconds: 5) }
        #expect(outcome.complete && outcome.poisoned.isEmpty)
        let expected = try [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60].flatMap { first in
            try [Float](repeating: 0, count: 8).withUnsafeBufferPointer {
                try ModelEchoComputer().computeRows(job: job, model: model, samples: $0, firstRow: first, rowCount: 4) { _ in }
            }
        }
        let data = [UInt8](try Data(contentsOf: folder.matrixURL)).dropFirst(MatrixFile.headerSize(rows: 64, columns: 16))
        #expect(Array(data) == expected.withUnsafeBytes { [UInt8]($0) })
    }

    /// `--model-cache`: the first run stores the model by hash; a later run on the same machine reads it from
    /// there (here the coordinator of the second run cannot even load it); a damaged file is not used.
    @Test(.timeLimit(.minutes(1))) func workersKeepModelsInTheirModelCacheAcrossRuns() throws {
        let model = Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let hash = SHA256.hex(model)
        let cache = URL(fileURLWithPath: "/tmp/msmc-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: cache) }
        func runOnce(kind: String, loadModel: @escaping @Sendable (JobSpec) throws -> Data) throws -> CoordinatorOutcome {
            JobRegistry.shared.register(JobKind(
                name: kind, makeComputer: { _ in ModelEchoComputer() },
                makeSampleSource: { job in ZeroSamples(elements: job.sampleElementsPerRow) }, loadModel: loadModel))
            let job = JobSpec(kind: kind, parameters: Data("{}".utf8), modelHash: hash, rowCount: 16, sampleElementsPerRow: 2, columns: 4, shardSize: 4)
            let folder = RunFolder(path: "/tmp/msmc-run-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: folder.url) }
            _ = try folder.create(job: job, version: "test")
            let server = try CoordinatorServer(folder: folder, settings: CoordinatorSettings(endpoint: folder.ipcEndpoint))
            let coordinator = Background { try server.run() }
            var w = WorkerSettings(endpoint: folder.ipcEndpoint)
            w.giveUpAfter = 20
            w.modelCacheFolder = cache
            let client = WorkerClient(settings: w)
            let worker = Background { try client.run() }
            let outcome = try #require(coordinator.wait(seconds: 30)).get()
            _ = worker.wait(seconds: 5)
            server.waitForLateWorkers()
            return outcome
        }
        #expect(try runOnce(kind: "model-echo-first") { _ in model }.complete)
        let file = cache.appendingPathComponent("\(hash).onnx")
        #expect(try Data(contentsOf: file) == model)
        let second = try runOnce(kind: "model-echo-cached") { _ in throw RuntimeError("the coordinator cannot read the model") }
        #expect(second.complete && second.poisoned.isEmpty)
        // A damaged cache file is ignored and removed.
        try Data("damaged".utf8).write(to: file)
        #expect(ModelFileCache.read(hash: hash, in: cache) == nil)
        #expect(!FileManager.default.fileExists(atPath: file.path))
    }
}
