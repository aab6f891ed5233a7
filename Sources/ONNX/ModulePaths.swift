import Autodiff

/// The PyTorch module that produced each node, read from what the exporters leave in the ONNX file:
///
/// - the dynamo exporter (`torch.onnx.export(..., dynamo=True)`) writes each node's `metadata_props`:
///   `pkg.torch.onnx.name_scopes` = `['', 'layer1', 'layer1.0', 'layer1.0.relu', 'relu_1']` (the module paths
///   from the root down, then the op), or else `namespace` =
///   `: ResNet/layer1: Sequential/layer1.0: BasicBlock/…/relu_1: aten.relu.default`;
/// - the legacy TorchScript exporter names nodes after their scope: `/layer1/layer1.0/relu_1/Relu` (module
///   names from the root down, then the op type). Each name is relative to its parent, except a container's
///   child, named `parent.index` (`layer1.0` under `layer1`, `downsample.0` under `layer2.0.downsample`), which
///   is relative to the grandparent; a module called a second time gets a suffix (`relu_1` for the second call
///   of `relu`).
enum ModuleScopes {
    static let nameScopesKey = "pkg.torch.onnx.name_scopes"
    static let namespaceKey = "namespace"

    /// The full module paths that contain a node, one level per nesting depth (outermost first), each level the
    /// module's path and, for a legacy export's repeated call (`relu_1`), also the called module's (`relu`);
    /// empty when the exporter left none.
    static func paths(of node: Onnx_NodeProto) -> [[String]] {
        let metadata = Dictionary(node.metadataProps.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        if let scopes = metadata[nameScopesKey] {
            // A Python list literal of quoted strings; module paths never contain quotes or commas.
            let items = scopes.trimmingCharacters(in: ["[", "]"]).split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: [" ", "'", "\""]) }
            return items.dropLast().filter { !$0.isEmpty }.map { [$0] }
        }
        if let namespace = metadata[namespaceKey] {
            let parts = namespace.split(separator: "/", omittingEmptySubsequences: false)
                .map { String($0.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") }
            return parts.dropLast().filter { !$0.isEmpty }.map { [$0] }
        }
        guard node.name.hasPrefix("/") else { return [] }
        var paths: [String] = []
        var locals: [String] = []
        for component in node.name.split(separator: "/").dropLast() {
            let name = String(component)
            // A container's child is named `parent.index` (`layer1.0` under `layer1`): relative to the grandparent.
            let parentLocal = locals.last
            let base = parentLocal.map { name.hasPrefix($0 + ".") } == true ? paths.dropLast().last : paths.last
            paths.append(base.map { $0 + "." + name } ?? name)
            locals.append(name)
        }
        return paths.map { path in [path] + [repeatedCallBase(path)].compactMap { $0 } }
    }

    /// `relu_1` → `relu` (a legacy export's second call of a module), nil when the last name has no such suffix.
    static func repeatedCallBase(_ path: String) -> String? {
        let last = path.split(separator: ".").last.map(String.init) ?? path
        guard let underscore = last.lastIndex(of: "_"), last[last.index(after: underscore)...].allSatisfy(\.isNumber),
            last.index(after: underscore) != last.endIndex
        else { return nil }
        return String(path.dropLast(last.distance(from: underscore, to: last.endIndex)))
    }
}

/// The model's PyTorch modules and the tensor each one outputs: what `--layer layer3` resolves to, and what
/// `modscope inspect` lists.
///
/// A module's nodes are those whose scope contains its path (a legacy export's `relu_1`, a second call of
/// `relu`, counts for `relu` too). Its outputs are the tensors its nodes produce that a node outside it reads,
/// or that are graph outputs, restricted to tensors that depend on the model input (shape arithmetic on
/// constants is not an output). A module called once has one output; a module called several times (a shared
/// ReLU) or returning a tuple has several, and naming it as a layer is an error listing them.
public struct ModuleTree: Sendable {
    public struct Module: Sendable, Codable, Equatable {
        /// The dotted path, as in `model.named_modules()` (`layer3.1.conv2`).
        public var path: String
        /// Nesting depth (0 for a child of the root).
        public var depth: Int
        /// Output tensors, in graph order.
        public var outputs: [String]
    }

