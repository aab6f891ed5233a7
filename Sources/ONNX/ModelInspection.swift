import Autodiff
import TensorCore

/// What `modscope inspect` reports: inputs, outputs, opsets, every node with its output shape for one sample,
/// which tensors are attributable layers, and the unsupported operators on each output's path.
public struct ModelInspection: Sendable, Codable {
    public struct TensorRow: Sendable, Codable {
        public var index: Int
        public var op: String
        public var node: String
        public var tensor: String
        /// Shape at batch 1 (nil when it could not be computed, e.g. behind an unsupported op).
        public var shape: [Int]?
        /// A float tensor between the input and the default output: usable as `--layer`.
        public var attributable: Bool
        public var supported: Bool
        /// The default output is affine in this layer (`Graph.hasAffineSuffix`): conductance telescopes to two
        /// evaluations and integrated gradients needs none beyond the endpoints.
        public var affineSuffix: Bool
    }

    public struct OutputPath: Sendable, Codable {
        public var output: String
        public var unsupported: [String]
    }

    public var path: String?
    public var irVersion: Int
    public var opset: Int
    public var mlOpset: Int?
    public var producer: String
    public var inputs: [String: [Int?]]
    /// "float" or "integer" per input.
    public var inputTypes: [String: String]
    /// The word-embedding output of a token model (`ONNXModel.wordEmbeddingOutput`): the default
    /// `--interpolate-at` when the model has no float input.
    public var embeddingOutput: String?
    /// Where the path methods start by default: the float input, else the embedding output.
    public var pathStart: String?
    public var outputs: [String]
    public var defaultOutput: String?
    public var tensors: [TensorRow]
    public var outputPaths: [OutputPath]
    /// The PyTorch modules recorded by the exporter, each with its output tensors and their shapes at batch 1.
    public var modules: [ModuleRow]

    public struct ModuleRow: Sendable, Codable {
        public var path: String
        public var depth: Int
        public var outputs: [String]
        public var shapes: [[Int]?]
    }

    public init(model: ONNXModel) {
        let graph = model.graph
        path = model.path
        irVersion = model.irVersion
        opset = model.opsetVersion
        mlOpset = model.mlOpsetVersion
        producer = model.producer
        inputs = Dictionary(uniqueKeysWithValues: graph.inputs.map { ($0.name, $0.dimensions) })
        inputTypes = Dictionary(uniqueKeysWithValues: graph.inputs.map { ($0.name, $0.isFloat ? "float" : "integer") })
        embeddingOutput = model.wordEmbeddingOutput
        pathStart = (try? model.input.name) ?? embeddingOutput
        outputs = graph.outputs
        defaultOutput = try? model.defaultOutput()

        // Shapes: run every node whose ancestors are all supported once, on a batch of one zero sample.
        var runnable = Set<String>()
        var runnableTargets: [String] = []
        var available = Set(graph.constants.keys).union(graph.inputs.map(\.name))
        for node in graph.nodes where node.op != nil && node.inputs.allSatisfy({ $0.isEmpty || available.contains($0) }) {
            for output in node.outputs where !output.isEmpty {
                available.insert(output)
                runnable.insert(output)
                runnableTargets.append(output)
            }
        }
        var shapes: [String: [Int]] = [:]
        var integerTensors = Set<String>()
        if graph.inputs.allSatisfy({ $0.dimensions.dropFirst().allSatisfy { $0 != nil } }),
            let plan = try? ExecutionPlan(graph: graph, targets: runnableTargets)
        {
            // One zero sample per input (id 0 for integer inputs).
            var feeds: [String: Value] = [:]
            for input in graph.inputs {
                let sample = [1] + input.dimensions.dropFirst().map { $0! }
                feeds[input.name] = input.isFloat
                    ? .float(Tensor(zeros: sample)) : .int(IntTensor(shape: sample, storage: .init(repeating: 0, count: sample.reduce(1, *))))
            }
            if let execution = try? plan.forward(feeds: feeds) {
                for (name, value) in execution.values {
                    shapes[name] = value.shape
                    if case .int = value { integerTensors.insert(name) }
                }
            }
        }
        var layers = Set<String>()
        if let output = defaultOutput, let start = pathStart {
            let downstream = graph.descendants(of: [start])
            let upstream = Set(graph.ancestorNodes(of: [output]).flatMap { graph.nodes[$0].outputs })
            layers = downstream.intersection(upstream).subtracting([start])
        }
        let affine = defaultOutput.map { output in Set(layers.filter { graph.hasAffineSuffix(layer: $0, output: output) }) } ?? []
        var rows: [TensorRow] = []
        for (index, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty {
                let isFloat = !integerTensors.contains(output)
                rows.append(TensorRow(
                    index: index, op: node.qualifiedOpType, node: node.name, tensor: output, shape: shapes[output],
                    attributable: isFloat && layers.contains(output) && runnable.contains(output), supported: node.op != nil,
                    affineSuffix: affine.contains(output)))
            }
        }
        tensors = rows
        modules = model.moduleTree.modules.map { module in
            ModuleRow(path: module.path, depth: module.depth, outputs: module.outputs, shapes: module.outputs.map { shapes[$0] })
        }
        outputPaths = graph.outputs.map { output in
            OutputPath(
                output: output,
                unsupported: graph.ancestorNodes(of: [output]).map { graph.nodes[$0] }.filter { $0.op == nil }
                    .map { "\($0.qualifiedOpType) ('\($0.name)')" })
        }
    }

