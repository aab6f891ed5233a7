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

    static func run(_ arguments: [String], timeout: TimeInterval = 120) throws -> CommandResult {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            standardOutput: String(decoding: outData, as: UTF8.self),
            standardError: String(decoding: errData, as: UTF8.self))
    }
}
