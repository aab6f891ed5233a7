import Foundation
import Testing

/// Issue 16, "inputs are never outputs": every refused output exits 2 before anything is computed, and the
/// input (or device) it named is untouched.
@Suite struct OutputPathTests {
    let folder: URL
    let data: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-outputs-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        data = folder.appendingPathComponent("data.npy")
        try FileManager.default.copyItem(atPath: AttributeErrorTests.data, toPath: data.path)
    }

    func attribute(out: String, extra: [String] = [], model: String = AttributeErrorTests.mlp) throws -> CommandResult {
        try ModScopeBinary.run(["attribute", "--model", model, "--data", data.path, "--layer", "relu", "--out", out, "--quiet"] + extra, timeout: 30)
    }

    func expectRefused(_ result: CommandResult, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(result.status == 2, "exit \(result.status): \(result.standardError)", sourceLocation: sourceLocation)
        #expect(result.standardError.contains(fragment), "stderr: \(result.standardError)", sourceLocation: sourceLocation)
        #expect(try Data(contentsOf: data) == Data(contentsOf: URL(fileURLWithPath: AttributeErrorTests.data)), "the input changed", sourceLocation: sourceLocation)
    }

    @Test func anOutputThatIsAnInputIsRefused() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try expectRefused(try attribute(out: data.path), "is the same file as the input --data")
        // Another spelling of the same path, a symlink and a hard link are the same file too.
        try expectRefused(try attribute(out: folder.path + "/./data.npy"), "is the same file as the input --data")
        let link = folder.appendingPathComponent("link.npy")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: data)
        try expectRefused(try attribute(out: link.path), "is the same file as the input --data")
        let model = folder.appendingPathComponent("model.onnx")
        try FileManager.default.copyItem(atPath: AttributeErrorTests.mlp, toPath: model.path)
        let hard = folder.appendingPathComponent("hard.npy")
        try FileManager.default.linkItem(at: model, to: hard)
        try expectRefused(try attribute(out: hard.path, model: model.path), "is the same file as the input --model")
        let out = folder.appendingPathComponent("a.npy").path
        try expectRefused(try attribute(out: out, extra: ["--delta", out]), "--out and --delta name the same file")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func anOutputThatIsNotARegularFileIsRefused() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try expectRefused(try attribute(out: "/dev/full"), "exists and is not a regular file (a character device)")
        var info = stat()
        #expect(stat("/dev/full", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR)
        let fifo = folder.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        try expectRefused(try attribute(out: fifo), "(a FIFO)")
        try expectRefused(try attribute(out: folder.path), "(a folder)")
    }

    @Test func biclusterRefusesAnOutputFolderHoldingItsMatrix() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let matrix = folder.appendingPathComponent("row_labels.npy")
        try FileManager.default.copyItem(at: data, to: matrix)
        let result = try ModScopeBinary.run(["bicluster", "--matrix", matrix.path, "--k", "3", "--out", folder.path], timeout: 30)
        #expect(result.status == 2)
        #expect(result.standardError.contains("is the same file as the input --matrix"), "\(result.standardError)")
        #expect(try Data(contentsOf: matrix) == Data(contentsOf: data))
    }
}
