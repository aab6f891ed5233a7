import ArrayFiles
import Foundation
import Testing
import TensorCore
@testable import Attribution
@testable import ONNX

/// The affine-suffix shortcut (conductance telescoped to two evaluations, integrated gradients from the endpoint
/// gradient) against the full sums over every step, on the fixture MLP (Gemm-ReLU-Gemm-ReLU-Gemm, 64 inputs, 10 outputs).
@Suite struct TelescopingTests {
    /// Float32 rounding of a 51-term sum of products of values of order one, relative to the largest value:
    /// the two forms must agree far inside the 1e-4 Captum tolerance.
    static let relativeTolerance: Float = 1e-5

    static func attributors(
        layer: String, method: AttributionMethod, quadrature: Quadrature = .gaussLegendre
    ) throws -> (shortcut: LayerAttributor, full: LayerAttributor) {
        let model = try ONNXModel.load(path: CaptumCase.path("models/mlp_dynamo.onnx"))
        let configuration = AttributionConfiguration(method: method, steps: 50, quadrature: quadrature)
        func make(_ telescoping: Bool) throws -> LayerAttributor {
            try LayerAttributor(
                graph: model.graph, input: "x", layer: layer, output: "output", sampleShape: [64],
                configuration: configuration, telescoping: telescoping)
        }
        return (try make(true), try make(false))
    }

    static func samples() throws -> (Tensor, [Int]) {
        (try CaptumCase.tensor("data/mlp_input.npy"), try NPYReader(path: CaptumCase.path("data/mlp_target.npy")).integerValues())
    }

    @Test(arguments: [
        (AttributionMethod.conductance, Quadrature.gaussLegendre), (.conductance, .riemannTrapezoid),
        (.conductance, .riemannRight), (.integratedGradients, .gaussLegendre),
    ])
    func shortcutMatchesTheFullSum(method: AttributionMethod, quadrature: Quadrature) throws {
        let (shortcut, full) = try Self.attributors(layer: "relu_1", method: method, quadrature: quadrature)
        #expect(shortcut.affineSuffix)
        #expect(!full.affineSuffix)
        let (x, targets) = try Self.samples()
        // A non-zero baseline too: the telescoped end points are α_0 and α_n, not x′ and x.
        let baselines = [Tensor(zeros: x.shape), x.map { 0.5 * $0 - 0.25 }]
        for xb in baselines {
            let a = try shortcut.attribute(samples: x, baselines: xb, targets: targets)
            let b = try full.attribute(samples: x, baselines: xb, targets: targets)
            #expect(a.attributions.count == b.attributions.count)
            let scale = b.attributions.map(abs).max() ?? 0
            #expect(scale > 0)
            let worst = zip(a.attributions, b.attributions).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= Self.relativeTolerance * scale, "max |telescoped − full| = \(worst), scale \(scale)")
            #expect(a.targets == b.targets)
        }
    }

    @Test func nonAffineSuffixKeepsTheFullSum() throws {
        let (shortcut, _) = try Self.attributors(layer: "linear", method: .conductance)
        #expect(!shortcut.affineSuffix, "two ReLUs lie between fc1 and the output")
        #expect(shortcut.evaluationNote?.contains("telescopes") != true)
    }

    @Test func evaluationNoteSaysWhatIsSkipped() throws {
        let (shortcut, full) = try Self.attributors(layer: "relu_1", method: .conductance)
        let note = try #require(shortcut.evaluationNote)
        #expect(note.contains("telescopes") && note.contains("instead of 51"), "\(note)")
        #expect(full.evaluationNote?.contains("telescopes") != true)
        #expect(try Self.attributors(layer: "relu_1", method: .deeplift).shortcut.evaluationNote == nil)
    }
}
