import Foundation

/// Structural checks of an ONNX graph, run by `ONNXModel.load` before any initializer is decoded or operator
/// built, so that a hostile or broken file is an `ONNXError` naming the node or tensor, never a trap later.
///
/// What holds after `validate` (the graph-level rules onnx.checker enforces, plus the ranges ModScope's
/// kernels need):
/// - node names that are not empty are unique; graph inputs and initializers have unique names;
/// - every tensor has exactly one producer (a graph input, an initializer or one node output — an initializer
///   may share its name with a graph input, its default value, as IR < 4 allows);
/// - every non-empty node input and every graph output has a producer, and the nodes have no cycle;
/// - spatial attributes (`kernel_shape`, `strides`, `dilations` ≥ 1, `pads` ≥ 0, `group` ≥ 1) are at most
///   `maximumSpatialAttribute`, and `Cast.to` is a 32-bit value.
enum ModelValidation {
    /// The largest kernel size, stride, dilation, pad or group count accepted: 2^20. Real 2-D models use
    /// values below a few hundred; the bound keeps sums such as `height + padTop + padBottom` and the output
    /// sizes computed from them far from overflow.
    static let maximumSpatialAttribute = 1 << 20

    /// Op types whose spatial attributes are checked.
    static let spatialOps: Set<String> = ["Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"]

    /// Throws an `ONNXError` for the first rule of the type documentation that `graph` breaks; `name` names
    /// the model (`'model.onnx'` or `the model`).
    static func validate(_ graph: Onnx_GraphProto, name: String) throws {
        let invalid = { (detail: String) in
            ONNXError(
                "\(name) is not a valid ONNX graph: \(detail); repair or re-export the model (onnx.checker.check_model(model, full_check=True) reports the same problem)")
        }
        var seenNodes = Set<String>()
        for node in graph.node where !node.name.isEmpty {
            guard seenNodes.insert(node.name).inserted else { throw invalid("two nodes are named '\(node.name)'") }
        }
        var producers = [String: String]()
        for input in graph.input {
            guard producers.updateValue("graph input", forKey: input.name) == nil else {
                throw invalid("two graph inputs are named '\(input.name)'")
            }
        }
        var initializers = Set<String>()
        for tensor in graph.initializer {
            guard initializers.insert(tensor.name).inserted else {
                throw invalid("two initializers are named '\(tensor.name)'")
            }
            producers[tensor.name] = producers[tensor.name] ?? "initializer"
        }
        for (index, node) in graph.node.enumerated() {
            let label = describe(node, index)
            for output in node.output where !output.isEmpty {
                if let other = producers.updateValue(label, forKey: output) {
                    throw invalid("tensor '\(output)' is produced twice (by \(other) and by \(label))")
                }
            }
        }
        for (index, node) in graph.node.enumerated() {
            for input in node.input where !input.isEmpty && producers[input] == nil {
                throw invalid("\(describe(node, index)) reads tensor '\(input)', which no node, initializer or graph input produces")
            }
            try checkAttributes(node, label: describe(node, index), invalid: invalid)
        }
        for output in graph.output where producers[output.name] == nil {
            throw invalid("graph output '\(output.name)' is not produced by any node, initializer or graph input")
        }
        if let cycle = nodesOnCycles(graph) {
            let shown = cycle.prefix(5).map { describe(graph.node[$0], $0) }.joined(separator: ", ")
            throw invalid("its nodes form a cycle (nodes that can never run: \(shown)\(cycle.count > 5 ? ", …" : ""))")
        }
    }

    /// `node 'name' (Op)`, or `node #index (Op)` for an unnamed node.
    static func describe(_ node: Onnx_NodeProto, _ index: Int) -> String {
        node.name.isEmpty ? "node #\(index) (\(node.opType))" : "node '\(node.name)' (\(node.opType))"
    }

    /// Indices of the nodes that can never run — on a cycle or downstream of one — (Kahn's algorithm over the
    /// node outputs; graph inputs and initializers are available from the start), or nil without a cycle.
    /// Assumes every input has a producer (checked before).
    static func nodesOnCycles(_ graph: Onnx_GraphProto) -> [Int]? {
        var producer = [String: Int]()
        for (index, node) in graph.node.enumerated() {
            for output in node.output where !output.isEmpty { producer[output] = index }
        }
        var waiting = [Int](repeating: 0, count: graph.node.count)
        var consumers = [[Int]](repeating: [], count: graph.node.count)
        for (index, node) in graph.node.enumerated() {
            for source in Set(node.input.compactMap { producer[$0] }) {
                waiting[index] += 1
                consumers[source].append(index)
            }
        }
        var ready = waiting.indices.filter { waiting[$0] == 0 }
        var done = 0
        while let index = ready.popLast() {
            done += 1
            for consumer in consumers[index] {
                waiting[consumer] -= 1
                if waiting[consumer] == 0 { ready.append(consumer) }
            }
        }
        guard done < graph.node.count else { return nil }
        return waiting.indices.filter { waiting[$0] > 0 }
    }

    /// Range checks of the attributes ModScope's kernels and importer convert or size from.
    private static func checkAttributes(
        _ node: Onnx_NodeProto, label: String, invalid: (String) -> ONNXError
    ) throws {
        let isDefaultDomain = node.domain.isEmpty || node.domain == "ai.onnx"
        guard isDefaultDomain else { return }
        if node.opType == "Cast", let to = node.attribute.first(where: { $0.name == "to" }), Int32(exactly: to.i) == nil {
            throw invalid("\(label) casts to type \(to.i), which is not an ONNX data type")
        }
        guard spatialOps.contains(node.opType) else { return }
        let lowest: [String: Int64] = ["kernel_shape": 1, "strides": 1, "dilations": 1, "pads": 0, "group": 1]
        for attribute in node.attribute {
            guard let minimum = lowest[attribute.name] else { continue }
            let values = attribute.name == "group" ? [attribute.i] : attribute.ints
            for value in values where value < minimum || value > Int64(maximumSpatialAttribute) {
                throw invalid(
                    "\(label) has \(attribute.name)=\(attribute.name == "group" ? "\(attribute.i)" : "\(attribute.ints)"), but each value must be between \(minimum) and \(maximumSpatialAttribute)")
            }
        }
    }

    /// One name per node, in order: the node's own name, or for an unnamed node `OpType_index`, made unique
    /// against every other name with a `_n` suffix (so a synthetic name never collides with a real one).
    static func uniqueNodeNames(_ nodes: [Onnx_NodeProto]) -> [String] {
        var taken = Set(nodes.map(\.name).filter { !$0.isEmpty })
        return nodes.enumerated().map { index, node in
            guard node.name.isEmpty else { return node.name }
            var candidate = "\(node.opType)_\(index)"
            var suffix = 1
            while taken.contains(candidate) {
                candidate = "\(node.opType)_\(index)_\(suffix)"
                suffix += 1
            }
            taken.insert(candidate)
            return candidate
        }
    }
}
