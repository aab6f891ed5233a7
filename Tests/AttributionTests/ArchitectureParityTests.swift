import ArrayFiles
import Foundation
import Testing
import TensorCore
@testable import Attribution
@testable import ONNX

/// Today's architectures (torchvision CNNs and vision transformers, Hugging Face encoders and decoders from
/// `inputs_embeds`) exported with both torch exporters, against onnxruntime and float64 references made by
/// scripts/make_architecture_fixtures.py (see its docstring for what each file holds).
struct ArchitectureManifest: Decodable, Sendable {
    struct Flavour: Decodable, Sendable { var path: String; var ort_output: String }
    struct Layer: Decodable, Sendable { var torch_layer: String; var tensors: [String: String] }
    struct Model: Decodable, Sendable {
        var family: String, kind: String, input: String, target: String
        var models: [String: Flavour]
        var layers: [Layer]
    }
    struct Case: Decodable, Sendable {
        var id: String, family: String, layer_index: Int, torch_layer: String, method: String, granularity: String
        var steps: Int, layers: [String: String], expected: String, tolerance: Float, captum_f32_error: Float
    }
    var models: [Model]
    var cases: [Case]

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/architectures")
    static func path(_ relative: String) -> String { folder.appendingPathComponent(relative).path }
    static let shared: ArchitectureManifest = {
        let data = try! Data(contentsOf: folder.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode(ArchitectureManifest.self, from: data)
    }()
    static let flavours = ["dynamo", "legacy"]

    static func tensor(_ relative: String) throws -> Tensor {
        let reader = try NPYReader(path: path(relative))
        return Tensor(shape: reader.shape, storage: try reader.readAllFloats())
    }

    func model(_ family: String) -> Model { models.first { $0.family == family }! }
}

/// One model file of one family.
struct ArchitectureExport: Sendable, CustomTestStringConvertible {
    var model: ArchitectureManifest.Model, flavour: String
    var testDescription: String { "\(model.family) \(flavour)" }
    static let all = ArchitectureManifest.shared.models.flatMap { m in
        ArchitectureManifest.flavours.map { ArchitectureExport(model: m, flavour: $0) }
    }
    var loaded: ONNXModel { get throws { try ONNXModel.load(path: ArchitectureManifest.path(model.models[flavour]!.path)) } }
    var samples: Tensor { get throws { try ArchitectureManifest.tensor(model.input) } }
    var targets: [Int] { get throws { try NPYReader(path: ArchitectureManifest.path(model.target)).integerValues() } }

