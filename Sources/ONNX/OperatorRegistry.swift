import Autodiff
import TensorCore

/// One ONNX operator ModScope executes: where it lives (domain, name, opset range), what the engine and the
/// attribution methods need to know about it (`traits`), and how to build its `Operator` from a node.
///
/// Adding an op = one entry in a `Registry/*Entries.swift` family file plus its tests (a finite-difference
/// VJP check in AutodiffTests, a forward check against onnxruntime in ONNXTests where cheap); see
/// docs/architecture.md ("The operator registry"). Opset-dependent semantics (an attribute that became an input) are resolved by the
/// builder from `context.opset`.
struct OperatorEntry: Sendable {
    /// "" for the default ai.onnx domain, or e.g. "ai.onnx.ml".
    var domain: String
    var name: String
    /// Opsets of the entry's domain at which `build` knows the op's semantics.
    var opsets: ClosedRange<Int>
    var traits: OperatorTraits
    var build: @Sendable (OperatorBuildContext) throws -> any Operator

    init(
        _ name: String, domain: String = "", opsets: ClosedRange<Int> = OperatorRegistry.defaultOpsets,
        traits: OperatorTraits, build: @escaping @Sendable (OperatorBuildContext) throws -> any Operator
    ) {
        self.domain = domain
        self.name = name
        self.opsets = opsets
        self.traits = traits
        self.build = build
    }

    /// `Gemm`, or `ai.onnx.ml.Scaler` outside the default domain.
    var qualifiedName: String { domain.isEmpty ? name : "\(domain).\(name)" }
}

/// What a builder reads: the node, its attributes, the opset of its domain, the tensor decoder (for tensor
/// attributes). `refuse` reports an attribute combination ModScope does not implement.
struct OperatorBuildContext {
    let node: Onnx_NodeProto
    let attributes: NodeAttributes
    let opset: Int
    let decoder: TensorDecoder

    /// Whether optional output `index` is declared (present and named).
    func declaresOutput(_ index: Int) -> Bool { node.output.count > index && !node.output[index].isEmpty }

    func refuse(_ detail: String) -> OperatorRefusal { OperatorRefusal(detail: detail) }
}

/// A builder's refusal of a node it cannot run (the node is kept and fails only if a plan needs it).
struct OperatorRefusal: Error {
    let detail: String
}

/// The operator table: every entry, looked up by (domain, name, opset). The supported-operator list of error
/// messages and `inspect` is derived from it, and so are the traits every `Graph.Node` carries.
enum OperatorRegistry {
    /// Opsets the loader accepts (ONNXModel.load), the default range of an entry.
    static let defaultOpsets: ClosedRange<Int> = 7...22

    /// Every entry, by family file.
    static let entries: [OperatorEntry] =
        linearEntries + activationEntries + elementwiseEntries + comparisonEntries + shapeEntries + indexingEntries
        + spatialEntries + reductionEntries + mlEntries

    private static let byKey: [String: [OperatorEntry]] = Dictionary(grouping: entries) { key($0.domain, $0.name) }

    private static func key(_ domain: String, _ name: String) -> String { "\(domain == "ai.onnx" ? "" : domain)|\(name)" }

    /// Qualified names of every supported op, sorted, for error messages and `inspect`.
    static let supported: [String] = Array(Set(entries.map(\.qualifiedName))).sorted()

    static func supportedList() -> String { supported.joined(separator: ", ") }

    /// The entries registered for an op (any opset).
    static func entries(domain: String, name: String) -> [OperatorEntry] { byKey[key(domain, name)] ?? [] }

    /// Builds the operator for `node` with its entry's traits, or the reason it cannot run (unknown op, opset
    /// outside the entry's range, refused attributes). Attribute errors that make the file invalid throw.
    static func make(
        _ node: Onnx_NodeProto, opset: Int, mlOpset: Int?, decoder: TensorDecoder
    ) throws -> Result<(any Operator, OperatorTraits), ONNXError> {
        let domain = node.domain == "ai.onnx" ? "" : node.domain
        let version = domain == "ai.onnx.ml" ? (mlOpset ?? 1) : opset
        let op = domain.isEmpty ? node.opType : "\(domain).\(node.opType)"
        func failure(_ why: String, _ todo: String) -> Result<(any Operator, OperatorTraits), ONNXError> {
            .failure(ONNXError("operator \(op) (opset \(version)) in node '\(node.name)' \(why); \(todo)"))
        }
        let candidates = entries(domain: domain, name: node.opType)
        guard !candidates.isEmpty else {
            return failure(
                "is not supported; supported operators: \(supportedList())",
                "re-export the model without it, pick an --output tensor that does not depend on it, or add a registry entry for it (docs/architecture.md)")
        }
        guard let entry = candidates.first(where: { $0.opsets.contains(version) }) else {
            let ranges = candidates.map { "\($0.opsets.lowerBound)–\($0.opsets.upperBound)" }.joined(separator: ", ")
            return failure("is supported only at opsets \(ranges)", "re-export the model with an opset_version in that range")
        }
        if let required = InputArity.required(op, opset: version),
            node.input.count < required || node.input.prefix(required).contains(where: \.isEmpty)
        {
            throw ONNXError(
                "node '\(node.name)' (\(op), opset \(version)) has inputs \(node.input.map { "'\($0)'" }) but the ONNX schema requires \(required) named inputs; the model file is malformed: re-export it")
        }
        let context = OperatorBuildContext(node: node, attributes: NodeAttributes(node), opset: version, decoder: decoder)
        do {
            return .success((try entry.build(context), entry.traits))
        } catch let refusal as OperatorRefusal {
            return failure(
                "(\(refusal.detail)) is not supported",
                "re-export the model without it, or pick an --output tensor that does not depend on it")
        }
    }
}
