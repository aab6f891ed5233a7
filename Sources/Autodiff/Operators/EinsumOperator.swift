import TensorCore

/// ONNX Einsum for one or two operands, as a general contraction: each operand is transposed to
/// [batch, free, contracted] (labels it alone carries and the output lacks are summed first), the pair goes
/// through one `BatchedMatrixProduct` (batch labels broadcast like NumPy), and the result is reshaped and
/// transposed to the output labels. Covers what torch exports — attention `bhqd,bhkd->bhqk`, `bhqk,bhkd->bhqd`,
/// `bij,bjk->bik`, `...ij,...jk->...ik`, outer products `i,j->ij`, transposes and sums `ij->ji`, `ij->`.
/// Unsupported (an error naming the equation): three or more operands, a label repeated within one operand
/// (diagonals, traces).
/// VJP: each operand's gradient is itself a contraction — dA = einsum(g, B → A's labels), summed back over
/// broadcast batch labels; labels A alone carried are broadcast back.
public struct EinsumOperator: Operator {
    public var defaultTraits: OperatorTraits { .bilinear }
    /// One side of the equation: its labels, with the position of `...` (if any).
    struct Term: Equatable {
        var labels: [Int]
        var ellipsis: Int?

        /// The labels for an operand of `rank`, ellipsis dimensions numbered from the right so that they
        /// align like NumPy broadcasting.
        func resolved(rank: Int?) throws -> [Int] {
            guard let position = ellipsis else { return labels }
            let count = (rank ?? labels.count) - labels.count
            guard count >= 0 else { throw GraphError("Einsum term has more labels than its operand's rank \(rank ?? 0)") }
            let dims = (0..<count).map { EinsumOperator.ellipsisLabel + count - 1 - $0 }
            return Array(labels[..<position]) + dims + Array(labels[position...])
        }
    }

    /// Labels of ellipsis dimensions start here (letters are their ASCII codes, below 128).
    static let ellipsisLabel = 1000

    public let equation: String
    let operands: [Term]
    /// nil: implicit output (labels appearing once, in alphabetical order, after the ellipsis).
    let output: Term?

    public init(equation: String) throws {
        self.equation = equation
        let text = equation.filter { !$0.isWhitespace }
        let sides = text.components(separatedBy: "->")
        guard sides.count <= 2 else { throw GraphError("Einsum equation '\(equation)' has more than one '->'") }
        operands = try sides[0].split(separator: ",", omittingEmptySubsequences: false).map { try Self.term(String($0), equation) }
        output = sides.count == 2 ? try Self.term(sides[1], equation) : nil
        guard (1...2).contains(operands.count) else {
            throw GraphError("Einsum '\(equation)' has \(operands.count) operands; only one or two are supported — re-export with torch.matmul")
        }
        for term in operands + [output].compactMap({ $0 }) where Set(term.labels).count != term.labels.count {
            throw GraphError("Einsum '\(equation)' repeats a label within one term (a diagonal or trace), which is not supported")
        }
    }

    static func term(_ text: String, _ equation: String) throws -> Term {
        var labels = [Int](), ellipsis: Int?
        var rest = Substring(text)
        while let first = rest.first {
            if rest.hasPrefix("...") {
                guard ellipsis == nil else { throw GraphError("Einsum '\(equation)' has two ellipses in one term") }
                ellipsis = labels.count
                rest = rest.dropFirst(3)
                continue
            }
            guard first.isASCII, first.isLetter, let code = first.asciiValue else {
                throw GraphError("Einsum '\(equation)' has the invalid label '\(first)'; labels are letters")
            }
            labels.append(Int(code))
            rest = rest.dropFirst()
        }
        return Term(labels: labels, ellipsis: ellipsis)
    }

