import Autodiff
import TensorCore

/// Graphs for `modscope bench`, built in code with deterministic weights (no model files needed), with the
/// multiply-accumulate count of one sample's forward pass for the GFLOP/s figures.
struct BenchmarkNetwork {
    var graph: Graph
    var input: String
    var output: String
    /// Shape of one sample.
    var sampleShape: [Int]
    /// Multiply-accumulates of one sample's forward pass through the Conv/Gemm/MatMul nodes.
    var macsPerSample: Int
}

/// Appends nodes to a graph under construction and counts its multiply-accumulates.
struct NetworkBuilder {
    private(set) var nodes: [Graph.Node] = []
    private(set) var constants: [String: Value] = [:]
    private(set) var macs = 0
    private var generator = UInt64(12345)
    /// Shape (C, H, W) or (features) of the last tensor, per sample.
    var shape: [Int]
    var current: String

    init(input: String, shape: [Int]) {
        current = input
        self.shape = shape
    }

    /// A uniform value in [−1, 1) from a 64-bit LCG: the same weights on every machine.
    mutating func random() -> Float {
        generator = generator &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: generator >> 11) % 2000) / 1000 - 1
    }

    mutating func constant(_ shape: [Int], scale: Float) -> String {
        let name = "c\(constants.count)"
        let count = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count { values[i] = random() * scale }
        constants[name] = .float(Tensor(shape: shape, storage: values))
        return name
    }

    @discardableResult
    mutating func add(_ opType: String, _ inputs: [String], _ op: any Operator) -> String {
        let name = "\(opType.lowercased())\(nodes.count)"
        nodes.append(Graph.Node(name: name, opType: opType, opsetVersion: 17, inputs: inputs, outputs: [name], op: op))
        current = name
        return name
    }

    /// Conv with He-scaled weights and a bias; updates `shape` and the MAC count.
    mutating func conv(_ outChannels: Int, kernel: Int, stride: Int, pad: Int) {
        let (c, h, w) = (shape[0], shape[1], shape[2])
        let weight = constant([outChannels, c, kernel, kernel], scale: (2 / Float(c * kernel * kernel)).squareRoot())
        let bias = constant([outChannels], scale: 0.05)
        let attributes = SpatialAttributes(
            kernel: nil, strides: (stride, stride), dilations: (1, 1), pads: (pad, pad, pad, pad), autoPad: .notSet)
        add("Conv", [current, weight, bias], ConvOperator(attributes: attributes, groups: 1))
        let (oh, ow) = ((h + 2 * pad - kernel) / stride + 1, (w + 2 * pad - kernel) / stride + 1)
        macs += outChannels * oh * ow * c * kernel * kernel
        shape = [outChannels, oh, ow]
    }

    /// Inference-mode BatchNormalization with scale near 1 and small shifts.
    mutating func batchNorm() {
        let c = shape[0]
        let names = (0..<4).map { index -> String in
            let name = constant([c], scale: 0.1)
            if index == 0 || index == 3, case .float(let t) = constants[name]! {
                constants[name] = .float(t.map { 1 + $0 })  // scale and variance stay positive
            }
            return name
        }
        add("BatchNormalization", [current] + names, BatchNormalizationOperator())
    }

    mutating func relu() { add("Relu", [current], ActivationOperator(.relu)) }

    mutating func gemm(_ outputs: Int) {
        let inputs = shape.reduce(1, *)
        let weight = constant([outputs, inputs], scale: 1 / Float(inputs).squareRoot())
        add("Gemm", [current, weight, constant([outputs], scale: 0.1)], GemmOperator(transposeB: true))
        macs += inputs * outputs
        shape = [outputs]
    }

    func graph(input: String, sampleShape: [Int]) -> BenchmarkNetwork {
        let graph = Graph(
            nodes: nodes, inputs: [Graph.Input(name: input, dimensions: [nil] + sampleShape.map { Optional($0) })],
            outputs: [current], constants: constants, floatOutputs: [current])
        return BenchmarkNetwork(graph: graph, input: input, output: current, sampleShape: sampleShape, macsPerSample: macs)
    }
}

extension BenchmarkNetwork {
    /// torchvision's resnet18 topology (BatchNorm after every conv, 2 basic blocks per stage, 1×1 projection on
    /// the strided blocks, 7×7/2 stem and 3×3/2 max-pool, global average pool, 1000-way Gemm) at `side`×`side`.
    static func resnet18(side: Int) -> BenchmarkNetwork {
        var b = NetworkBuilder(input: "x", shape: [3, side, side])
        b.conv(64, kernel: 7, stride: 2, pad: 3)
        b.batchNorm()
        b.relu()
        let pool = SpatialAttributes(kernel: (3, 3), strides: (2, 2), dilations: (1, 1), pads: (1, 1, 1, 1), autoPad: .notSet)
        b.add("MaxPool", [b.current], PoolOperator(kind: .max, attributes: pool, ceilMode: false))
        b.shape = [64, (b.shape[1] + 1) / 2, (b.shape[2] + 1) / 2]
        for (stage, channels) in [64, 128, 256, 512].enumerated() {
            for block in 0..<2 {
                let stride = stage > 0 && block == 0 ? 2 : 1
                let (entry, entryShape) = (b.current, b.shape)
                b.conv(channels, kernel: 3, stride: stride, pad: 1)
                b.batchNorm()
                b.relu()
                b.conv(channels, kernel: 3, stride: 1, pad: 1)
                b.batchNorm()
                var shortcut = entry
                if stride != 1 || entryShape[0] != channels {
                    let (main, mainShape) = (b.current, b.shape)
                    b.current = entry
                    b.shape = entryShape
                    b.conv(channels, kernel: 1, stride: stride, pad: 0)
                    b.batchNorm()
                    shortcut = b.current
                    (b.current, b.shape) = (main, mainShape)
                }
                b.add("Add", [b.current, shortcut], BinaryOperator(.add))
                b.relu()
            }
        }
        b.add("GlobalAveragePool", [b.current], ReduceOperator(axes: nil, mean: true, spatial: true))
        b.add("Flatten", [b.current], FlattenOperator(axis: 1))
        b.shape = [b.shape[0]]
        b.gemm(1000)
        return b.graph(input: "x", sampleShape: [3, side, side])
    }
}
