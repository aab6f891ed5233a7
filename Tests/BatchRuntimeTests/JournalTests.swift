import Foundation
import Testing
@testable import BatchRuntime

@Suite struct JournalTests {
    func tempURL() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)")
    }

    @Test func recordsReplayInOrder() throws {
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let j = try Journal(url: url)
            try j.append([.runStart(runId: 9, shards: 4), .epoch(1)])
            try j.append([.commit(shard: 0, attempt: 1, crc: 5, worker: "w"), .poison(shard: 2, reason: "killed 2 workers")])
        }
        let j = try Journal(url: url)
        #expect(j.records.count == 4)
        #expect(j.state.runId == 9)
        #expect(j.state.committed == [0: 5])
        #expect(j.state.poisoned == [2: "killed 2 workers"])
        try j.append([.reset(shard: 2), .epoch(2)])
        let k = try Journal(url: url)
        #expect(k.state.poisoned.isEmpty)
        #expect(k.state.epoch == 2)
    }

    @Test func tornTailIsDroppedAndTruncated() throws {
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let j = try Journal(url: url)
            try j.append([.runStart(runId: 1, shards: 3), .commit(shard: 0, attempt: 1, crc: 1, worker: "a"), .commit(shard: 1, attempt: 1, crc: 2, worker: "b")])
        }
        let full = try Data(contentsOf: url)
        // A crash mid-append: the last record is cut short.
        try full.prefix(full.count - 3).write(to: url)
        let j = try Journal(url: url)
        #expect(j.state.committed == [0: 1])
        #expect(j.droppedTailBytes > 0)
        // The file now ends on a record boundary, so new records replay after it.
        try j.append([.commit(shard: 2, attempt: 1, crc: 3, worker: "c")])
        let k = try Journal(url: url)
        #expect(k.state.committed == [0: 1, 2: 3])
        #expect(k.droppedTailBytes == 0)
    }

    @Test func corruptedRecordStopsReplay() throws {
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let j = try Journal(url: url)
            try j.append([.runStart(runId: 1, shards: 3), .commit(shard: 0, attempt: 1, crc: 1, worker: "a")])
        }
        var bytes = [UInt8](try Data(contentsOf: url))
        bytes[bytes.count - 1] ^= 0xFF
        bytes += [0xFF, 0xFF, 0xFF, 0x7F]  // a huge length field must not allocate
        try Data(bytes).write(to: url)
        let j = try Journal(url: url)
        #expect(j.records == [.runStart(runId: 1, shards: 3)])
    }
}

@Suite struct MatrixAndSyntheticTests {
    @Test func matrixFileIsAnNPYThatReopens() throws {
        let url = URL(fileURLWithPath: "/tmp/msmat-\(UUID().uuidString.prefix(8)).npy")
        defer { try? FileManager.default.removeItem(at: url) }
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        do {
            let m = try MatrixFile(url: url, rows: 4, columns: 3)
            try m.write(rowBytes: values.withUnsafeBytes { [UInt8]($0) }, startingAt: 2)
            try m.synchronize()
        }
        _ = try MatrixFile(url: url, rows: 4, columns: 3)  // reopening keeps the rows
        let data = [UInt8](try Data(contentsOf: url))
        let header = MatrixFile.headerSize(rows: 4, columns: 3)
        #expect(header % 64 == 0)
        #expect(String(decoding: data[0..<header], as: UTF8.self).contains("'shape': (4, 3)"))
        #expect(Array(data[(header + 24)...]) == values.withUnsafeBytes { [UInt8]($0) })
        #expect(throws: RuntimeError.self) { try MatrixFile(url: url, rows: 5, columns: 3) }
    }

    @Test func syntheticRowsDoNotDependOnSharding() throws {
        let a = try SyntheticJob.job(rows: 40, columns: 16, shardSize: 8)
        let whole = try SyntheticJob.expectedRows(job: a, rows: 0..<40)
        let parts = try SyntheticJob.expectedRows(job: a, rows: 0..<13) + SyntheticJob.expectedRows(job: a, rows: 13..<40)
        #expect(whole == parts)
        #expect(whole.allSatisfy { $0.isFinite && $0 >= -1 && $0 < 1 })
        #expect(Set(whole).count > 600)
    }

    @Test func failpointSpecParses() throws {
        let f = try Failpoint(spec: "crash-on-row:203,slow-ms:50")
        #expect(f.crashOnRow == 203 && f.slowMilliseconds == 50)
        #expect(throws: RuntimeError.self) { try Failpoint(spec: "explode") }
    }

    @Test func shardPlanCoversEveryRowOnce() {
        let plan = ShardPlan(rowCount: 100, shardSize: 16, columns: 3)
        #expect(plan.shardCount == 7)
        #expect(plan.rows(of: 6) == 96..<100)
        #expect((0..<7).reduce(0) { $0 + plan.rows(of: $1).count } == 100)
    }
}
