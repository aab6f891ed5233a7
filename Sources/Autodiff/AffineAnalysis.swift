/// Which parts of a graph are affine, for the attribution shortcuts that rely on it (docs/methods.md, Speed).
///
/// An op counts as affine here when, with every input except one held constant, its output is an affine
/// function of that input and its VJP does not read that input's value (so the gradient through it is the same
/// at every point). Sums (`Add`, `Sub`) are affine jointly in all their inputs. Which ops are affine is the registry's `affine` trait
/// (`Graph.Node.traits`); the sets below refine it (which input slots, sums).
public enum AffineOperators {
    /// Op types that are (multi)linear in any one of their operands (the others constant); every other type in
    /// `types` is affine only in its first input (the data; the rest are parameters such as shapes or pads).
    static let anySlot: Set<String> = ["Gemm", "MatMul", "Conv", "Mul", "Add", "Sub"]
    /// Sums: affine in all inputs at once, so a non-constant input that does not depend on the layer (a
    /// bypass) adds a term without changing the gradient with respect to the layer.
    static let sums: Set<String> = ["Add", "Sub"]
    /// Ops whose output depends only on their input's shape, which does not change along an integration path.
    static let shapeOnly: Set<String> = ["Shape", "Size"]
}

extension Graph {
    /// Tensors whose value is the same for every input sample: constants, shape-only values (`Shape`, `Size`)
    /// and everything computed from those alone.
    public var pathConstantTensors: Set<String> {
        var constant = Set(constants.keys)
        for node in nodes
        where AffineOperators.shapeOnly.contains(node.opType)
            || node.inputs.allSatisfy({ $0.isEmpty || constant.contains($0) })
        {
            constant.formUnion(node.outputs.filter { !$0.isEmpty })
        }
        return constant
    }

    /// The furthest tensor from `input`, on a single-consumer chain of ops affine in it (Gemm, Conv, Add of a
    /// constant, BatchNormalization, …), not past `layer`. Along the straight input path its value is the
    /// interpolation T(x′) + α(T(x) − T(x′)), so it is computed at two points instead of at every step.
    public func affineFrontier(input: String, layer: String, output: String) -> String {
        let constant = pathConstantTensors
        let plan = ancestorNodes(of: [output])
        var current = input
        while current != layer {
            let consumers = plan.filter { nodes[$0].inputs.contains(current) }
            guard consumers.count == 1 else { break }
            let node = nodes[consumers[0]]
            let others = node.inputs.filter { $0 != current && !$0.isEmpty }
            guard node.traits.affine, node.outputs.count == 1 || node.opType == "Dropout",
                node.inputs.filter({ $0 == current }).count == 1,
                others.allSatisfy({ constant.contains($0) }),
                AffineOperators.anySlot.contains(node.opType) || node.inputs.first == current
            else { break }
            current = node.outputs[0]
        }
        return current
    }

    /// Whether `output` is an affine function of `layer` (every node between them is affine in its
    /// layer-dependent input, the others being constant or, for sums, independent of the layer).
    ///
    /// Then ∂output/∂layer is the same at every point, so a path integral of it against the layer's change
    /// telescopes: Σ_k g(α_k) ⊙ (y(α_{k+1}) − y(α_k)) = g ⊙ (y(α_n) − y(α_0)), exactly in real arithmetic.
    public func hasAffineSuffix(layer: String, output: String) -> Bool {
        if layer == output { return true }
        let constant = pathConstantTensors
        // Shape-only values computed from the layer (Shape → Gather → Reshape) do not vary along a path.
        let dependent = descendants(of: [layer]).subtracting(constant)
        guard dependent.contains(output) else { return false }
        for index in ancestorNodes(of: [output]) {
            let node = nodes[index]
            if node.outputs.allSatisfy({ $0.isEmpty || constant.contains($0) }) { continue }
            let fromLayer = node.inputs.enumerated().filter { !$0.element.isEmpty && dependent.contains($0.element) }
            if fromLayer.isEmpty { continue }
            guard node.traits.affine, node.op != nil else { return false }
            let others = node.inputs.filter { !$0.isEmpty && !dependent.contains($0) }
            if AffineOperators.sums.contains(node.opType) { continue }
            guard fromLayer.count == 1, others.allSatisfy({ constant.contains($0) }),
                AffineOperators.anySlot.contains(node.opType) || fromLayer[0].offset == 0
            else { return false }
        }
        return true
    }
}
