import ArrayFiles
import Foundation
import Testing
import TestSupport

/// Hostile model files given to the `modscope` executable: every class exits 2 with the library's sentence
/// (what is wrong, where) and advice on stderr, within seconds, writing no output — never a trap, abort or hang.
@Suite struct HostileModelCommandTests {
    let folder: URL
    let data: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-hostile-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        data = folder.appendingPathComponent("x.npy").path
        try NPYWriter.write((0..<12).map { Float($0) / 4 }, shape: [3, 4], to: data)
    }

    func expectExitTwo(_ result: CommandResult, _ hostile: HostileCase, out: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 2, "\(hostile): exit \(result.status): \(result.standardError)", sourceLocation: sourceLocation)
        #expect(result.standardError.hasPrefix("error: "), "\(hostile): \(result.standardError)", sourceLocation: sourceLocation)
        #expect(result.standardError.contains(hostile.expected), "\(hostile): \(result.standardError)", sourceLocation: sourceLocation)
        if let out { #expect(!FileManager.default.fileExists(atPath: out), "\(hostile): no output", sourceLocation: sourceLocation) }
    }

    func attribute(_ hostile: HostileCase) throws -> (CommandResult, String) {
        let model = try hostile.model.write(to: folder, name: "hostile.onnx")
        let out = folder.appendingPathComponent("out.npy").path
        let result = try ModScopeBinary.run(
            ["attribute", "--model", model.path, "--data", data, "--layer", "h", "--out", out, "--quiet"], timeout: 30)
        return (result, out)
    }

    /// Structural damage is found when the file loads: `inspect` and `attribute` both refuse it.
    @Test(arguments: HostileCatalog.loadTime) func aStructurallyBrokenModelExitsTwoFromInspectAndAttribute(hostile: HostileCase) throws {
        let model = try hostile.model.write(to: folder, name: "hostile.onnx")
        expectExitTwo(try ModScopeBinary.run(["inspect", model.path], timeout: 30), hostile)
        let (result, out) = try attribute(hostile)
        expectExitTwo(result, hostile, out: out)
    }

    /// Shapes and values that cannot work are found when the graph first runs, before any output is written.
    @Test(arguments: HostileCatalog.runTime) func aModelWhoseShapesCannotWorkExitsTwoFromAttribute(hostile: HostileCase) throws {
        let (result, out) = try attribute(hostile)
        expectExitTwo(result, hostile, out: out)
        #expect(result.standardError.contains("then repair or re-export it"), "\(hostile): \(result.standardError)")
    }
}
