import ArrayFiles
import Attribution
import Autodiff
import Foundation
import ONNX
import TensorCore

/// What in the input drives a module: for each of the module's samples, gradient × (input − baseline) of the
/// summed activation of the module's neurons (Simonyan et al. 2014, "Deep Inside Convolutional Networks";
/// Shrikumar et al. 2016 for gradient × input), averaged over the samples. Positive values are input features
/// that raise the module's activation.
///
/// At channel granularity a neuron is a whole channel map, so its activation is the map's sum. With several
/// layers the module's activation is the sum over all its neurons in every layer (one seed per layer). The samples are
/// processed in fixed blocks of 64 in ascending order (bytes independent of anything but the inputs); at most
/// `maxSamples` evenly spaced samples per module are used. Gradients come from the same engine as attribution
/// (checked against PyTorch autograd within 1e-4, ReferenceParityTests).
struct ModuleInputAttribution {
    let spec: AttributionSpec
    let plan: ExecutionPlan
    let table: any SampleTable
    var maxSamples = 2000
    static let blockRows = 64

    init(spec: AttributionSpec, model: ONNXModel, table: any SampleTable) throws {
        self.spec = spec
        self.table = table
        plan = try model.plan(targets: spec.layerColumns.map(\.layer))
    }

    /// The mean attribution map of `neurons` over `samples` (length = elements per sample), or nil when either is
    /// empty.
    func meanMap(neurons: [Int], samples: [Int]) throws -> [Float]? {
        // Maps are drawn over one float input; a model with several (or integer) inputs has none.
        guard spec.inputs == nil, !neurons.isEmpty, !samples.isEmpty else { return nil }
        let perSample = spec.sampleShape.reduce(1, *)
        let rows = samples.count > maxSamples ? (0..<maxSamples).map { samples[$0 * samples.count / maxSamples] } : samples
        let baseline = spec.baseline ?? [Float](repeating: 0, count: perSample)
        var sum = [Double](repeating: 0, count: perSample)
        for start in stride(from: 0, to: rows.count, by: Self.blockRows) {
            let block = Array(rows[start..<min(start + Self.blockRows, rows.count)])
            let x = try block.flatMap { try table.floatRows($0..<($0 + 1)) }
            let input = Tensor(shape: [block.count] + spec.sampleShape, storage: x)
            let execution = try plan.forward(feeds: [spec.input: .float(input)])
            var seeds: [String: Tensor] = [:]
            for columns in spec.layerColumns {
                let local = neurons.filter { columns.range.contains($0) }.map { $0 - columns.start }
                guard !local.isEmpty else { continue }
                let layer = try execution.tensor(columns.layer)
                let perRow = layer.count / max(block.count, 1)
                let layerShape = Array(layer.shape.dropFirst())
                guard let layout = NeuronLayout.matching(columns: columns.count, layerShape: layerShape), layout.count == perRow else {
                    throw AttributionError("layer '\(columns.layer)' has \(columns.count) columns in the matrix, neither a column per unit nor per channel of its shape \(layerShape)")
                }
                var seed = [Float](repeating: 0, count: layer.count)
                layout.replace(local, in: &seed, rows: block.count, from: [Float](repeating: 1, count: perRow))
                seeds[columns.layer] = Tensor(shape: layer.shape, storage: seed)
            }
            let gradients = try execution.gradients(seeds: seeds, withRespectTo: [spec.input])
            guard let g = gradients[spec.input] else { continue }  // the layer does not depend on the input
            for r in 0..<block.count {
                for j in 0..<perSample {
                    sum[j] += Double(g.storage[r * perSample + j]) * Double(x[r * perSample + j] - baseline[j])
                }
            }
        }
        return sum.map { Float($0 / Double(rows.count)) }
    }
}
