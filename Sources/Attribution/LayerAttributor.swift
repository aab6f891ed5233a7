import Autodiff
import TensorCore

/// Settings of one attribution run (the CLI flags).
public struct AttributionConfiguration: Sendable, Codable, Equatable {
    public var method: AttributionMethod
    /// Integration steps for conductance and integrated gradients (Captum's n_steps).
    public var steps: Int
    public var quadrature: Quadrature
    /// nil: `channel` for layers with spatial dimensions (C, H, W), `unit` otherwise.
    public var granularity: Granularity?
    /// DeepLIFT's threshold below which |Δin| counts as zero (Captum: 1e-10).
    public var deepLiftEpsilon: Float

    /// Accepted integration steps: the quadrature error reaches float32 rounding long before 100 000, and the
    /// path points of one block (steps × 64 samples × layer width) must stay allocatable.
    public static let stepRange = 1...100_000

    public init(
        method: AttributionMethod, steps: Int = 50, quadrature: Quadrature = .gaussLegendre,
        granularity: Granularity? = nil, deepLiftEpsilon: Float = 1e-10
    ) {
        self.method = method
        self.steps = steps
        self.quadrature = quadrature
        self.granularity = granularity
        self.deepLiftEpsilon = deepLiftEpsilon
    }
}

/// Computes layer attributions for blocks of samples: the numbers of Captum 0.9.0's layer methods.
///
/// A block is the unit of computation and of determinism: all matrix products of a block run in calls whose
/// shapes depend only on the block, so a sample's attribution row is the same bytes whatever batch size, thread
/// count or worker produced it (OpenBLAS results depend on the row count and position in a call; see
/// docs/methods.md). The attributor is immutable and safe to use from several threads at once.
public struct LayerAttributor: Sendable {
    public let graph: Graph
    /// The graph inputs a sample carries (one float input for image and tabular models).
    public let inputs: ModelInputs
    /// The float tensor where the straight path from baseline to input is taken (`--interpolate-at`): a float
    /// graph input, or an intermediate such as a word-embedding output. Every other input stays the sample's
    /// own at every point of the path.
    public let inputName: String
    public let layer: String
    public let output: String
    public let configuration: AttributionConfiguration
    /// Shape of a packed sample (`ModelInputs.packedShape`), of one sample at the interpolation tensor and at
    /// the layer, and the output width (units per sample).
    public let sampleShape: [Int]
    public let pathShape: [Int]
    public let layerShape: [Int]
    public let outputWidth: Int
    public let granularity: Granularity
    /// Columns of the attribution matrix.
    public let neuronCount: Int
    /// Matrix rows per sample: T for `token` granularity on a (T, D) layer, else 1.
    public let rowsPerSample: Int
    /// Bytes of float activations one sample takes in one forward pass (graph constants excluded), measured on
    /// the probe sample: sizes the chunks of path points (`pathPointsPerChunk`).
    let bytesPerPathPoint: Int

    /// Plans: the interpolation tensor from the graph inputs (nil when it is one); forward to output, layer
    /// and the affine frontier from the interpolation tensor; the path suffix fed at the frontier; the
    /// layer-fed plan for layer-space integration when the layer is a cut.
    let prefixPlan: ExecutionPlan?
    let endpointPlan: ExecutionPlan
    let frontier: String
    let suffixPlan: ExecutionPlan
    let layerFedPlan: ExecutionPlan?

    /// Whether every path from the interpolation tensor to the output passes through the layer, so that a
    /// complete method's attributions sum to F(x) − F(x′) (a residual stream bypasses an FFN activation: no
    /// cut there).
    public var layerIsCut: Bool { layerFedPlan != nil }

    /// Whether the output is affine in the layer (`Graph.hasAffineSuffix`) and the path methods use it:
    /// ∂F/∂layer is then the same at every α, so conductance telescopes to g ⊙ (y(α_n) − y(α_0)) (two
    /// evaluations of the suffix instead of steps + 1) and integrated gradients takes g from the endpoint pass
    /// (g ⊙ (y(x) − y(x′)) · Σ_k w_k). The numbers agree with the full sums to Float32 rounding.
    public let affineSuffix: Bool

    /// One float input `input` of per-sample shape `sampleShape`, interpolated at the input.
    public init(
        graph: Graph, input: String, layer: String, output: String, sampleShape: [Int],
        configuration: AttributionConfiguration, telescoping: Bool = true
    ) throws {
        try self.init(
            graph: graph, inputs: .single(input, shape: sampleShape), interpolateAt: input, layer: layer, output: output,
            configuration: configuration, telescoping: telescoping)
    }

