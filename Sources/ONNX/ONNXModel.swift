import Autodiff
import Foundation
import SwiftProtobuf
import TensorCore

/// A loaded ONNX model: the executable graph plus what `inspect` and the CLI need to explain it.
///
/// Loading decodes the protobuf, reads every initializer (inline or external), and builds an operator for
/// each node it supports. Unsupported nodes are kept and fail only when a plan needs them.
public struct ONNXModel: Sendable {
    public let graph: Graph
    public let path: String?
    public let irVersion: Int
    /// Opset of the default domain, and of ai.onnx.ml when imported.
    public let opsetVersion: Int
    public let mlOpsetVersion: Int?
    public let producer: String
    /// Node names → index, for resolving `--layer` given as a node name.
    let nodeNames: [String: Int]
    /// Node name → the PyTorch module paths containing it (`ModuleScopes`), for `--layer` given as a module.
    let moduleScopes: [String: [[String]]]

    /// Loads a model file; external data files are read from the model's folder.
    public static func load(path: String) throws -> ONNXModel {
        let url = URL(fileURLWithPath: path)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw ONNXError("model file '\(path)' does not exist; pass the path of an .onnx file with --model")
        }
        // A FIFO or device would block or never end: only regular files are read.
        let type = (try? FileManager.default.attributesOfItem(atPath: path)[.type]) as? FileAttributeType
        guard !isFolder.boolValue, type == .typeRegular else {
            throw ONNXError("model file '\(path)' is not a regular file; pass the path of an .onnx file with --model")
        }
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw ONNXError("cannot read model file '\(path)': \(error.localizedDescription)")
        }
        return try load(data: data, path: path, baseDirectory: url.deletingLastPathComponent())
    }

    /// Loads a model from bytes (workers receive models over the wire; external data must then be inline).
    public static func load(data: Data, path: String? = nil, baseDirectory: URL? = nil) throws -> ONNXModel {
        let name = path.map { "'\($0)'" } ?? "the model"
        let proto: Onnx_ModelProto
        do {
            proto = try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw ONNXError("\(name) is not a valid ONNX file (protobuf decoding failed: \(error)); it may be truncated or not an ONNX model — re-export it")
        }
        guard proto.hasGraph, proto.irVersion > 0, !proto.graph.node.isEmpty, !proto.graph.output.isEmpty else {
            throw ONNXError("\(name) is not a valid ONNX model (no graph, IR version or outputs); it may be truncated or not an ONNX file — re-export it")
        }
        var opset = 0
        var mlOpset: Int?
        for entry in proto.opsetImport {
            if entry.domain.isEmpty || entry.domain == "ai.onnx" { opset = Int(entry.version) }
            if entry.domain == "ai.onnx.ml" { mlOpset = Int(entry.version) }
        }
        guard opset > 0 else { throw ONNXError("\(name) declares no ai.onnx opset; re-export it with an opset between 11 and 22") }
        let opsets = OperatorRegistry.defaultOpsets
        guard opsets.contains(opset) else {
            throw ONNXError(
                "\(name) uses opset \(opset); ModScope supports opsets \(opsets.lowerBound)–\(opsets.upperBound) — re-export with opset_version between \(opsets.lowerBound) and \(opsets.upperBound)")
        }
        let decoder = TensorDecoder(baseDirectory: baseDirectory)
        let g = proto.graph
        try ModelValidation.validate(g, name: name)
        let uniqueNames = ModelValidation.uniqueNodeNames(g.node)
        var constants: [String: Value] = [:]
        for initializer in g.initializer { constants[initializer.name] = try decoder.decode(initializer) }

        var nodes: [Graph.Node] = []
        var nodeNames: [String: Int] = [:]
        var moduleScopes: [String: [[String]]] = [:]
        for (index, nodeProto) in g.node.enumerated() {
            let name = uniqueNames[index]
            var named = nodeProto
            named.name = name
            let built = try OperatorRegistry.make(named, opset: opset, mlOpset: mlOpset, decoder: decoder)
            let op: (any Operator)?
            let reason: String?
            var traits: OperatorTraits?
            switch built {
            case .success(let value): (op, reason, traits) = (value.0, nil, value.1)
            case .failure(let error): (op, reason) = (nil, error.message)
            }
            nodes.append(Graph.Node(
                name: name, opType: nodeProto.opType, domain: nodeProto.domain,
                opsetVersion: nodeProto.domain == "ai.onnx.ml" ? (mlOpset ?? 1) : opset,
                inputs: nodeProto.input, outputs: nodeProto.output, op: op, unsupportedReason: reason, traits: traits))
            nodeNames[name] = index
            let scopes = ModuleScopes.paths(of: nodeProto)
            if !scopes.isEmpty { moduleScopes[name] = scopes }
        }
        nodes = try topologicallySorted(nodes, available: Set(constants.keys).union(g.input.map(\.name)))
        nodeNames = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($0.element.name, $0.offset) })

        let inputs = g.input.filter { constants[$0.name] == nil }.map { info -> Graph.Input in
            let tensorType = info.type.tensorType
            let dims: [Int?] = tensorType.shape.dim.map { dim in
                if case .dimValue(let v)? = dim.value, v > 0 { return Int(v) }
                return nil
            }
            let elementType = TensorDecoder.ElementType(rawValue: tensorType.elemType)
            return Graph.Input(name: info.name, dimensions: dims, isFloat: elementType?.isFloat ?? true)
        }
        let floatOutputs = g.output.filter { info in
            guard case .tensorType(let t)? = info.type.value else { return false }
            return TensorDecoder.ElementType(rawValue: t.elemType)?.isFloat ?? false
        }.map(\.name)
        let graph = Graph(
            nodes: nodes, inputs: inputs, outputs: g.output.map(\.name), constants: constants, floatOutputs: floatOutputs)
        return ONNXModel(
            graph: graph, path: path, irVersion: Int(proto.irVersion), opsetVersion: opset, mlOpsetVersion: mlOpset,
            producer: [proto.producerName, proto.producerVersion].filter { !$0.isEmpty }.joined(separator: " "),
            nodeNames: nodeNames, moduleScopes: moduleScopes)
    }

    /// ONNX requires topological order; some producers do not comply, so order by data dependencies.
    private static func topologicallySorted(_ nodes: [Graph.Node], available: Set<String>) throws -> [Graph.Node] {
        var ready = available
        var remaining = nodes
        var ordered: [Graph.Node] = []
        while !remaining.isEmpty {
            var progressed = false
            remaining.removeAll { node in
                guard node.inputs.allSatisfy({ $0.isEmpty || ready.contains($0) }) else { return false }
                ordered.append(node)
                ready.formUnion(node.outputs)
                progressed = true
                return true
            }
            if !progressed {
                // Nodes reading tensors nobody produces: keep them (they fail only if needed).
                ordered.append(contentsOf: remaining)
                break
            }
        }
        return ordered
    }

    /// The model's (single) float input.
    public var input: Graph.Input {
        get throws {
            let floats = graph.inputs.filter(\.isFloat)
            guard let first = floats.first else { throw ONNXError("the model has no float input") }
            return first
        }
    }

    /// The default output: the first float graph output, or (skl2onnx) the probability tensor feeding ZipMap.
    public func defaultOutput() throws -> String {
        if let first = graph.floatOutputs.first { return first }
        if let zipMap = graph.nodes.first(where: { $0.opType == "ZipMap" }), let input = zipMap.inputs.first {
            return input
        }
        throw ONNXError("the model has no float output; pick the tensor to explain with --output (see `modscope inspect`)")
    }

    /// Resolves a user-given tensor or node name (`--layer`, `--output`) to a tensor name, suggesting close
    /// names when it does not exist.
    public func resolveTensor(_ name: String, flag: String) throws -> String {
        let tensors = Set(graph.tensorNames).union(graph.inputs.map(\.name))
        if tensors.contains(name) { return name }
        if let index = nodeNames[name], let output = graph.nodes[index].outputs.first { return output }
        let candidates = Array(tensors) + Array(nodeNames.keys)
        let suggestions = candidates
            .map { ($0, EditDistance.between($0.lowercased(), name.lowercased())) }
            .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .prefix(3).map { "'\($0.0)'" }
        throw ONNXError(
            "\(flag) '\(name)' is not a tensor or node of the model; did you mean \(suggestions.joined(separator: ", "))? Run `modscope inspect` to list them")
    }

    /// A plan computing `targets`, with graph errors turned into ONNX errors.
    public func plan(targets: [String]) throws -> ExecutionPlan {
        do { return try ExecutionPlan(graph: graph, targets: targets) } catch let error as GraphError {
            throw ONNXError(error.message)
        }
    }

    /// Checks samples against the model input: the per-sample shape, and a dynamic batch dimension (ModScope
    /// evaluates many samples and integration steps per call, so a batch size fixed at export cannot work).
    /// - Parameter sampleShape: the shape of one sample (without the batch dimension).
    public func validate(sampleShape: [Int]) throws {
        try validate(input: try self.input, sampleShape: sampleShape)
    }

    /// Checks one input's per-sample shape (see `validate(sampleShape:)`).
    public func validate(input: Graph.Input, sampleShape: [Int]) throws {
        let expected = Array(input.dimensions.dropFirst())
        let matches = expected.count == sampleShape.count && zip(expected, sampleShape).allSatisfy { $0 == nil || $0 == $1 }
        if !matches {
            let wanted = expected.map { $0.map(String.init) ?? "?" }.joined(separator: "×")
            throw ONNXError(
                "the data has samples of shape \(sampleShape.map(String.init).joined(separator: "×")) but model input '\(input.name)' expects \(wanted) per sample; reshape the data (N, \(wanted)) or pick the matching model")
        }
        if let fixed = input.dimensions.first ?? nil {
            throw ONNXError(
                "model input '\(input.name)' has a fixed batch size of \(fixed) (it was exported without a dynamic batch axis), but ModScope runs many samples and integration steps per batch; re-export it with a dynamic batch dimension (torch.onnx.export(..., dynamic_axes={'\(input.name)': {0: 'batch'}}) or dynamic_shapes)")
        }
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
enum EditDistance {
    static func between(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8), y = Array(b.utf8)
        if x.isEmpty { return y.count }
        var previous = Array(0...y.count)
        var current = previous
        for i in 1...x.count {
            current[0] = i
            for j in 1...max(y.count, 1) where !y.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }
}
