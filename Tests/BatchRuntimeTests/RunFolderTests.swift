import Foundation
import Testing
@testable import BatchRuntime

@Suite struct RunFolderTests {
    func temporaryFolder() -> RunFolder {
        RunFolder(FileManager.default.temporaryDirectory.appendingPathComponent("runfolder-\(UUID().uuidString)"))
    }

    /// Stage timings keep milliseconds: a whole-second date would make `seconds` (computed from the stored start)
    /// wrong by up to a second.
    @Test func manifestDatesKeepMilliseconds() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        _ = try folder.create(job: try SyntheticJob.job(rows: 10, columns: 2, shardSize: 5), version: "test")
        let started = Date(timeIntervalSince1970: 1_795_000_000.123)
        try folder.updateManifest { $0.stages = ["attribution": StageTiming(started: started)] }
        let read = try #require(try folder.loadManifest().stages?["attribution"]?.started)
        #expect(abs(read.timeIntervalSince(started)) < 0.001)
        let text = try String(contentsOf: folder.manifestURL, encoding: .utf8)
        #expect(text.contains(".123Z"))
    }

    /// run.json files written with whole-second dates still load.
    @Test func wholeSecondDatesStillLoad() {
        #expect(LogClock.parse("2026-11-25T09:12:25Z") == Date(timeIntervalSince1970: 1_795_597_945))
        #expect(LogClock.parse("2026-11-25T09:12:25.250Z") == Date(timeIntervalSince1970: 1_795_597_945.25))
        #expect(LogClock.parse("yesterday") == nil)
        #expect(LogClock.timestamp(Date(timeIntervalSince1970: 1_795_597_945.25)) == "2026-11-25T09:12:25.250Z")
    }
}