    /// - Parameters:
    ///   - inputs: the graph inputs each sample carries, in packing order.
    ///   - interpolateAt: the float tensor the path methods interpolate (and DeepLIFT's reference point).
    ///   - telescoping: use the affine-suffix shortcut when the graph allows it (tests turn it off to compare
    ///     with the full sums).
    public init(
        graph: Graph, inputs: ModelInputs, interpolateAt: String, layer: String, output: String,
        configuration: AttributionConfiguration, telescoping: Bool = true
    ) throws {
        guard AttributionConfiguration.stepRange.contains(configuration.steps)
            || ![.conductance, .integratedGradients].contains(configuration.method)
        else {
            let range = AttributionConfiguration.stepRange
            throw AttributionError("--steps must be within \(range.lowerBound)...\(range.upperBound) (got \(configuration.steps))")
        }
        guard layer != interpolateAt else {
            throw AttributionError(
                "--layer '\(layer)' is where the path starts (the model input or --interpolate-at); choose a hidden layer after it (see `modscope inspect`)")
        }
        self.graph = graph
        self.inputs = inputs
        self.inputName = interpolateAt
        self.layer = layer
        self.output = output
        self.configuration = configuration
        self.sampleShape = inputs.packedShape
        try Self.checkPlacement(graph: graph, interpolateAt: interpolateAt, layer: layer, output: output)
        let frontier = graph.affineFrontier(input: interpolateAt, layer: layer, output: output)
        self.frontier = frontier
        affineSuffix = telescoping && graph.hasAffineSuffix(layer: layer, output: output)
        let isGraphInput = inputs.slot(named: interpolateAt) != nil
        do {
            prefixPlan = isGraphInput ? nil : try ExecutionPlan(graph: graph, targets: [interpolateAt])
            endpointPlan = try ExecutionPlan(
                graph: graph, targets: Array(Set([output, layer, frontier])), fed: isGraphInput ? [] : [interpolateAt])
            suffixPlan = try ExecutionPlan(graph: graph, targets: [output, layer], fed: [frontier])
            let fed = try ExecutionPlan(graph: graph, targets: [output], fed: [layer])
            layerFedPlan = fed.reads(interpolateAt) ? nil : fed
        } catch let error as GraphError {
            throw AttributionError(error.message)
        }
        // Shapes from one zero sample.
        let zero = inputs.feeds([Float](repeating: 0, count: inputs.elementsPerSample), rows: 1)
        let pathValue = try Self.pathValue(at: interpolateAt, feeds: zero, prefixPlan: prefixPlan)
        let probe = try endpointPlan.forward(feeds: zero.merging([interpolateAt: .float(pathValue)]) { $1 })
        let layerValue = try probe.tensor(layer), outputValue = try probe.tensor(output)
        // Every method differentiates the output with respect to the layer: refuse an op without a VJP now.
        do { try probe.checkGradientPath(seeds: [output], withRespectTo: [layer]) } catch let error as GraphError {
            throw AttributionError(error.message)
        }
        guard layerValue.rank >= 1, layerValue.shape[0] == 1, outputValue.shape.first == 1 else {
            throw AttributionError("--layer '\(layer)' has shape \(layerValue.shape) at batch 1; its first dimension must be the batch")
        }
        pathShape = Array(pathValue.shape.dropFirst())
        layerShape = Array(layerValue.shape.dropFirst())
        bytesPerPathPoint = probe.values.reduce(0) { total, entry in
            guard graph.constants[entry.key] == nil, case .float(let t) = entry.value else { return total }
            return total + t.count * MemoryLayout<Float>.size
        }
        outputWidth = outputValue.count
        let resolved = configuration.granularity ?? (layerShape.count >= 3 ? .channel : .unit)
        if resolved == .token && layerShape.count != 2 {
            throw AttributionError(
                "--granularity token needs a (T, D) sequence layer, but --layer '\(layer)' has shape \(layerShape) per sample; use unit or channel")
        }
        granularity = resolved
        switch resolved {
        case .channel: (neuronCount, rowsPerSample) = (NeuronLayout.channel(layerShape).kept, 1)
        case .token: (neuronCount, rowsPerSample) = (layerShape[1], layerShape[0])
        case .unit: (neuronCount, rowsPerSample) = (layerShape.reduce(1, *), 1)
        }
    }