    func attributor(layer: String, method: AttributionMethod, steps: Int = 16, granularity: Granularity?) throws -> LayerAttributor {
        let onnx = try loaded
        let configuration = AttributionConfiguration(method: method, steps: steps, quadrature: .gaussLegendre, granularity: granularity)
        return try LayerAttributor(
            graph: onnx.graph, input: "x", layer: layer, output: "output",
            sampleShape: Array(try samples.shape.dropFirst()), configuration: configuration)
    }
}

/// One reference attribution in one flavour.
struct ArchitectureCase: Sendable, CustomTestStringConvertible {
    var reference: ArchitectureManifest.Case, export: ArchitectureExport
    var testDescription: String { "\(reference.id) \(export.flavour)" }
    static let all = ArchitectureManifest.shared.cases.flatMap { c in
        ArchitectureManifest.flavours.map {
            ArchitectureCase(reference: c, export: ArchitectureExport(model: ArchitectureManifest.shared.model(c.family), flavour: $0))
        }
    }
}

@Suite struct ArchitectureParityTests {
    static func worst(_ ours: [Float], _ expected: Tensor) -> Float {
        zip(ours, expected.storage).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// Loads, and the forward pass agrees with onnxruntime within 1e-5 · max |output|.
    @Test(arguments: ArchitectureExport.all)
    func forwardMatchesOnnxruntime(_ export: ArchitectureExport) throws {
        let model = try export.loaded
        let samples = try export.samples
        let output = try model.plan(targets: ["output"]).forward(feeds: ["x": .float(samples)]).tensor("output")
        let expected = try ArchitectureManifest.tensor(export.model.models[export.flavour]!.ort_output)
        #expect(output.shape == expected.shape)
        let scale = max(expected.maxAbsolute, 1e-12)
        let worst = Self.worst(output.storage, expected)
        #expect(worst <= 1e-5 * scale, "max |ours − onnxruntime| = \(worst), max |onnxruntime| = \(scale)")
    }

    /// Each method at each layer within the case's tolerance (max(1e-4, float32 Captum's own error)) of the
    /// float64 reference, relative to max |reference|.
    @Test(arguments: ArchitectureCase.all)
    func methodMatchesFloat64Reference(_ c: ArchitectureCase) throws {
        let reference = c.reference
        let attributor = try c.export.attributor(
            layer: reference.layers[c.export.flavour]!, method: try #require(AttributionMethod(rawValue: reference.method)),
            steps: reference.steps, granularity: Granularity(rawValue: reference.granularity))
        let samples = try c.export.samples
        let result = try attributor.attribute(samples: samples, baselines: Tensor(zeros: samples.shape), targets: try c.export.targets)
        let expected = try ArchitectureManifest.tensor(reference.expected)
        #expect(result.attributions.count == expected.count)
        let scale = max(expected.maxAbsolute, 1e-12)
        let worst = Self.worst(result.attributions, expected)
        #expect(worst <= reference.tolerance * scale,
                "max |ours − reference| / max |reference| = \(worst / scale); tolerance \(reference.tolerance) (float32 Captum: \(reference.captum_f32_error))")
    }
}

/// One hidden layer of one export, for the DeepLIFT completeness check.
struct ArchitectureLayer: Sendable, CustomTestStringConvertible {
    var export: ArchitectureExport, name: String, tensor: String
    var testDescription: String { "\(export.model.family) \(name) \(export.flavour)" }
    static let all = ArchitectureExport.all.flatMap { e in
        e.model.layers.map { ArchitectureLayer(export: e, name: $0.torch_layer, tensor: $0.tensors[e.flavour]!) }
    }
}

/// DeepLIFT's summation to delta, Σ_j attribution_j = F(x) − F(x′), at every layer that is a cut of the graph.
@Suite struct DeepLiftCompletenessTests {
    /// Families whose every op after the hooked layers has an exact DeepLIFT rule: linear ops (Conv, Gemm,
    /// BatchNorm in inference, average pooling, reshapes, Add, Concat), the rescale rule on elementwise
    /// nonlinearities (Relu, Clip = ReLU6, HardSwish, HardSigmoid, Sigmoid), Captum's MaxPool rule, the SiLU unit
    /// and the product rule (squeeze-excitation gates). Completeness holds there to float32 rounding.
    static let complete: Set<String> = [
        "resnet", "resnext", "wide_resnet", "vgg", "squeezenet", "densenet", "shufflenet", "mnasnet", "mobilenet_v2",
        "mobilenet_v3", "efficientnet", "efficientnet_v2", "regnet",
    ]

    /// Through Softmax and LayerNorm (attention blocks: maxvit, albert) DeepLIFT takes the ordinary gradient,
    /// the DeepLIFT paper's and DeepSHAP's choice for non-elementwise ops, and completeness is only approximate:
    /// the error is of the order of |ΔF| itself (0.21–0.44 on maxvit, 3.6 on ALBERT's embedding projection,
    /// docs/methods.md). The bound catches a rule gone wrong (rescaling σ alone inside x·σ(x) gave 1e4 on
    /// efficientnet).
    static let approximateBound: Float = 5

    @Test(arguments: ArchitectureLayer.all)
    func sumOfAttributionsIsTheOutputDifference(_ c: ArchitectureLayer) throws {
        let attributor = try c.export.attributor(layer: c.tensor, method: .deeplift, granularity: .channel)
        guard attributor.layerIsCut else { return }  // an FFN activation beside a residual stream: no sum rule
        let samples = try c.export.samples, targets = try c.export.targets
        let baselines = Tensor(zeros: samples.shape)
        let result = try attributor.attribute(samples: samples, baselines: baselines, targets: targets)
        let plan = try c.export.loaded.plan(targets: ["output"])
        let outputs = try plan.forward(feeds: ["x": .float(samples)]).tensor("output")
        let references = try plan.forward(feeds: ["x": .float(baselines)]).tensor("output")
        let width = outputs.count / targets.count
        let difference = targets.indices.map { i in abs(outputs.storage[i * width + targets[i]] - references.storage[i * width + targets[i]]) }
        let delta = try #require(result.delta)
        let relative = delta.map(abs).max()! / max(difference.max()!, 1e-12)
        let bound = Self.complete.contains(c.export.model.family) ? 1e-3 : Self.approximateBound
        #expect(relative <= bound, "|Σ attribution − ΔF| / max |ΔF| = \(relative)")
    }
}
