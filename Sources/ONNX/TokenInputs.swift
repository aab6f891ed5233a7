import Autodiff

/// Facts about integer model inputs (token ids, masks): which embedding tables they index and where the
/// float computation starts.
extension ONNXModel {
    /// An embedding lookup: a Gather (axis 0) of rows of a constant float table by an integer graph input.
    public struct EmbeddingLookup: Sendable, Equatable {
        /// The integer graph input used as row indices.
        public var input: String
        /// The constant table and its row count (valid ids are 0..<rows).
        public var table: String
        public var rows: Int
        /// The Gather's output: the embedded tokens.
        public var output: String
    }

    /// Every Gather of a constant float table (axis 0) whose indices are an integer graph input's values,
    /// directly or through ops that only rearrange them (`valuePreservingOps`: GPT-2 reshapes its ids first).
    public var embeddingLookups: [EmbeddingLookup] {
        let integerInputs = Set(graph.inputs.filter { !$0.isFloat }.map(\.name))
        let producers = Dictionary(graph.nodes.flatMap { node in node.outputs.map { ($0, node) } }, uniquingKeysWith: { a, _ in a })
        return graph.nodes.compactMap { node in
            guard node.opType == "Gather", node.inputs.count == 2,
                case .float(let table)? = graph.constants[node.inputs[0]], table.rank >= 2,
                (node.op as? GatherOperator)?.axis == 0, let output = node.outputs.first
            else { return nil }
            var source = node.inputs[1]
            while !integerInputs.contains(source), let producer = producers[source],
                Self.valuePreservingOps.contains(producer.opType), let first = producer.inputs.first
            {
                source = first
            }
            guard integerInputs.contains(source) else { return nil }
            return EmbeddingLookup(input: source, table: node.inputs[0], rows: table.shape[0], output: output)
        }
    }

    /// Ops whose first output holds their first input's values, rearranged: ids keep their range through them.
    static let valuePreservingOps: Set<String> = ["Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Cast"]

    /// The word-embedding output: the lookup with the largest table (the vocabulary; position and token-type
    /// tables are smaller) — the tensor Hugging Face's `inputs_embeds` replaces. Nil without integer lookups.
    public var wordEmbeddingOutput: String? {
        embeddingLookups.max { $0.rows < $1.rows }?.output
    }
}
