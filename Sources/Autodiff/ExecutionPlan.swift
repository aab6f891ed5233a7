import TensorCore

/// Replaces a tensor's value during a forward pass (layer interpolation, ablation). Receives the computed
/// value; what it returns is what every consumer sees.
public typealias TensorReplacement = @Sendable (Tensor) throws -> Tensor

/// Overrides an operator's VJP (DeepLIFT's rescale rule, guided ReLU). Return nil to use the default rule.
public typealias BackwardRule = @Sendable (_ node: Graph.Node, _ context: BackwardContext) throws -> [Tensor?]?

/// What the user can do about a node that fails on the model's own shapes or values.
enum ModelAdvice {
    static let rerunChecker =
        "; the model is invalid here — check it with onnx.checker.check_model(model, full_check=True) and onnx.shape_inference, then repair or re-export it"
}

/// The nodes needed for a set of target tensors, checked once, ready to run on any batch.
///
/// Pruning: only ancestors of the targets run, so branches feeding other outputs (skl2onnx's ZipMap and label
/// branch) never block a model. A needed node without a supported operator fails here, at plan time.
public struct ExecutionPlan: Sendable {
    public let graph: Graph
    public let nodeIndices: [Int]
    public let targets: [String]
    /// Intermediate tensors supplied as feeds: the nodes that produce them are not run.
    public let fedTensors: Set<String>

    /// - Parameter fed: intermediate tensors that `forward` will receive as feeds (layer-space integration,
    ///   affine-prefix interpolation); their producers are pruned.
    public init(graph: Graph, targets: [String], fed: Set<String> = []) throws {
        let known = Set(graph.tensorNames).union(graph.inputs.map(\.name)).union(graph.constants.keys)
        for target in targets where !known.contains(target) {
            throw GraphError("tensor '\(target)' is not in the graph")
        }
        self.graph = graph
        self.targets = targets
        self.fedTensors = fed
        self.nodeIndices = graph.ancestorNodes(of: targets, fed: fed)
        for index in nodeIndices where graph.nodes[index].op == nil {
            let node = graph.nodes[index]
            throw GraphError(
                node.unsupportedReason
                    ?? "operator \(node.qualifiedOpType) (opset \(node.opsetVersion)) in node '\(node.name)' is not supported")
        }
    }

    /// Graph inputs the plan reads.
    public var requiredInputs: [Graph.Input] {
        let read = Set(nodeIndices.flatMap { graph.nodes[$0].inputs }).union(targets).subtracting(fedTensors)
        return graph.inputs.filter { read.contains($0.name) }
    }

    /// Whether the plan reads graph input `name` (false when every path from it passes a fed tensor).
    public func reads(_ name: String) -> Bool {
        Set(nodeIndices.flatMap { graph.nodes[$0].inputs }).union(targets).contains(name) && !fedTensors.contains(name)
    }

    /// Runs the plan. `feeds` maps graph input names to values; `replacing` substitutes tensor values as they
    /// are produced (also graph inputs). Every intermediate value is kept for the backward pass.
    public func forward(feeds: [String: Value], replacing replacements: [String: TensorReplacement] = [:]) throws -> Execution {
        var values = graph.constants
        for (name, value) in feeds {
            if let replacement = replacements[name], case .float(let tensor) = value {
                values[name] = .float(try replacement(tensor))
            } else {
                values[name] = value
            }
        }
        for index in nodeIndices {
            let node = graph.nodes[index]
            var inputs = [Value?]()
            inputs.reserveCapacity(node.inputs.count)
            for name in node.inputs {
                if name.isEmpty { inputs.append(nil); continue }
                guard let value = values[name] else {
                    throw GraphError("node '\(node.name)' (\(node.opType)) reads tensor '\(name)', which has no value; is the input fed?")
                }
                inputs.append(value)
            }
            let outputs: [Value]
            do {
                outputs = try node.op!.forward(inputs)
            } catch let error as GraphError {
                let advice = error.cause == .model ? ModelAdvice.rerunChecker : ""
                throw GraphError("node '\(node.name)' (\(node.opType)): \(error.message)\(advice)", cause: error.cause)
            }
            for (name, value) in zip(node.outputs, outputs) where !name.isEmpty {
                if let replacement = replacements[name], case .float(let tensor) = value {
                    let replaced = try replacement(tensor)
                    guard replaced.shape == tensor.shape else {
                        throw GraphError(
                            "replacement for '\(name)' changed its shape from \(tensor.shape) to \(replaced.shape)", cause: .internalError)
                    }
                    values[name] = .float(replaced)
                } else {
                    values[name] = value
                }
            }
        }
        return Execution(plan: self, values: values)
    }
}

/// The values of one forward pass, and reverse-mode gradients through it.
public struct Execution: Sendable {
    public let plan: ExecutionPlan
    public private(set) var values: [String: Value]

    /// A float tensor computed (or fed) in this pass.
    public func tensor(_ name: String) throws -> Tensor {
        guard let value = values[name] else { throw GraphError("tensor '\(name)' was not computed in this pass") }
        guard case .float(let tensor) = value else { throw GraphError("tensor '\(name)' is not a float tensor") }
        return tensor
    }

