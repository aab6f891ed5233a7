import Autodiff
import TensorCore

/// Conductance and integrated gradients: the path points of a block, evaluated in chunks of whole points.
///
/// A block of B samples has steps + 1 (conductance) or steps (integrated gradients) path points, each a batch
/// of B rows. Evaluating all of them at once keeps every saved activation of (points · B) rows alive: 2 GB per
/// block for a 4-layer BERT at 32 tokens, tens of GB for BERT-base at 128. The points are therefore run in
/// chunks of `pathPointsPerChunk(rows:total:)` points (all of them for small models), and the sums below run
/// over k in the same order as over one batch. The chunk size depends only on the model, the sample shapes and
/// the block's row count, so results stay byte-identical whatever the threads, batch size or workers.
extension LayerAttributor {
    /// Activations of one chunk of path points, forward pass (the backward takes about as much again): the
    /// working set of a block stays at a few hundred MB, which glibc keeps and reuses instead of page-faulting
    /// fresh memory for every operator call.
    static let pathChunkBytes = 128 << 20

    /// Path points per chunk for a block of `rows` samples: as many as fit `pathChunkBytes`, at least one.
    func pathPointsPerChunk(rows: Int, total: Int) -> Int {
        max(1, min(total, Self.pathChunkBytes / max(1, rows * bytesPerPathPoint)))
    }

    /// The frontier's values at each α, step-major rows k·B + i, in Captum's interpolation order:
    /// baseline + α·(input − baseline), in Float32.
    func frontierPath(_ endpoints: Execution, rows b: Int, alphas: ArraySlice<Float>) throws -> Tensor {
        let ends = try endpoints.tensor(frontier)
        let (fx, fb) = (ends.rows(0..<b), ends.rows(b..<(2 * b)))
        let difference = fx.zipMap(fb, -)
        return Tensor.concatenateRows(alphas.map { alpha in fb.zipMap(difference) { $0 + alpha * $1 } })
    }

    /// LayerConductance: m = steps + 1 points, step-major rows k·B + i; Σ_{k<m−1} G_k ⊙ (A_{k+1} − A_k), or,
    /// with an affine suffix, G ⊙ (A_{m−1} − A_0) from the suffix at the two end points only. A chunk's last
    /// point pairs with the next chunk's first: its G and A are carried over.
    func conductance(endpoints: Execution, context: PathContext, targets: [Int]) throws -> Tensor {
        let b = context.rows
        let m = configuration.steps + 1
        let allAlphas = configuration.quadrature.points(m).alphas.map { Float($0) }
        if affineSuffix { return try telescopedConductance(endpoints: endpoints, context: context, targets: targets, alphas: [allAlphas[0], allAlphas[m - 1]]) }
        let chunk = pathPointsPerChunk(rows: b, total: m)
        let blockSize = b * layerShape.reduce(1, *)
        var sum = [Float](repeating: 0, count: blockSize)
        var carried: (g: [Float], a: [Float])?
        for start in stride(from: 0, to: m, by: chunk) {
            let alphas = allAlphas[start..<min(start + chunk, m)]
            let path = try frontierPath(endpoints, rows: b, alphas: alphas)
            let execution = try suffixPlan.forward(feeds: context.feeds(tiles: alphas.count, [frontier: .float(path)]))
            let seed = oneHot(targets, rows: b, tiles: alphas.count, like: try execution.tensor(output))
            let g = try execution.gradients(seeds: [output: seed], withRespectTo: [layer])[layer]!.storage
            let a = try execution.tensor(layer).storage
            sum.withUnsafeMutableBufferPointer { sum in
                if let carried {
                    for j in 0..<blockSize { sum[j] += carried.g[j] * (a[j] - carried.a[j]) }
                }
                for k in 0..<(alphas.count - 1) {
                    let base = k * blockSize, next = (k + 1) * blockSize
                    for j in 0..<blockSize { sum[j] += g[base &+ j] * (a[next &+ j] - a[base &+ j]) }
                }
            }
            let last = (alphas.count - 1) * blockSize
            carried = (Array(g[last..<(last + blockSize)]), Array(a[last..<(last + blockSize)]))
        }
        return Tensor(shape: [b] + layerShape, storage: sum)
    }