    /// The layer must lie between the interpolation tensor and the output, and the interpolation tensor must
    /// be a float tensor of the graph.
    private static func checkPlacement(graph: Graph, interpolateAt: String, layer: String, output: String) throws {
        let towardOutput = Set(graph.ancestorNodes(of: [output]).flatMap { graph.nodes[$0].outputs })
        guard towardOutput.contains(layer) || layer == output else {
            throw AttributionError(
                "--layer '\(layer)' does not feed --output '\(output)', so it has no attribution for it; pick a layer between the input and the output (`modscope inspect` marks them with *)")
        }
        guard graph.descendants(of: [interpolateAt]).contains(layer) else {
            throw AttributionError(
                "--layer '\(layer)' does not depend on '\(interpolateAt)', where the path starts; pick a hidden layer after it, or another --interpolate-at")
        }
    }

    /// The interpolation tensor's value for the given graph feeds: the fed input itself, or the prefix plan's
    /// result (which must be a float tensor).
    static func pathValue(at name: String, feeds: [String: Value], prefixPlan: ExecutionPlan?) throws -> Tensor {
        let value: Value?
        if let prefixPlan {
            let execution: Execution
            do { execution = try prefixPlan.forward(feeds: feeds) } catch let error as GraphError {
                throw AttributionError(error.message)
            }
            value = execution.values[name]
        } else {
            value = feeds[name]
        }
        guard case .float(let tensor)? = value else {
            throw AttributionError(
                "--interpolate-at '\(name)' is not a float tensor (it holds integers); the path must start at a float tensor such as the embedding output (`modscope inspect` names it)")
        }
        return tensor
    }

    /// The interpolation tensor's value on `rows` packed samples: (rows, *pathShape).
    public func pathValues(packed: [Float], rows: Int) throws -> Tensor {
        try Self.pathValue(at: inputName, feeds: inputs.feeds(packed, rows: rows), prefixPlan: prefixPlan)
    }

    /// One line saying which shortcuts the path methods take (for `attribute`'s output and the run's log), or
    /// nil when none applies.
    public var evaluationNote: String? {
        let method = configuration.method
        guard [.conductance, .integratedGradients].contains(method) else { return nil }
        var parts: [String] = []
        if frontier != inputName { parts.append("the affine prefix up to '\(frontier)' is evaluated at 2 points") }
        if affineSuffix {
            parts.append(
                method == .conductance
                    ? "--output '\(output)' is affine in --layer '\(layer)', so conductance telescopes to g ⊙ (y(α_n) − y(α_0)): "
                        + "2 evaluations of the suffix instead of \(configuration.steps + 1)"
                    : "--output '\(output)' is affine in --layer '\(layer)', so its gradient is taken once, at the endpoints, "
                        + "instead of at \(configuration.steps) points")
        }
        return parts.isEmpty ? nil : "\(method.rawValue): " + parts.joined(separator: "; ")
    }

    /// Results for one block of samples.
    public struct BlockResult: Sendable {
        /// (B, neuronCount) row-major.
        public var attributions: [Float]
        /// Σ attribution − (F_t(x) − F_t(x′)) per sample, for methods with completeness.
        public var delta: [Float]?
        /// The explained unit per sample.
        public var targets: [Int]
    }

