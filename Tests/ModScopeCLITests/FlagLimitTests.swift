import Foundation
import Testing

/// Issue 16, "no trap is reachable from input", for flags: every numeric flag at the edges of its type (huge,
/// negative, infinite, NaN) and every contradictory combination exits 2 at once with a sentence naming the flag,
/// creating nothing — no trap, no hang, no allocation of gigabytes, no thousands of files.
@Suite struct FlagLimitTests {
    static let job = ["--model", AttributeErrorTests.mlp, "--data", AttributeErrorTests.data, "--layer", "relu", "--quiet"]

    struct Case: Sendable, CustomStringConvertible {
        var arguments: [String]
        var expected: String
        var description: String { arguments.filter { $0.hasPrefix("--") && !Self.common.contains($0) }.joined(separator: " ") }
        static let common: Set = ["--model", "--data", "--layer", "--quiet", "--out"]
    }

    static func attribute(_ extra: String...) -> [String] { ["attribute"] + job + ["--out", "OUT/a.npy"] + extra }
    static func run(_ extra: String...) -> [String] { ["run"] + job + ["--out", "OUT/run"] + extra }

    static let cases: [Case] = [
        Case(arguments: attribute("--batch-size", "9223372036854775807"), expected: "--batch-size must be within 1...16777216"),
        Case(arguments: attribute("--steps", "1000000000"), expected: "--steps must be within 1...100000"),
        Case(arguments: attribute("--steps", "9223372036854775807"), expected: "--steps must be within"),
        Case(arguments: attribute("--threads", "9223372036854775807"), expected: "--threads must be within 1...1024"),
        Case(arguments: run("--shard-size", "9223372036854775807"), expected: "--shard-size must be within"),
        Case(arguments: run("--worker-threads", "9223372036854775807"), expected: "--worker-threads must be within"),
        Case(arguments: run("--lease-timeout", "inf"), expected: "--lease-timeout must be a number of seconds within"),
        Case(arguments: run("--lease-timeout", "1e308"), expected: "--lease-timeout must be a number of seconds"),
        Case(arguments: run("--heartbeat", "nan"), expected: "--heartbeat must be a number of seconds"),
        Case(arguments: run("--stall-timeout", "0"), expected: "--stall-timeout must be a number of seconds"),
        Case(arguments: run("--max-attempts", "9223372036854775807"), expected: "--max-attempts must be within"),
        Case(arguments: run("--workers", "100000"), expected: "--workers must be within 0...1024"),
        Case(arguments: run("--workers", "1000"), expected: "use fewer --workers"),
        Case(arguments: run("--image-shape", "9223372036854775807x9223372036854775807"), expected: "--image-shape '9223372036854775807x9223372036854775807' is not"),
        Case(arguments: run("--image-shape", "9x9"), expected: "--image-shape 9x9 has 81 values but one sample has 64"),
        Case(arguments: run("--restarts", "9223372036854775807"), expected: "--restarts 9223372036854775807 is out of range"),
        Case(arguments: run("--bind", "tcp://127.0.0.1:0", "--insecure"), expected: "asks for a random port"),
        Case(arguments: run("--bind", "tcp://127.0.0.1:5599", "--insecure", "--keys", "OUT"), expected: "--insecure turns CURVE off but --keys"),
        Case(arguments: ["keys", "generate", "--workers", "100000000", "--out", "OUT/keys"], expected: "--workers must be within 1...10000"),
        Case(arguments: ["worker", "--connect", "ipc://OUT/none", "--give-up-after", "inf"], expected: "--give-up-after must be a number of seconds"),
        Case(arguments: ["worker", "--connect", "ipc://OUT/none", "--threads", "9223372036854775807"], expected: "--threads must be within"),
        Case(arguments: ["worker", "--connect", "ipc://OUT/none", "--insecure", "--keys", "OUT"], expected: "--insecure turns CURVE off"),
        Case(arguments: ["plan"] + job + ["--deadline", "nan"], expected: "--deadline must be a number of seconds"),
        Case(arguments: ["evaluate", "OUT/run", "--workers", "9223372036854775807"], expected: "--workers must be within"),
    ]

    @Test(arguments: cases) func anOutOfRangeOrContradictoryFlagExitsTwoAtOnce(flag: Case) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-flags-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let arguments = flag.arguments.map { $0.replacingOccurrences(of: "OUT", with: folder.path) }
        let result = try ModScopeBinary.run(arguments, timeout: 30)
        #expect(result.status == 2, "exit \(result.status): \(result.standardError)")
        #expect(result.standardError.contains(flag.expected), "stderr: \(result.standardError)")
        #expect(!result.standardError.contains("Fatal error") && !result.standardError.contains("crashed"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty, "nothing was created")
    }
}