    /// In the order of each module's first node.
    public let modules: [Module]

    init(graph: Graph, scopes: [String: [[String]]], input: String?) {
        var members: [String: Set<Int>] = [:]
        var order: [String] = []
        var depth: [String: Int] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for (level, names) in (scopes[node.name] ?? []).enumerated() {
                for name in names {
                    if members[name] == nil {
                        order.append(name)
                        depth[name] = level
                    }
                    members[name, default: []].insert(index)
                }
            }
        }
        let dependsOnInput = input.map { graph.descendants(of: [$0]) }
        var consumers: [String: [Int]] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for tensor in node.inputs where !tensor.isEmpty { consumers[tensor, default: []].append(index) }
        }
        let graphOutputs = Set(graph.outputs)
        modules = order.map { path in
            let inside = members[path]!
            var outputs: [String] = []
            for index in inside.sorted() {
                for tensor in graph.nodes[index].outputs where !tensor.isEmpty {
                    guard dependsOnInput?.contains(tensor) ?? true else { continue }
                    let leaves = graphOutputs.contains(tensor) || (consumers[tensor] ?? []).contains { !inside.contains($0) }
                    if leaves { outputs.append(tensor) }
                }
            }
            return Module(path: path, depth: depth[path] ?? 0, outputs: outputs)
        }
    }

    public func module(_ path: String) -> Module? { modules.first { $0.path == path } }
}

extension ONNXModel {
    /// The modules recorded by the exporter (empty for models not exported from PyTorch).
    public var moduleTree: ModuleTree {
        ModuleTree(graph: graph, scopes: moduleScopes, input: try? input.name)
    }

    /// Resolves a `--layer` value: a tensor name, a node name, or a PyTorch module path (`layer3`,
    /// `features.13`, `bert.encoder.layer.1.intermediate`; a leading `model.` is ignored) naming a module with
    /// one output tensor. Otherwise an error naming the nearest tensors and modules.
    public func resolveLayer(_ name: String) throws -> String {
        if Set(graph.tensorNames).union(graph.inputs.map(\.name)).contains(name) || nodeNames[name] != nil {
            return try resolveTensor(name, flag: "--layer")
        }
        let tree = moduleTree
        let path = tree.module(name) == nil && name.hasPrefix("model.") ? String(name.dropFirst("model.".count)) : name
        if let module = tree.module(path) {
            switch module.outputs.count {
            case 1: return module.outputs[0]
            case 0:
                throw ONNXError(
                    "--layer '\(name)' is a module of the model, but none of its tensors depends on the input; pick another module or tensor (`modscope inspect` lists them)")
            default:
                let inner = tree.modules.filter { $0.path.hasPrefix(path + ".") && $0.outputs.count == 1 }.prefix(4).map { "'\($0.path)'" }
                throw ONNXError(
                    "--layer '\(name)' is a module with \(module.outputs.count) output tensors (\(module.outputs.prefix(6).map { "'\($0)'" }.joined(separator: ", "))): it is called several times or returns several values; name one of these tensors\(inner.isEmpty ? "" : ", or a module inside it such as \(inner.joined(separator: ", "))")")
            }
        }
        let candidates = tree.modules.map(\.path) + graph.tensorNames + Array(nodeNames.keys)
        let suggestions = candidates
            .map { ($0, EditDistance.between($0.lowercased(), name.lowercased())) }
            .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .prefix(4).map { "'\($0.0)'" }
        let kind = tree.modules.isEmpty ? "tensor or node (the model records no PyTorch module paths)" : "tensor, node or module path"
        throw ONNXError(
            "--layer '\(name)' is not a \(kind) of the model; nearest: \(suggestions.joined(separator: ", ")). Run `modscope inspect` to list them")
    }
}
