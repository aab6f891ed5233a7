import ArrayFiles
import Foundation
import Testing
@testable import Attribution
@testable import ModScope

/// Token models (issue 12): BERT and GPT-2 exported with integer inputs (input_ids, attention_mask, token types),
/// attributed from the word-embedding output with [PAD]-embedding baselines, against float64 Captum run from
/// `inputs_embeds` (scripts/make_token_fixtures.py).
@Suite(.serialized) struct TokenModelTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tokens")

    struct Manifest: Decodable {
        struct Model: Decodable {
            struct Layer: Decodable {
                var tensors: [String: String]
                var width: Int
            }
            var family: String, data: String, repadded: String, baseline: String, target: String
            var models: [String: String]
            var tokens: Int
            var layers: [Layer]
        }
        struct Case: Decodable, CustomTestStringConvertible {
            var id: String, family: String, method: String, expected: String
            var layer_index: Int, steps: Int
            var layers: [String: String]
            var tolerance: Double
            var testDescription: String { id }
        }
        var models: [Model]
        var cases: [Case]
    }

    static let manifest: Manifest = {
        let data = try! Data(contentsOf: root.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    static func model(_ family: String) -> Manifest.Model { manifest.models.first { $0.family == family }! }
    static func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    /// Runs `attribute` and returns the matrix and its shape.
    static func attribute(
        family: String, flavour: String, layer: String, method: AttributionMethod, steps: Int = 16,
        granularity: Granularity = .unit, data: String? = nil
    ) throws -> (values: [Float], shape: [Int]) {
        let m = model(family)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-token-\(getpid())-\(UUID().uuidString).npy").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let request = AttributionRequest(
            modelPath: path(m.models[flavour]!), dataPath: path(data ?? m.data), labelsPath: path(m.target), layer: layer,
            target: "labels", baseline: path(m.baseline),
            configuration: AttributionConfiguration(method: method, steps: steps, granularity: granularity))
        var runner = AttributeCommandRunner(request: request, outputPath: out, deltaPath: nil, batchSize: nil, threads: 2, quiet: true)
        try runner.run()
        let reader = try NPYReader(path: out)
        return (try reader.readAllFloats(), reader.shape)
    }

    static let flavours = ["dynamo", "legacy"]

    @Test(arguments: manifest.cases)
    func matchesFloat64Captum(_ c: Manifest.Case) throws {
        let expected = try NPYReader(path: Self.path(c.expected))
        let reference = try expected.readAllFloats()
        let scale = reference.map { abs($0) }.max() ?? 1
        for flavour in Self.flavours {
            let method = try #require(AttributionMethod(rawValue: c.method))
            let (ours, shape) = try Self.attribute(family: c.family, flavour: flavour, layer: c.layers[flavour]!, method: method, steps: c.steps)
            #expect(shape == expected.shape, "\(c.id) \(flavour)")
            let error = zip(ours, reference).map { Double(abs($0 - $1)) }.max() ?? .infinity
            #expect(error / Double(scale) <= c.tolerance, "\(c.id) \(flavour): \(error / Double(scale)) > \(c.tolerance)")
        }
    }

    /// `token` granularity is `unit` reshaped from (N, T·D) to (N·T, D): the same values in the same order.
    @Test(arguments: ["bert", "gpt2"])
    func tokenRowsAreUnitReshaped(family: String) throws {
        let m = Self.model(family)
        let layer = m.layers[1].tensors["dynamo"]!
        let unit = try Self.attribute(family: family, flavour: "dynamo", layer: layer, method: .conductance)
        let token = try Self.attribute(family: family, flavour: "dynamo", layer: layer, method: .conductance, granularity: .token)
        #expect(token.shape == [unit.shape[0] * m.tokens, m.layers[1].width])
        #expect(token.values == unit.values)
    }

    /// The attention mask matters: changing the ids at padded positions (mask 0) changes no attribution.
    @Test(arguments: ["bert", "gpt2"])
    func paddedTokenIdsChangeNothing(family: String) throws {
        let m = Self.model(family)
        for layer in m.layers {
            for method in [AttributionMethod.conductance, .integratedGradients, .gradientTimesActivation] {
                let tensor = layer.tensors["legacy"]!
                let original = try Self.attribute(family: family, flavour: "legacy", layer: tensor, method: method)
                let repadded = try Self.attribute(family: family, flavour: "legacy", layer: tensor, method: method, data: m.repadded)
                #expect(original.values == repadded.values, "\(family) \(tensor) \(method)")
            }
        }
    }
}