    /// The module tree: one line per module, indented by depth, with its output tensor and shape.
    var moduleLines: [String] {
        var lines = ["Modules (PyTorch module paths, usable as --layer when they have one output):"]
        let width = min(56, (modules.map { $0.path.count + 2 * $0.depth }.max() ?? 0) + 2)
        for module in modules {
            let name = String(repeating: "  ", count: module.depth) + module.path
            let outputs = zip(module.outputs, module.shapes).map { tensor, shape in
                tensor + " " + (shape.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" } ?? "?")
            }
            let shown = outputs.isEmpty ? "(no output depends on the input)"
                : outputs.count == 1 ? "→ " + outputs[0] : "\(outputs.count) outputs (called several times): " + outputs.prefix(3).joined(separator: ", ") + (outputs.count > 3 ? ", …" : "")
            lines.append("  " + name.padding(toLength: max(width, name.count + 1), withPad: " ", startingAt: 0) + shown)
        }
        return lines
    }

    /// A human-readable report.
    public var text: String {
        var lines: [String] = []
        lines.append("Model: \(path ?? "(in memory)")")
        lines.append("  IR version \(irVersion), opset \(opset)\(mlOpset.map { ", ai.onnx.ml opset \($0)" } ?? "")\(producer.isEmpty ? "" : ", produced by \(producer)")")
        lines.append("Inputs:")
        for (name, dims) in inputs.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(name)  [\(dims.map { $0.map(String.init) ?? "batch" }.joined(separator: ", "))]  \(inputTypes[name] ?? "float")")
        }
        if inputs.count > 1 {
            lines.append("  --data: an .npz with one array per input, keyed by these names, all with the same first axis N")
        }
        if let embeddingOutput {
            lines.append(
                "  embedding output: \(embeddingOutput) (the word-embedding lookup, the tensor inputs_embeds replaces)"
                    + (pathStart == embeddingOutput ? "; the default --interpolate-at" : ""))
        }
        lines.append("Outputs:")
        for output in outputs { lines.append("  \(output)\(output == defaultOutput ? "  (default --output)" : "")") }
        if let defaultOutput, !outputs.contains(defaultOutput) {
            lines.append("  default --output: \(defaultOutput) (the probabilities before ZipMap)")
        }
        lines.append("Nodes (shape at batch 1; * = attributable layer, usable as --layer):")
        let opWidth = max(4, tensors.map(\.op.count).max() ?? 0)
        let nodeWidth = min(40, max(4, tensors.map(\.node.count).max() ?? 0))
        let tensorWidth = min(48, max(6, tensors.map(\.tensor.count).max() ?? 0))
        for row in tensors {
            let shape = row.shape.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" } ?? (row.supported ? "?" : "unsupported")
            lines.append(
                "  \(row.attributable ? "*" : " ") \(String(row.index).padding(toLength: 4, withPad: " ", startingAt: 0))"
                    + "\(row.op.padding(toLength: opWidth + 2, withPad: " ", startingAt: 0))"
                    + "\(row.node.padding(toLength: nodeWidth + 2, withPad: " ", startingAt: 0))"
                    + "\(row.tensor.padding(toLength: tensorWidth + 2, withPad: " ", startingAt: 0))\(shape)"
                    + (row.attributable && row.affineSuffix ? "  affine" : ""))
        }
        if tensors.contains(where: { $0.attributable && $0.affineSuffix }) {
            lines.append(
                "  affine: the default output is affine in that layer, so conductance there telescopes to 2 evaluations "
                    + "instead of steps + 1 and integrated gradients needs none beyond the endpoints")
        }
        if !modules.isEmpty { lines += moduleLines }
        lines.append("Unsupported operators on each output's path:")
        for path in outputPaths {
            lines.append("  \(path.output): \(path.unsupported.isEmpty ? "none" : path.unsupported.joined(separator: ", "))")
        }
        if outputPaths.contains(where: { !$0.unsupported.isEmpty }) {
            lines.append("Supported operators: \(OperatorRegistry.supportedList())")
        }
        return lines.joined(separator: "\n")
    }
}
