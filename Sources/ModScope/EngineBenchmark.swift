import Autodiff
import Foundation
import TensorCore

/// `modscope bench engine`: forward + backward of an MLP through the graph executor, against the machine's
/// raw cblas_sgemm throughput measured in the same run.
///
/// FLOPs counted: 2·B·Σ(in·out) per forward, the same again for the backward to the input (weight gradients are
/// not computed: attribution never needs them).
public struct EngineBenchmark {
    public var layerSizes: [Int]
    public var batch: Int
    public var repetitions: Int

    public init(layerSizes: [Int] = [784, 1024, 1024, 10], batch: Int = 512, repetitions: Int = 20) {
        self.layerSizes = layerSizes
        self.batch = batch
        self.repetitions = repetitions
    }

    public struct Result: Sendable {
        public var sgemmGFLOPs: Double
        public var engineGFLOPs: Double
        public var secondsPerIteration: Double
        public var fraction: Double { engineGFLOPs / sgemmGFLOPs }
    }

    /// A Gemm-Relu-…-Gemm graph with deterministic weights.
    func makeGraph() -> Graph {
        var nodes: [Graph.Node] = []
        var constants: [String: Value] = [:]
        var previous = "x"
        var generator = UInt64(12345)
        func next() -> Float {
            generator = generator &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: generator >> 11) % 2000) / 1000 - 1
        }
        for layer in 0..<(layerSizes.count - 1) {
            let (inputs, outputs) = (layerSizes[layer], layerSizes[layer + 1])
            let scale = 1 / Float(inputs).squareRoot()
            constants["w\(layer)"] = .float(Tensor(shape: [outputs, inputs], storage: (0..<(inputs * outputs)).map { _ in next() * scale }))
            constants["b\(layer)"] = .float(Tensor(shape: [outputs], storage: (0..<outputs).map { _ in next() * 0.1 }))
            nodes.append(Graph.Node(
                name: "fc\(layer)", opType: "Gemm", opsetVersion: 20, inputs: [previous, "w\(layer)", "b\(layer)"],
                outputs: ["fc\(layer)"], op: GemmOperator(transposeB: true)))
            previous = "fc\(layer)"
            if layer < layerSizes.count - 2 {
                nodes.append(Graph.Node(
                    name: "relu\(layer)", opType: "Relu", opsetVersion: 20, inputs: [previous], outputs: ["relu\(layer)"],
                    op: ActivationOperator(.relu)))
                previous = "relu\(layer)"
            }
        }
        return Graph(
            nodes: nodes, inputs: [Graph.Input(name: "x", dimensions: [nil, layerSizes[0]])], outputs: [previous],
            constants: constants, floatOutputs: [previous])
    }

    /// Raw sgemm throughput at the shape of the largest layer product.
    func measureSgemm() -> Double {
        let m = batch, n = layerSizes.max()!, k = layerSizes.max()!
        let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: n * k)
        var c = [Float](repeating: 0, count: m * n)
        let flops = 2.0 * Double(m * n * k)
        for _ in 0..<2 { BLAS.gemm(transposeA: false, transposeB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n) }
        let start = DispatchTime.now()
        let count = repetitions * 2
        for _ in 0..<count { BLAS.gemm(transposeA: false, transposeB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return flops * Double(count) / seconds / 1e9
    }

    public func run() throws -> Result {
        let graph = makeGraph()
        let output = graph.outputs[0]
        let plan = try ExecutionPlan(graph: graph, targets: [output])
        let x = Tensor(shape: [batch, layerSizes[0]], storage: (0..<(batch * layerSizes[0])).map { Float($0 % 97) / 97 })
        var seed = Tensor(zeros: [batch, layerSizes.last!])
        for row in 0..<batch { seed.storage[row * layerSizes.last! + row % layerSizes.last!] = 1 }
        var macs = 0
        for layer in 0..<(layerSizes.count - 1) { macs += layerSizes[layer] * layerSizes[layer + 1] }
        let flops = 2.0 * 2.0 * Double(batch * macs)
        func iteration() throws {
            let execution = try plan.forward(feeds: ["x": .float(x)])
            _ = try execution.gradients(seeds: [output: seed], withRespectTo: ["x"])
        }
        try iteration()
        let start = DispatchTime.now()
        for _ in 0..<repetitions { try iteration() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 / Double(repetitions)
        return Result(sgemmGFLOPs: measureSgemm(), engineGFLOPs: flops / seconds / 1e9, secondsPerIteration: seconds)
    }
}
