import Autodiff
import Foundation
import TensorCore

/// `modscope bench engine`: forward + backward of a network (an MLP or resnet18's topology) through the graph
/// executor, against the machine's raw cblas_sgemm throughput measured in the same run.
///
/// FLOPs counted: 2·B·(multiply-accumulates of the Gemm/Conv nodes) per forward, the same again for the backward
/// to the input (weight gradients are not computed: attribution never needs them). Elementwise work (bias,
/// ReLU, BatchNorm, pooling) is not counted, so it shows as lost throughput.
public struct EngineBenchmark {
    /// The network measured.
    public enum Network: Sendable, Equatable {
        /// Gemm-Relu-…-Gemm with these layer sizes.
        case mlp([Int])
        /// torchvision's resnet18 topology on side×side RGB inputs (`BenchmarkNetwork.resnet18`).
        case resnet18(side: Int)
    }

    public var network: Network
    public var batch: Int
    public var repetitions: Int

    public init(network: Network = .mlp([784, 1024, 1024, 10]), batch: Int = 512, repetitions: Int = 20) {
        self.network = network
        self.batch = batch
        self.repetitions = repetitions
    }

    public init(layerSizes: [Int], batch: Int = 512, repetitions: Int = 20) {
        self.init(network: .mlp(layerSizes), batch: batch, repetitions: repetitions)
    }

    public struct Result: Sendable {
        public var sgemmGFLOPs: Double
        public var engineGFLOPs: Double
        public var secondsPerIteration: Double
        public var fraction: Double { engineGFLOPs / sgemmGFLOPs }
    }

    /// The graph with deterministic weights.
    func makeNetwork() -> BenchmarkNetwork {
        switch network {
        case .resnet18(let side): return .resnet18(side: side)
        case .mlp(let layerSizes):
            var b = NetworkBuilder(input: "x", shape: [layerSizes[0]])
            for layer in 1..<layerSizes.count {
                b.gemm(layerSizes[layer])
                if layer < layerSizes.count - 1 { b.relu() }
            }
            return b.graph(input: "x", sampleShape: [layerSizes[0]])
        }
    }

    /// Raw sgemm throughput: a 512 × 1024 × 1024 product (the MLP's largest), the machine's yardstick.
    func measureSgemm() -> Double {
        let m = 512, n = 1024, k = 1024
        let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: n * k)
        var c = [Float](repeating: 0, count: m * n)
        let flops = 2.0 * Double(m * n * k)
        for _ in 0..<2 { BLAS.gemm(transposeA: false, transposeB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n) }
        let start = DispatchTime.now()
        let count = 40
        for _ in 0..<count { BLAS.gemm(transposeA: false, transposeB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return flops * Double(count) / seconds / 1e9
    }

    public func run() throws -> Result {
        let net = makeNetwork()
        let plan = try ExecutionPlan(graph: net.graph, targets: [net.output])
        let perSample = net.sampleShape.reduce(1, *)
        let x = Tensor(shape: [batch] + net.sampleShape, storage: (0..<(batch * perSample)).map { Float($0 % 97) / 97 })
        let probe = try plan.forward(feeds: [net.input: .float(x.rows(0..<1))]).tensor(net.output)
        let width = probe.count
        var seed = Tensor(zeros: [batch] + probe.shape.dropFirst())
        for row in 0..<batch { seed.storage[row * width + row % width] = 1 }
        // Forward, then the backward to the input: the data gradient costs as much as the forward.
        let flops = 2.0 * 2.0 * Double(batch * net.macsPerSample)
        func iteration() throws {
            let execution = try plan.forward(feeds: [net.input: .float(x)])
            _ = try execution.gradients(seeds: [net.output: seed], withRespectTo: [net.input])
        }
        try iteration()
        let start = DispatchTime.now()
        for _ in 0..<repetitions { try iteration() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 / Double(repetitions)
        return Result(sgemmGFLOPs: measureSgemm(), engineGFLOPs: flops / seconds / 1e9, secondsPerIteration: seconds)
    }
}