    /// Reverse mode: gradients of Σ_t ⟨seed_t, t⟩ over the seeded tensors with respect to each `wrt` tensor.
    ///
    /// With a one-hot seed on the output (`seed[i, target_i] = 1`) this is the gradient of Σ_i out[i, target_i],
    /// per sample because rows are independent. Only nodes between the `wrt` tensors and the seeds are visited,
    /// and ops are told which inputs need a gradient (weight gradients are skipped). `rule` may override any
    /// node's VJP. A `wrt` tensor the seeds do not depend on gets a zero gradient.
    public func gradients(
        seeds: [String: Tensor], withRespectTo wrt: [String], rule: BackwardRule? = nil
    ) throws -> [String: Tensor] {
        let graph = plan.graph
        let wanted = Set(wrt)
        let live = graph.descendants(of: wanted)
        var gradients: [String: Tensor] = [:]
        for (name, seed) in seeds {
            let value = try tensor(name)
            guard seed.shape == value.shape else {
                throw GraphError("seed for '\(name)' has shape \(seed.shape) but the tensor has \(value.shape)")
            }
            gradients[name] = seed
        }
        for index in plan.nodeIndices.reversed() {
            let node = graph.nodes[index]
            let outputGradients = node.outputs.map { gradients[$0] }
            if outputGradients.allSatisfy({ $0 == nil }) { continue }
            let inputs: [Value?] = node.inputs.map { $0.isEmpty ? nil : values[$0] }
            let needs = zip(node.inputs, inputs).map { name, value -> Bool in
                guard !name.isEmpty, live.contains(name), case .float? = value else { return false }
                return true
            }
            // Gradients of this node's outputs are consumed here; keep only the requested ones.
            for name in node.outputs where !wanted.contains(name) { gradients[name] = nil }
            if !needs.contains(true) { continue }
            if !node.traits.differentiable { throw Self.notDifferentiable(node, seeds: Array(seeds.keys), wrt: wrt) }
            let context = BackwardContext(
                inputs: inputs, outputs: node.outputs.map { values[$0] ?? .float(Tensor(zeros: [])) },
                outputGradients: outputGradients, needsGradient: needs)
            let inputGradients: [Tensor?]
            do {
                if let rule, let overridden = try rule(node, context) {
                    inputGradients = overridden
                } else {
                    inputGradients = try node.op!.backward(context)
                }
            } catch let error as GraphError {
                throw GraphError("backward through node '\(node.name)' (\(node.opType)): \(error.message)", cause: error.cause)
            }
            for (position, name) in node.inputs.enumerated() where needs[position] {
                guard position < inputGradients.count, let gradient = inputGradients[position] else { continue }
                guard gradient.shape == inputs[position]!.shape else {
                    throw GraphError(
                        "VJP of node '\(node.name)' (\(node.opType)) returned shape \(gradient.shape) for input '\(name)' of shape \(inputs[position]!.shape)",
                        cause: .internalError)
                }
                if let existing = gradients[name] {
                    gradients[name] = existing.zipMap(gradient, +)
                } else {
                    gradients[name] = gradient
                }
            }
        }
        var result: [String: Tensor] = [:]
        for name in wrt {
            result[name] = try gradients[name] ?? Tensor(zeros: tensor(name).shape)
        }
        return result
    }

    /// Refuses, before any backward pass, a node on the gradient path whose operator has no VJP.
    ///
    /// The gradient path: nodes with a float input that depends (through float tensors) on a `wrt` tensor and a
    /// float output that the seeded tensors depend on. Integer/boolean outputs (Shape, Equal, And…) carry no
    /// gradient, so such ops are off the path even when they read a live tensor. Uses this pass's values to
    /// tell float from integer tensors; run it on a probe pass when a plan is built.
    public func checkGradientPath(seeds: [String], withRespectTo wrt: [String]) throws {
        let graph = plan.graph
        let upstream = Set(graph.ancestorNodes(of: seeds, fed: plan.fedTensors).flatMap { graph.nodes[$0].outputs })
            .union(seeds)
        var carrying = Set(wrt.filter { if case .float? = values[$0] { return true } else { return false } })
        for index in plan.nodeIndices {
            let node = graph.nodes[index]
            guard node.inputs.contains(where: { carrying.contains($0) }) else { continue }
            let floatOutputs = node.outputs.filter { name in
                guard !name.isEmpty, case .float? = values[name] else { return false }
                return true
            }
            if !node.traits.differentiable, floatOutputs.contains(where: { upstream.contains($0) }) {
                throw Self.notDifferentiable(node, seeds: seeds, wrt: wrt)
            }
            carrying.formUnion(floatOutputs)
        }
    }

    static func notDifferentiable(_ node: Graph.Node, seeds: [String], wrt: [String]) -> GraphError {
        GraphError(
            "node '\(node.name)' (\(node.qualifiedOpType)) lies on the gradient path from \(seeds.sorted().map { "'\($0)'" }.joined(separator: ", ")) back to \(wrt.map { "'\($0)'" }.joined(separator: ", ")), but operator \(node.qualifiedOpType) has no gradient; choose a --layer and --output whose path avoids it, or give the operator a VJP in its registry entry")
    }
}
