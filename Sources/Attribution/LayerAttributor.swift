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
    public let inputName: String
    public let layer: String
    public let output: String
    public let configuration: AttributionConfiguration
    /// Shape of one sample at the input, at the layer, and the output width (units per sample).
    public let sampleShape: [Int]
    public let layerShape: [Int]
    public let outputWidth: Int
    public let granularity: Granularity
    /// Columns of the attribution matrix.
    public let neuronCount: Int

    /// Plans: forward to output, layer and the affine frontier; the path suffix fed at the frontier; the
    /// layer-fed plan for layer-space integration when the layer is a cut.
    let endpointPlan: ExecutionPlan
    let frontier: String
    let suffixPlan: ExecutionPlan
    let layerFedPlan: ExecutionPlan?

    /// Whether every path from the input to the output passes through the layer, so that a complete method's
    /// attributions sum to F(x) − F(x′) (a residual stream bypasses an FFN activation: no cut there).
    public var layerIsCut: Bool { layerFedPlan != nil }

    /// Whether the output is affine in the layer (`Graph.hasAffineSuffix`) and the path methods use it:
    /// ∂F/∂layer is then the same at every α, so conductance telescopes to g ⊙ (y(α_n) − y(α_0)) (two
    /// evaluations of the suffix instead of steps + 1) and integrated gradients takes g from the endpoint pass
    /// (g ⊙ (y(x) − y(x′)) · Σ_k w_k). The numbers agree with the full sums to Float32 rounding.
    public let affineSuffix: Bool

    /// - Parameter telescoping: use the affine-suffix shortcut when the graph allows it (tests turn it off to
    ///   compare with the full sums).
    public init(
        graph: Graph, input: String, layer: String, output: String, sampleShape: [Int],
        configuration: AttributionConfiguration, telescoping: Bool = true
    ) throws {
        guard AttributionConfiguration.stepRange.contains(configuration.steps)
            || ![.conductance, .integratedGradients].contains(configuration.method)
        else {
            let range = AttributionConfiguration.stepRange
            throw AttributionError("--steps must be within \(range.lowerBound)...\(range.upperBound) (got \(configuration.steps))")
        }
        guard layer != input else {
            throw AttributionError("--layer '\(layer)' is the model input; choose a hidden layer (see `modscope inspect`)")
        }
        self.graph = graph
        self.inputName = input
        self.layer = layer
        self.output = output
        self.configuration = configuration
        self.sampleShape = sampleShape

        // The layer must lie on the path from the input to the output.
        let fromInput = graph.descendants(of: [input])
        let towardOutput = Set(graph.ancestorNodes(of: [output]).flatMap { graph.nodes[$0].outputs })
        guard towardOutput.contains(layer) || layer == output else {
            throw AttributionError(
                "--layer '\(layer)' does not feed --output '\(output)', so it has no attribution for it; pick a layer between the input and the output (`modscope inspect` marks them with *)")
        }
        guard fromInput.contains(layer) else {
            throw AttributionError("--layer '\(layer)' does not depend on the model input '\(input)'; pick a hidden layer")
        }
        let frontier = graph.affineFrontier(input: input, layer: layer, output: output)
        self.frontier = frontier
        affineSuffix = telescoping && graph.hasAffineSuffix(layer: layer, output: output)
        do {
            endpointPlan = try ExecutionPlan(graph: graph, targets: Array(Set([output, layer, frontier])))
            suffixPlan = try ExecutionPlan(graph: graph, targets: [output, layer], fed: [frontier])
            let fed = try ExecutionPlan(graph: graph, targets: [output], fed: [layer])
            layerFedPlan = fed.reads(input) ? nil : fed
        } catch let error as GraphError {
            throw AttributionError(error.message)
        }
        // Shapes from one zero sample.
        let probe = try endpointPlan.forward(feeds: [input: .float(Tensor(zeros: [1] + sampleShape))])
        let layerValue = try probe.tensor(layer), outputValue = try probe.tensor(output)
        // Every method differentiates the output with respect to the layer: refuse an op without a VJP now.
        do { try probe.checkGradientPath(seeds: [output], withRespectTo: [layer]) } catch let error as GraphError {
            throw AttributionError(error.message)
        }
        guard layerValue.rank >= 1, layerValue.shape[0] == 1, outputValue.shape.first == 1 else {
            throw AttributionError("--layer '\(layer)' has shape \(layerValue.shape) at batch 1; its first dimension must be the batch")
        }
        layerShape = Array(layerValue.shape.dropFirst())
        outputWidth = outputValue.count
        let resolved = configuration.granularity ?? (layerShape.count >= 3 ? .channel : .unit)
        granularity = resolved
        neuronCount = resolved == .channel ? NeuronLayout.channel(layerShape).kept : layerShape.reduce(1, *)
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

    /// Attributions of one block. `samples` and `baselines` are (B, *sampleShape); `targets` gives one index per
    /// sample, or nil to explain the predicted unit (argmax of the output at the real input).
    public func attribute(samples x: Tensor, baselines xb: Tensor, targets requested: [Int]?) throws -> BlockResult {
        let b = x.shape[0]
        precondition(xb.shape == x.shape, "baselines must match the samples")
        if let requested { precondition(requested.count == b) }
        let method = configuration.method
        if [.gradient, .gradientTimesActivation, .guidedBackprop, .activation].contains(method) {
            let execution = try endpointPlan.forward(feeds: [inputName: .float(x)])
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

        // Path methods and DeepLIFT start from one forward pass over [x; x′].
        let endpoints = try endpointPlan.forward(feeds: [inputName: .float(Tensor.concatenateRows([x, xb]))])
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
            attribution = try conductance(endpoints: endpoints, rows: b, targets: targets)
        case .integratedGradients:
            attribution = try integratedGradients(x: x, ax: ax, ab: ab, targets: targets, endpoints: endpoints)
        default:
            preconditionFailure("handled above")
        }
        let rows = reduce(attribution, rows: b)
        let columns = rows.count / max(b, 1)
        var delta = [Float](repeating: 0, count: b)
        for i in 0..<b {
            var sum: Float = 0
            for j in 0..<columns { sum += rows[i * columns + j] }
            let t = targets[i]
            delta[i] = sum - (out.storage[i * outputWidth + t] - out.storage[(b + i) * outputWidth + t])
        }
        return BlockResult(attributions: rows, delta: delta, targets: targets)
    }

    /// The frontier's values at each α, step-major rows k·B + i, in Captum's interpolation order:
    /// baseline + α·(input − baseline), in Float32.
    private func frontierPath(_ endpoints: Execution, rows b: Int, alphas: [Float]) throws -> Tensor {
        let ends = try endpoints.tensor(frontier)
        let (fx, fb) = (ends.rows(0..<b), ends.rows(b..<(2 * b)))
        let difference = fx.zipMap(fb, -)
        return Tensor.concatenateRows(alphas.map { alpha in fb.zipMap(difference) { $0 + alpha * $1 } })
    }

    /// LayerConductance: m = steps + 1 points, step-major rows k·B + i; Σ_{k<m−1} G_k ⊙ (A_{k+1} − A_k), or,
    /// with an affine suffix, G ⊙ (A_{m−1} − A_0) from the suffix at the two end points only.
    private func conductance(endpoints: Execution, rows b: Int, targets: [Int]) throws -> Tensor {
        let m = configuration.steps + 1
        let allAlphas = configuration.quadrature.points(m).alphas.map { Float($0) }
        let alphas = affineSuffix ? [allAlphas[0], allAlphas[m - 1]] : allAlphas
        let path = try frontierPath(endpoints, rows: b, alphas: alphas)
        let execution = try suffixPlan.forward(feeds: [frontier: .float(path)])
        let out = try execution.tensor(output)
        // With an affine suffix the gradient is the same at both points: seed the first only.
        let seed = oneHot(targets, rows: b, tiles: affineSuffix ? 1 : m, like: out)
        let g = try execution.gradients(seeds: [output: seed], withRespectTo: [layer])[layer]!
        let a = try execution.tensor(layer)
        let blockSize = a.count / alphas.count
        var result = [Float](repeating: 0, count: blockSize)
        a.storage.withUnsafeBufferPointer { av in
            g.storage.withUnsafeBufferPointer { gv in
                result.withUnsafeMutableBufferPointer { sum in
                    if affineSuffix {
                        for j in 0..<blockSize { sum[j] = gv[j] * (av[blockSize &+ j] - av[j]) }
                        return
                    }
                    for k in 0..<(m - 1) {
                        let base = k * blockSize
                        let next = base &+ blockSize
                        for j in 0..<blockSize { sum[j] += gv[base &+ j] * (av[next &+ j] - av[base &+ j]) }
                    }
                }
            }
        }
        return Tensor(shape: [b] + layerShape, storage: result)
    }

    /// LayerIntegratedGradients: S_k = a(x′) + α_k(a(x) − a(x′)) for the quadrature's `steps` points;
    /// (a(x) − a(x′)) ⊙ Σ_k w_k G_k with the weights rounded to Float32 as Captum does.
    /// With an affine suffix every G_k is the gradient at the endpoint pass's real input, so no path is run.
    private func integratedGradients(
        x: Tensor, ax: Tensor, ab: Tensor, targets: [Int], endpoints: Execution
    ) throws -> Tensor {
        let n = configuration.steps
        let (alphas, weights) = configuration.quadrature.points(n)
        let difference = ax.zipMap(ab, -)
        if affineSuffix {
            let seed = oneHot(targets, rows: ax.shape[0], tiles: 1, like: try endpoints.tensor(output))
            let g = try endpoints.gradients(seeds: [output: seed], withRespectTo: [layer])[layer]!.rows(0..<ax.shape[0])
            let weightSum = weights.reduce(Float(0)) { $0 + Float($1) }
            return g.map { $0 * weightSum }.zipMap(difference, *)
        }
        let path = Tensor.concatenateRows(alphas.map { alpha in ab.zipMap(difference) { $0 + Float(alpha) * $1 } })
        let execution: Execution
        if let layerFedPlan {
            execution = try layerFedPlan.forward(feeds: [layer: .float(path)])
        } else {
            // Tensors that bypass the layer still see the real input (Captum's behaviour).
            let tiled = Tensor.concatenateRows([Tensor](repeating: x, count: n))
            let replacement: TensorReplacement = { _ in path }
            execution = try endpointPlan.forward(feeds: [inputName: .float(tiled)], replacing: [layer: replacement])
        }
        let out = try execution.tensor(output)
        let seed = oneHot(targets, rows: ax.shape[0], tiles: n, like: out)
        let g = try execution.gradients(seeds: [output: seed], withRespectTo: [layer])[layer]!
        let blockSize = ax.count
        var total = [Float](repeating: 0, count: blockSize)
        for k in 0..<n {
            let w = Float(weights[k])
            for j in 0..<blockSize { total[j] += g.storage[k * blockSize + j] * w }
        }
        return Tensor(shape: ax.shape, storage: total).zipMap(difference, *)
    }

    /// (rows × tiles, *output) seed with 1 at each row's target unit; rows are step-major.
    private func oneHot(_ targets: [Int], rows: Int, tiles: Int, like out: Tensor) -> Tensor {
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
        guard granularity == .channel, layerShape.count >= 2 else { return t.storage }
        return NeuronLayout.channel(layerShape).fold(t.storage, rows: b)
    }
}
