import Foundation
import Testing

/// Issue 16, "resource failures": a process started under a limit it cannot work within (open files, address
/// space) exits 1 at once with a sentence naming the limit and how to raise it — no libzmq abort, no OpenBLAS
/// allocation loop, no coordinator waiting forever for workers that cannot start.
@Suite struct ResourceLimitTests {
    /// Runs `modscope arguments` under `ulimit limit` (bash's units: files, KiB) with a 30 s bound.
    func run(limit: String, _ arguments: [String]) throws -> (status: Int32?, stderr: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-limits-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let command = arguments.map { $0.replacingOccurrences(of: "OUT", with: folder.path) }
        let process = try BackgroundModScope(command, ulimit: limit)
        return (process.wait(seconds: 30), process.stderr)
    }

    static let runArguments = [
        "run", "--model", AttributeErrorTests.mlp, "--data", AttributeErrorTests.data, "--layer", "relu", "--k", "3",
        "--quiet", "--out", "OUT/run",
    ]

    @Test(arguments: ["-n 16", "-n 32", "-n 64"])
    func tooFewOpenFilesExitsOneNamingTheLimit(limit: String) throws {
        let (status, stderr) = try run(limit: limit, Self.runArguments)
        #expect(status == 1, "exit \(String(describing: status)): \(stderr)")
        #expect(stderr.contains("the open-file limit is") && stderr.contains("ulimit -n 4096"), "\(stderr)")
    }

    @Test(arguments: ["-v 262144", "-v 524288"])
    func tooLittleAddressSpaceExitsOneNamingTheLimit(limit: String) throws {
        let (status, stderr) = try run(limit: limit, Self.runArguments)
        #expect(status == 1, "exit \(String(describing: status)): \(stderr)")
        #expect(stderr.contains("the address-space limit is") && stderr.contains("ulimit -v unlimited"), "\(stderr)")
    }

    /// A soft limit below the minimum is raised up to the hard limit, and the run completes.
    @Test func aLowSoftLimitIsRaisedAndTheRunCompletes() throws {
        let (status, stderr) = try run(limit: "-Sn 32", Self.runArguments)
        #expect(status == 0, "exit \(String(describing: status)): \(stderr)")
    }

    /// Diagnostics that cannot be written (stderr on a full device) are dropped; the command still exits with
    /// its own code instead of trapping.
    @Test func anUnwritableStderrDoesNotTrap() throws {
        let process = Process()
        process.executableURL = ModScopeBinary.url
        process.arguments = ["attribute", "--model", "/nonexistent.onnx", "--data", AttributeErrorTests.data, "--layer", "relu", "--out", "/tmp/unused.npy"]
        process.standardError = FileHandle(forWritingAtPath: "/dev/full")
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 2)
    }
}
