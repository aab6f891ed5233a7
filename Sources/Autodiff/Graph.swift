import TensorCore

/// A computation graph: nodes in topological order over named tensors, with constant tensors (initializers).
///
/// Tensor names are the ONNX names (`/fc1/Gemm_output_0`, `relu_1`). The graph is immutable; execution state
/// lives in `Execution`. Nodes whose operator is `nil` are kept so `inspect` can list them, and fail only when
/// a plan needs them.
public struct Graph: Sendable {
    public struct Node: Sendable {
        /// The node name (may be empty in ONNX; then a synthetic name is used).
        public var name: String
        /// The op type (`Gemm`), and its domain (`""` for ai.onnx, `ai.onnx.ml`).
        public var opType: String
        public var domain: String
        /// The opset version the node is interpreted at.
        public var opsetVersion: Int
        /// Input tensor names; `""` marks an omitted optional input.
        public var inputs: [String]
        public var outputs: [String]
        /// The executable operator, or nil when the op is not supported (see `unsupportedReason`).
        public var op: (any Operator)?
        public var unsupportedReason: String?
        /// Differentiability, affinity and DeepLIFT class: the registry entry's for imported nodes, else the
        /// operator type's `defaultTraits` (non-differentiable for a node without an operator).
        public var traits: OperatorTraits

        public init(
            name: String, opType: String, domain: String = "", opsetVersion: Int, inputs: [String],
            outputs: [String], op: (any Operator)?, unsupportedReason: String? = nil, traits: OperatorTraits? = nil
        ) {
            self.name = name
            self.opType = opType
            self.domain = domain
            self.opsetVersion = opsetVersion
            self.inputs = inputs
            self.outputs = outputs
            self.op = op
            self.unsupportedReason = unsupportedReason
            self.traits = traits ?? op?.defaultTraits ?? .nonDifferentiable
        }

        /// `Gemm` or `ai.onnx.ml.Scaler`.
        public var qualifiedOpType: String { domain.isEmpty || domain == "ai.onnx" ? opType : "\(domain).\(opType)" }
    }

    /// A graph input: its name and per-dimension sizes (nil = symbolic, such as the batch).
    public struct Input: Sendable {
        public var name: String
        public var dimensions: [Int?]
        public var isFloat: Bool
        public init(name: String, dimensions: [Int?], isFloat: Bool = true) {
            self.name = name
            self.dimensions = dimensions
            self.isFloat = isFloat
        }
    }

    public var nodes: [Node]
    public var inputs: [Input]
    public var outputs: [String]
    public var constants: [String: Value]
    /// Output names whose declared element type is float.
    public var floatOutputs: [String]

    public init(nodes: [Node], inputs: [Input], outputs: [String], constants: [String: Value], floatOutputs: [String]) {
        self.nodes = nodes
        self.inputs = inputs
        self.outputs = outputs
        self.constants = constants
        self.floatOutputs = floatOutputs
    }

    /// Index of the node producing each tensor.
    public var producers: [String: Int] {
        var result: [String: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for output in node.outputs where !output.isEmpty { result[output] = index }
        }
        return result
    }

    /// Every tensor name produced by a node, in topological order.
    public var tensorNames: [String] { nodes.flatMap { $0.outputs.filter { !$0.isEmpty } } }

    /// Node indices needed to compute `targets` from the inputs and constants (ancestors), topologically ordered.
    /// Tensors in `fed` are treated as given: their producers (and what only they need) are not included.
    public func ancestorNodes(of targets: [String], fed: Set<String> = []) -> [Int] {
        let producers = self.producers
        var needed = Set<Int>()
        var stack = targets
        var seen = fed
        while let name = stack.popLast() {
            guard !name.isEmpty, seen.insert(name).inserted, let index = producers[name] else { continue }
            if needed.insert(index).inserted { stack.append(contentsOf: nodes[index].inputs) }
        }
        return needed.sorted()
    }

    /// Tensors that depend on any of `sources` (the sources included).
    public func descendants(of sources: Set<String>) -> Set<String> {
        var reached = sources
        for node in nodes where node.inputs.contains(where: { reached.contains($0) }) {
            for output in node.outputs where !output.isEmpty { reached.insert(output) }
        }
        return reached
    }
}
