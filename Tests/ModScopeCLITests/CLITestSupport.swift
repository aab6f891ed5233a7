import Foundation
import Testing

/// Runs the built `modscope` executable (next to the test bundle in the build folder) and captures its output.
struct CommandResult {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

enum ModScopeBinary {
    /// The build products folder: the test bundle lives there too.
    static var url: URL {
        var folder = Bundle.main.bundleURL
        if folder.pathExtension == "xctest" { folder = folder.deletingLastPathComponent() }
        let candidates = [folder, Bundle.main.bundleURL.deletingLastPathComponent()]
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("modscope").path) {
            return candidate.appendingPathComponent("modscope")
        }
        // swift test builds the products of the package into the same folder as the tests.
        let productsFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return productsFolder.appendingPathComponent("modscope")
    }

    /// Runs `modscope` with `arguments`; output goes to files (no pipe can fill and block it). A process still
    /// running after `timeout` seconds is killed and reported as exit status -1 with "timed out" on stderr, so a
    /// hang fails its test instead of stalling the suite.
    static func run(_ arguments: [String], timeout: TimeInterval = 120) throws -> CommandResult {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let stem = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-run-\(getpid())-\(UUID().uuidString)")
        let outURL = stem.appendingPathExtension("out"), errURL = stem.appendingPathExtension("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        let timedOut = process.isRunning
        if timedOut { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let errText = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return CommandResult(
            status: timedOut ? -1 : process.terminationStatus,
            standardOutput: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            standardError: timedOut ? "timed out after \(timeout) s\n" + errText : errText)
    }
}