    /// The operands' labels and the output's, resolved for the operand ranks.
    func labels(_ shapes: [[Int]]) throws -> (inputs: [[Int]], output: [Int]) {
        guard shapes.count == operands.count else {
            throw GraphError("Einsum '\(equation)' needs \(operands.count) inputs, got \(shapes.count)")
        }
        let inputs = try zip(operands, shapes).map { term, shape -> [Int] in
            let labels = try term.resolved(rank: shape.count)
            guard labels.count == shape.count else {
                throw GraphError("Einsum '\(equation)': term of \(labels.count) labels for an operand of shape \(shape)")
            }
            return labels
        }
        let ellipsisRank = zip(operands, shapes).map { $0.ellipsis == nil ? 0 : $1.count - $0.labels.count }.max() ?? 0
        let ellipsisLabels = (0..<ellipsisRank).map { Self.ellipsisLabel + ellipsisRank - 1 - $0 }
        if let output {
            let resolved = output.ellipsis == nil ? output.labels
                : Array(output.labels[..<output.ellipsis!]) + ellipsisLabels + Array(output.labels[output.ellipsis!...])
            for label in resolved where !inputs.contains(where: { $0.contains(label) }) {
                throw GraphError("Einsum '\(equation)': an output label appears in no input")
            }
            return (inputs, resolved)
        }
        let letters = inputs.flatMap { $0 }.filter { $0 < Self.ellipsisLabel }
        let once = Set(letters.filter { l in letters.filter { $0 == l }.count == 1 }).sorted()
        return (inputs, ellipsisLabels + once)
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let tensors = try inputs.indices.map { try inputs.float($0, "Einsum operand") }
        let (labels, output) = try self.labels(tensors.map(\.shape))
        let (b, bLabels) = tensors.count == 2 ? (tensors[1], labels[1]) : (Tensor(scalar: 1), [])
        var sizes: [Int: Int] = [:]
        for (tensor, ls) in zip(tensors, labels) {
            for (label, size) in zip(ls, tensor.shape) { sizes[label] = Swift.max(sizes[label] ?? 1, size) }
        }
        let shape = output.map { sizes[$0]! }
        return [.float(try Self.contract(tensors[0], labels[0], b, bLabels, output: output, shape: shape))]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let tensors = try context.inputs.indices.map { try context.floatInput($0) }
        let (labels, output) = try self.labels(tensors.map(\.shape))
        let g = try context.outputGradient()
        return try tensors.indices.map { index in
            guard context.needsGradient[index] else { return nil }
            let other = tensors.count == 2 ? (tensors[1 - index], labels[1 - index]) : (Tensor(scalar: 1), [])
            return try Self.contract(g, output, other.0, other.1, output: labels[index], shape: tensors[index].shape)
        }
    }

    /// Σ over the labels not in `output` of a[aLabels]·b[bLabels], as a tensor of `shape` laid out by `output`.
    /// Output labels in neither operand are broadcast; output dimensions of size 1 that the operands carry
    /// larger (broadcast batch labels) are summed.
    static func contract(_ a: Tensor, _ aLabels: [Int], _ b: Tensor, _ bLabels: [Int], output: [Int], shape: [Int]) throws -> Tensor {
        let (a, aLabels) = sumOut(a, aLabels, keeping: Set(bLabels).union(output))
        let (b, bLabels) = sumOut(b, bLabels, keeping: Set(aLabels).union(output))
        let batch = aLabels.filter { bLabels.contains($0) && output.contains($0) }
        let contracted = aLabels.filter { bLabels.contains($0) && !output.contains($0) }
        let left = aLabels.filter { !bLabels.contains($0) }, right = bLabels.filter { !aLabels.contains($0) }
        func size(_ t: Tensor, _ ls: [Int], _ label: Int) -> Int { t.shape[ls.firstIndex(of: label)!] }
        for label in contracted where size(a, aLabels, label) != size(b, bLabels, label) {
            throw GraphError("Einsum contracts a label over sizes \(size(a, aLabels, label)) and \(size(b, bLabels, label))")
        }
        let (m, k, n) = (left.reduce(1) { $0 * size(a, aLabels, $1) }, contracted.reduce(1) { $0 * size(a, aLabels, $1) },
            right.reduce(1) { $0 * size(b, bLabels, $1) })
        let aMatrix = permuted(a, aLabels, to: batch + left + contracted).reshaped(batch.map { size(a, aLabels, $0) } + [m, k])
        let bMatrix = permuted(b, bLabels, to: batch + contracted + right).reshaped(batch.map { size(b, bLabels, $0) } + [k, n])
        let product = BatchedMatrixProduct.product(aMatrix, bMatrix)
        let productLabels = batch + left + right
        let productShape = Array(product.shape.dropLast(2)) + left.map { size(a, aLabels, $0) } + right.map { size(b, bLabels, $0) }
        // Output labels neither operand carries enter as size-1 axes and are broadcast to the requested size.
        let missing = output.filter { !productLabels.contains($0) }
        let full = product.reshaped(productShape + missing.map { _ in 1 })
        let arranged = permuted(full, productLabels + missing, to: output)
        let broadcastShape = zip(arranged.shape, shape).map { $0 == 1 ? $1 : $0 }
        return Broadcasting.reduceSum(arranged.broadcast(to: broadcastShape), toShape: shape)
    }

    /// Sums the axes whose labels are not in `keeping`.
    static func sumOut(_ t: Tensor, _ labels: [Int], keeping: Set<Int>) -> (Tensor, [Int]) {
        let drop = Set(labels.indices.filter { !keeping.contains(labels[$0]) })
        if drop.isEmpty { return (t, labels) }
        return (t.sum(overAxes: drop, keepDimensions: false), labels.indices.filter { !drop.contains($0) }.map { labels[$0] })
    }

    /// `t` (axes labelled `labels`) transposed so that its axes follow `order`.
    static func permuted(_ t: Tensor, _ labels: [Int], to order: [Int]) -> Tensor {
        let permutation = order.map { labels.firstIndex(of: $0)! }
        return permutation == Array(permutation.indices) ? t : t.transposed(permutation)
    }
}