/// Bad token-model input: one sentence naming the problem, exit code 2, no output file.
@Suite struct TokenInputErrorTests {
    /// Runs `attribute` on bert with the given overrides; returns the error's message and exit code.
    func failure(
        data: String? = nil, baseline: String? = nil, interpolateAt: String? = nil, granularity: Granularity = .unit,
        layer: String = "gelu", method: AttributionMethod = .conductance
    ) throws -> (message: String, code: Int32) {
        let m = TokenModelTests.model("bert")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-token-bad-\(getpid())-\(UUID().uuidString).npy").path
        let request = AttributionRequest(
            modelPath: TokenModelTests.path(m.models["dynamo"]!), dataPath: TokenModelTests.path(data ?? m.data), layer: layer,
            baseline: TokenModelTests.path(baseline ?? m.baseline), interpolateAt: interpolateAt,
            configuration: AttributionConfiguration(method: method, steps: 4, granularity: granularity))
        var runner = AttributeCommandRunner(request: request, outputPath: out, deltaPath: nil, batchSize: nil, threads: 1, quiet: true)
        do {
            try runner.run()
        } catch {
            #expect(!FileManager.default.fileExists(atPath: out), "no output after a failure")
            let (message, code) = ModScopeErrors.describe(error)
            #expect(!message.contains("\n"), "one sentence: \(message)")
            return (message, code)
        }
        try? FileManager.default.removeItem(atPath: out)
        Issue.record("attribute accepted the input")
        return ("", 0)
    }

    @Test(arguments: [
        ("bad/bert_missing_key.npz", "lacks 'token_type_ids'"),
        ("bad/bert_extra_key.npz", "'labels' is not an input"),
        ("bad/bert_mismatched_n.npz", "same first axis N"),
        ("bad/bert_float_ids.npz", "floating-point values"),
        ("bad/bert_id_out_of_range.npz", "outside the embedding table"),
    ])
    func badData(file: String, expected: String) throws {
        let (message, code) = try failure(data: file)
        #expect(code == 2)
        #expect(message.contains(expected), "\(message)")
    }

    @Test(arguments: [("bad/bert_baseline_two_rows.npz", "2 sample(s)"), ("bad/bert_baseline_short.npz", "expects 8 per sample")])
    func badBaseline(file: String, expected: String) throws {
        let (message, code) = try failure(baseline: file)
        #expect(code == 2)
        #expect(message.contains(expected), "\(message)")
    }

    @Test func interpolationTensorMustBeFloatAndBeforeTheLayer() throws {
        let integer = try failure(interpolateAt: "input_ids")
        #expect(integer.code == 2 && integer.message.contains("integer input"), "\(integer.message)")
        let after = try failure(interpolateAt: "gelu_1")
        #expect(after.code == 2 && after.message.contains("does not depend on 'gelu_1'"), "\(after.message)")
        let missing = try failure(interpolateAt: "no_such_tensor")
        #expect(missing.code == 2 && missing.message.contains("--interpolate-at 'no_such_tensor' is not a tensor"), "\(missing.message)")
    }

    @Test func tokenGranularityNeedsASequenceLayer() throws {
        let (message, code) = try failure(granularity: .token, layer: "output")
        #expect(code == 2 && message.contains("(T, D) sequence layer"), "\(message)")
    }
}
