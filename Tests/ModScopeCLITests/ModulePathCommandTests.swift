import Foundation
import Testing

/// PyTorch module paths as `--layer` on a narrow torchvision ResNet-18 exported by both torch exporters
/// (`scripts/make_module_path_fixtures.py`; the manifest records each module's output tensor, found by the
/// script from the exporter's scopes and checked against the module's forward hook through onnxruntime).
@Suite(.serialized, .timeLimit(.minutes(4))) struct ModulePathCommandTests {
    struct Export: Decodable, Sendable, CustomStringConvertible {
        var file: String
        var exporter: String
        var module_outputs: [String: String]
        var description: String { exporter }
    }
    struct Manifest: Decodable { var models: [Export] }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/module_paths")
    static let exports: [Export] = {
        let data = (try? Data(contentsOf: folder.appendingPathComponent("manifest.json"))) ?? Data()
        return (try? JSONDecoder().decode(Manifest.self, from: data))?.models ?? []
    }()

    func attribute(_ export: Export, layer: String, out: String) throws -> CommandResult {
        try ModScopeBinary.run([
            "attribute", "--model", Self.folder.appendingPathComponent(export.file).path,
            "--data", Self.folder.appendingPathComponent("data.npy").path, "--layer", layer, "--steps", "4",
            "--threads", "1", "--quiet", "--out", out,
        ])
    }

    @Test func theManifestListsBothExporters() {
        #expect(Set(Self.exports.map(\.exporter)) == ["legacy", "dynamo"])
    }

    @Test(arguments: exports) func aModulePathGivesTheSameMatrixAsItsOutputTensor(export: Export) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-modpath-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        for (module, tensor) in export.module_outputs.sorted(by: { $0.key < $1.key }) {
            let byPath = scratch.appendingPathComponent("\(module).path.npy").path
            let byTensor = scratch.appendingPathComponent("\(module).tensor.npy").path
            for (layer, out) in [(module, byPath), (tensor, byTensor)] {
                let result = try attribute(export, layer: layer, out: out)
                #expect(result.status == 0, "\(export.exporter) --layer \(layer): \(result.standardError)")
            }
            let a = try Data(contentsOf: URL(fileURLWithPath: byPath)), b = try Data(contentsOf: URL(fileURLWithPath: byTensor))
            #expect(a.count > 128 && a == b, "\(export.exporter): --layer \(module) and --layer \(tensor) differ")
        }
    }

    @Test(arguments: exports) func aPathThatNamesNoModuleIsRefusedWithSuggestions(export: Export) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-modpath-\(getpid())-\(UUID().uuidString).npy").path
        let result = try attribute(export, layer: "layer3.7", out: out)
        #expect(result.status == 2, "\(result.standardError)")
        #expect(result.standardError.contains("layer3.7"), "\(result.standardError)")
        #expect(result.standardError.contains("'layer3"), "suggests the nearest modules: \(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// BasicBlock calls its one `relu` module twice, so `layer1.0.relu` has two output tensors: naming it is
    /// ambiguous, and the error lists both tensors so the user can pick one.
    @Test(arguments: exports) func aModuleCalledTwiceIsRefusedListingItsOutputs(export: Export) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-modpath-\(getpid())-\(UUID().uuidString).npy").path
        let result = try attribute(export, layer: "layer1.0.relu", out: out)
        #expect(result.status == 2, "\(result.standardError)")
        #expect(result.standardError.contains("2 output tensors"), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