    /// The affine-suffix case: the suffix at the two end points, the gradient (the same at both) seeded once.
    private func telescopedConductance(endpoints: Execution, context: PathContext, targets: [Int], alphas: [Float]) throws -> Tensor {
        let b = context.rows
        let path = try frontierPath(endpoints, rows: b, alphas: alphas[...])
        let execution = try suffixPlan.forward(feeds: context.feeds(tiles: 2, [frontier: .float(path)]))
        let seed = oneHot(targets, rows: b, tiles: 1, like: try execution.tensor(output))
        let g = try execution.gradients(seeds: [output: seed], withRespectTo: [layer])[layer]!.storage
        let a = try execution.tensor(layer).storage
        let blockSize = a.count / 2
        var result = [Float](repeating: 0, count: blockSize)
        for j in 0..<blockSize { result[j] = g[j] * (a[blockSize &+ j] - a[j]) }
        return Tensor(shape: [b] + layerShape, storage: result)
    }

    /// LayerIntegratedGradients: S_k = a(x′) + α_k(a(x) − a(x′)) for the quadrature's `steps` points;
    /// (a(x) − a(x′)) ⊙ Σ_k w_k G_k with the weights rounded to Float32 as Captum does.
    /// With an affine suffix every G_k is the gradient at the endpoint pass's real input, so no path is run.
    func integratedGradients(
        px: Tensor, ax: Tensor, ab: Tensor, targets: [Int], endpoints: Execution, context: PathContext
    ) throws -> Tensor {
        let n = configuration.steps
        let (alphas, weights) = configuration.quadrature.points(n)
        let difference = ax.zipMap(ab, -)
        let b = ax.shape[0]
        if affineSuffix {
            let seed = oneHot(targets, rows: b, tiles: 1, like: try endpoints.tensor(output))
            let g = try endpoints.gradients(seeds: [output: seed], withRespectTo: [layer])[layer]!.rows(0..<b)
            let weightSum = weights.reduce(Float(0)) { $0 + Float($1) }
            return g.map { $0 * weightSum }.zipMap(difference, *)
        }
        let chunk = pathPointsPerChunk(rows: b, total: n)
        let blockSize = ax.count
        var total = [Float](repeating: 0, count: blockSize)
        for start in stride(from: 0, to: n, by: chunk) {
            let points = start..<min(start + chunk, n)
            let path = Tensor.concatenateRows(points.map { k in ab.zipMap(difference) { $0 + Float(alphas[k]) * $1 } })
            let execution: Execution
            if let layerFedPlan {
                execution = try layerFedPlan.forward(feeds: context.feeds(tiles: points.count, [layer: .float(path)]))
            } else {
                // Tensors that bypass the layer still see the real input (Captum's behaviour).
                let tiled = Tensor.concatenateRows([Tensor](repeating: px, count: points.count))
                let replacement: TensorReplacement = { _ in path }
                execution = try endpointPlan.forward(
                    feeds: context.feeds(tiles: points.count, [inputName: .float(tiled)]), replacing: [layer: replacement])
            }
            let seed = oneHot(targets, rows: b, tiles: points.count, like: try execution.tensor(output))
            let g = try execution.gradients(seeds: [output: seed], withRespectTo: [layer])[layer]!.storage
            for (local, k) in points.enumerated() {
                let w = Float(weights[k])
                for j in 0..<blockSize { total[j] += g[local * blockSize + j] * w }
            }
        }
        return Tensor(shape: ax.shape, storage: total).zipMap(difference, *)
    }
}

extension LayerAttributor {
    /// A generous estimate of one block's working memory before any block has run: the activations of its
    /// largest batch of rows (a chunk of path points, [x; x′] for DeepLIFT, the block itself otherwise) three
    /// times over (forward values, gradients, temporaries), plus the block's per-layer sums. `attribute` uses
    /// it only to decide whether the memory calibration may run several blocks at once.
    public func estimatedBlockBytes(rows b: Int) -> Int {
        let points: Int
        switch configuration.method {
        case .conductance, .integratedGradients:
            let total = configuration.method.rowsPerSample(steps: configuration.steps)
            points = affineSuffix ? 2 : pathPointsPerChunk(rows: b, total: total)
        default:
            points = configuration.method.rowsPerSample(steps: configuration.steps)
        }
        let layerBytes = b * layerShape.reduce(1, *) * MemoryLayout<Float>.size
        return 3 * points * b * bytesPerPathPoint + 4 * layerBytes
    }
}