    /// Attributions of one block. `samples` is (B, *sampleShape): packed samples (`ModelInputs`); `baselines`
    /// is (B, *pathShape): the baseline's value at the interpolation tensor; `targets` gives one index per
    /// sample, or nil to explain the predicted unit (argmax of the output at the real input). The result has
    /// B · rowsPerSample rows of neuronCount values.
    public func attribute(samples x: Tensor, baselines xb: Tensor, targets requested: [Int]?) throws -> BlockResult {
        let b = x.shape[0]
        precondition(xb.shape == [b] + pathShape, "baselines must match the samples at the interpolation tensor")
        if let requested { precondition(requested.count == b) }
        let method = configuration.method
        let own = inputs.feeds(x.storage, rows: b)
        let px = try Self.pathValue(at: inputName, feeds: own, prefixPlan: prefixPlan)
        if [.gradient, .gradientTimesActivation, .guidedBackprop, .activation].contains(method) {
            let execution = try endpointPlan.forward(feeds: own.merging([inputName: .float(px)]) { $1 })
            let out = try execution.tensor(output)
            let targets = try requested ?? Self.argmax(out, rows: b)
            try check(targets)
            let a = try execution.tensor(layer)
            if method == .activation { return BlockResult(attributions: reduce(a, rows: b), delta: nil, targets: targets) }
            let seed = oneHot(targets, rows: b, tiles: 1, like: out)
            let rule: BackwardRule? = method == .guidedBackprop ? BackwardRules.guidedRelu : nil
            var g = try execution.gradients(seeds: [output: seed], withRespectTo: [layer], rule: rule)[layer]!
            if method == .gradientTimesActivation { g = g.zipMap(a, *) }
            return BlockResult(attributions: reduce(g, rows: b), delta: nil, targets: targets)
        }

        // Path methods and DeepLIFT start from one forward pass over [x; x′] (the other inputs: the sample's own).
        let context = PathContext(attributor: self, packed: x.storage, rows: b)
        let endpoints = try endpointPlan.forward(feeds: context.feeds(tiles: 2, [inputName: .float(Tensor.concatenateRows([px, xb]))]))
        let out = try endpoints.tensor(output)
        let targets = try requested ?? Self.argmax(out.rows(0..<b), rows: b)
        try check(targets)
        let both = try endpoints.tensor(layer)
        let (ax, ab) = (both.rows(0..<b), both.rows(b..<(2 * b)))
        var attribution: Tensor
        switch method {
        case .deeplift:
            let seed = oneHot(targets + targets, rows: 2 * b, tiles: 1, like: out)
            let m = try endpoints.gradients(
                seeds: [output: seed], withRespectTo: [layer], rule: BackwardRules.deepLift(epsilon: configuration.deepLiftEpsilon, graph: graph))[layer]!
            attribution = ax.zipMap(ab, -).zipMap(m.rows(0..<b), *)
        case .conductance:
            attribution = try conductance(endpoints: endpoints, context: context, targets: targets)
        case .integratedGradients:
            attribution = try integratedGradients(px: px, ax: ax, ab: ab, targets: targets, endpoints: endpoints, context: context)
        default:
            preconditionFailure("handled above")
        }
        let rows = reduce(attribution, rows: b)
        return BlockResult(attributions: rows, delta: completenessGap(rows, out: out, rows: b, targets: targets), targets: targets)
    }

    /// Σ attribution − (F_t(x) − F_t(x′)) per sample; `out` holds [x; x′]'s outputs.
    private func completenessGap(_ rows: [Float], out: Tensor, rows b: Int, targets: [Int]) -> [Float] {
        let perSample = rows.count / max(b, 1)
        var delta = [Float](repeating: 0, count: b)
        for i in 0..<b {
            var sum: Float = 0
            for j in 0..<perSample { sum += rows[i * perSample + j] }
            let t = targets[i]
            delta[i] = sum - (out.storage[i * outputWidth + t] - out.storage[(b + i) * outputWidth + t])
        }
        return delta
    }

    /// The block's own inputs, tiled for batches of several path points: every input but the interpolation
    /// tensor stays the sample's own at every point (Captum with `additional_forward_args`).
    struct PathContext {
        let attributor: LayerAttributor
        let packed: [Float]
        let rows: Int

        /// The block's graph inputs repeated `tiles` times step-major, with `extra` feeds on top.
        func feeds(tiles: Int, _ extra: [String: Value]) -> [String: Value] {
            let inputs = attributor.inputs
            // A lone float input interpolated directly is always replaced by the extra feed: skip copying it.
            if inputs.slots.count == 1 && inputs.slots[0].name == attributor.inputName { return extra }
            return inputs.feeds(packed, rows: rows, tiles: tiles).merging(extra) { $1 }
        }
    }

    /// (rows × tiles, *output) seed with 1 at each row's target unit; rows are step-major.
    func oneHot(_ targets: [Int], rows: Int, tiles: Int, like out: Tensor) -> Tensor {
        var seed = Tensor(zeros: out.shape)
        for tile in 0..<tiles {
            for i in 0..<rows { seed.storage[(tile * rows + i) * outputWidth + targets[i]] = 1 }
        }
        return seed
    }

    private func check(_ targets: [Int]) throws {
        if let bad = targets.first(where: { $0 < 0 || $0 >= outputWidth }) {
            throw AttributionError("target \(bad) is out of range: --output '\(output)' has \(outputWidth) units (0–\(outputWidth - 1))")
        }
    }

    static func argmax(_ out: Tensor, rows: Int) throws -> [Int] {
        let width = out.count / max(rows, 1)
        return (0..<rows).map { i in
            var best = 0
            for j in 1..<max(width, 1) where out.storage[i * width + j] > out.storage[i * width + best] { best = j }
            return best
        }
    }

    /// Flattens per-sample attributions to matrix rows; for `channel`, sums as `NeuronLayout.channel` says.
    private func reduce(_ t: Tensor, rows b: Int) -> [Float] {
        guard granularity == .channel, layerShape.count >= 2 else { return t.storage }  // token: unit's bytes
        return NeuronLayout.channel(layerShape).fold(t.storage, rows: b)
    }
}
