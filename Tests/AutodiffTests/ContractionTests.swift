import Testing
import TensorCore
@testable import Autodiff

/// Einsum by brute force over every label assignment: the reference for `EinsumOperator` (letters only).
private func naiveEinsum(_ equation: String, _ operands: [Tensor]) -> Tensor {
    let sides = equation.components(separatedBy: "->")
    let terms = sides[0].split(separator: ",").map { Array($0) }
    let output = Array(sides[1])
    var sizes: [Character: Int] = [:]
    for (term, t) in zip(terms, operands) { for (label, size) in zip(term, t.shape) { sizes[label] = size } }
    let labels = Array(Set(terms.flatMap { $0 })).sorted()
    let outShape = output.map { sizes[$0]! }
    var result = [Double](repeating: 0, count: outShape.reduce(1, *))
    var assignment = [Character: Int]()
    func visit(_ depth: Int) {
        if depth == labels.count {
            var product = 1.0
            for (term, t) in zip(terms, operands) {
                product *= Double(t.storage[zip(term, t.strides).reduce(0) { $0 + assignment[$1.0]! * $1.1 }])
            }
            result[zip(output, Tensor.strides(of: outShape)).reduce(0) { $0 + assignment[$1.0]! * $1.1 }] += product
            return
        }
        for i in 0..<sizes[labels[depth]]! {
            assignment[labels[depth]] = i
            visit(depth + 1)
        }
    }
    visit(0)
    return Tensor(shape: outShape, storage: result.map { Float($0) })
}

private func maxDifference(_ a: Value, _ b: Tensor) -> Float {
    guard case .float(let t) = a, t.shape == b.shape else { return .infinity }
    return zip(t.storage, b.storage).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Batched MatMul, Einsum and the axis reductions: forward against brute force, VJPs by finite differences.
@Suite struct ContractionTests {
    @Test(arguments: [
        ([2, 3, 4, 5], [2, 3, 5, 4]), ([2, 1, 3, 4], [1, 2, 4, 3]), ([3, 4], [2, 4, 5]), ([2, 3, 4], [4, 2]),
        ([2, 3, 4], [1, 4, 2]), ([5], [2, 5, 3]),
    ])
    func batchedMatMul(aShape: [Int], bShape: [Int]) throws {
        var rng = SeededGenerator(seed: 31)
        let a = randomTensor(aShape, &rng), b = randomTensor(bShape, &rng)
        try checkGradient(MatMulOperator(), inputs: [.float(a), .float(b)], differentiable: [0, 1])
        // Against the broadcast-materialised loop.
        let l = try MatMulOperator.layout(aShape, bShape)
        let fullA = a.reshaped(l.aShape).broadcast(to: l.batch + [l.m, l.k])
        let fullB = b.reshaped(l.bShape).broadcast(to: l.batch + [l.k, l.n])
        var expected = [Float]()
        for slice in 0..<l.batch.reduce(1, *) {
            for i in 0..<l.m {
                for j in 0..<l.n {
                    var sum: Float = 0
                    for p in 0..<l.k { sum += fullA.storage[(slice * l.m + i) * l.k + p] * fullB.storage[(slice * l.k + p) * l.n + j] }
                    expected.append(sum)
                }
            }
        }
        let y = try MatMulOperator().forward([.float(a), .float(b)])[0]
        #expect(maxDifference(y, Tensor(shape: l.outShape, storage: expected)) < 1e-5)
    }

    @Test(arguments: [
        ("bhqd,bhkd->bhqk", [[2, 2, 3, 4], [2, 2, 5, 4]]), ("bhqk,bhkd->bhqd", [[2, 2, 3, 5], [2, 2, 5, 4]]),
        ("bij,bjk->bik", [[2, 3, 4], [2, 4, 2]]), ("i,j->ij", [[3], [4]]), ("ij->ji", [[3, 4]]), ("ij->", [[3, 4]]),
        ("bik,kj->bij", [[2, 3, 4], [4, 5]]), ("abc,cd->abd", [[1, 3, 4], [4, 2]]), ("ijk->ki", [[2, 3, 4]]),
        ("bn,anm->bam", [[2, 3], [4, 3, 2]]),
    ])
    func einsumMatchesBruteForce(equation: String, shapes: [[Int]]) throws {
        var rng = SeededGenerator(seed: 32)
        let operands = shapes.map { randomTensor($0, &rng) }
        let op = try EinsumOperator(equation: equation)
        let y = try op.forward(operands.map { .float($0) })[0]
        #expect(maxDifference(y, naiveEinsum(equation, operands)) < 1e-5)
        try checkGradient(op, inputs: operands.map { .float($0) }, differentiable: Array(operands.indices))
    }

    @Test func einsumEllipsisAndImplicitOutput() throws {
        var rng = SeededGenerator(seed: 33)
        let a = randomTensor([2, 3, 4], &rng), b = randomTensor([2, 4, 5], &rng)
        let y = try EinsumOperator(equation: "...ij,...jk->...ik").forward([.float(a), .float(b)])[0]
        #expect(maxDifference(y, naiveEinsum("zij,zjk->zik", [a, b])) < 1e-5)
        // Ellipsis batch of size 1 broadcast against 2, and its VJP summed back.
        let c = randomTensor([1, 3, 4], &rng)
        try checkGradient(try EinsumOperator(equation: "...ij,...jk"), inputs: [.float(c), .float(b)], differentiable: [0, 1])
        let implicit = try EinsumOperator(equation: "ij,jk").forward([.float(a.reshaped([6, 4])), .float(b.reshaped([4, 10]))])[0]
        #expect(implicit.shape == [6, 10])
        #expect(throws: GraphError.self) { try EinsumOperator(equation: "ii->i") }
        #expect(throws: GraphError.self) { try EinsumOperator(equation: "a,b,c->abc") }
        #expect(throws: GraphError.self) { try EinsumOperator(equation: "ij->k").forward([.float(a.reshaped([6, 4]))]) }
        #expect(throws: GraphError.self) { try EinsumOperator(equation: "ij,jk->ik").forward([.float(a), .float(b)]) }
    }

    @Test(arguments: AxisReductionOperator.Kind.allCases)
    func axisReductions(kind: AxisReductionOperator.Kind) throws {
        var rng = SeededGenerator(seed: 34)
        // Distinct magnitudes away from 0 so max/min/L1 are differentiable at the test point.
        let x = Tensor(shape: [2, 3, 4], storage: (0..<24).map { Float($0 + 1) * 0.04 * ($0 % 3 == 0 ? -1 : 1) }.shuffled(using: &rng))
        try checkGradient(AxisReductionOperator(kind, axes: [1, -1], keepDimensions: false), inputs: [.float(x)], differentiable: [0])
        try checkGradient(AxisReductionOperator(kind), inputs: [.float(x), .int(IntTensor([0]))], differentiable: [0])
        try checkGradient(AxisReductionOperator(kind, noopWithEmptyAxes: true), inputs: [.float(x)], differentiable: [0])
    }

    @Test func axisReductionValues() throws {
        let x = Value.float(Tensor(shape: [2, 3], storage: [1, -5, 2, 0, 3, 4]))
        func run(_ kind: AxisReductionOperator.Kind) throws -> Value {
            try AxisReductionOperator(kind, axes: [1], keepDimensions: false).forward([x])[0]
        }
        #expect(try run(.max) == .float(Tensor(shape: [2], storage: [2, 4])))
        #expect(try run(.min) == .float(Tensor(shape: [2], storage: [-5, 0])))
        #expect(try run(.l1) == .float(Tensor(shape: [2], storage: [8, 7])))
        #expect(try run(.l2) == .float(Tensor(shape: [2], storage: [Float(30).squareRoot(), 5])))
        #expect(try run(.prod) == .float(Tensor(shape: [2], storage: [-10, 0])))
        #expect(try run(.sumSquare) == .float(Tensor(shape: [2], storage: [30, 25])))
        #expect(try AxisReductionOperator(.prod, keepDimensions: false).forward([.int(IntTensor([2, 3, 4]))])[0] == .int(IntTensor(shape: [], storage: [24])))
        #expect(try AxisReductionOperator(.max, keepDimensions: true).forward([.int(IntTensor([2, 9, 4]))])[0] == .int(IntTensor([9])))
        // The product's VJP at a zero is the product of the others, not a division by zero.
        let context = BackwardContext(
            inputs: [x], outputs: [try run(.prod)], outputGradients: [Tensor(repeating: 1, shape: [2])], needsGradient: [true])
        let dx = try AxisReductionOperator(.prod, axes: [1], keepDimensions: false).backward(context)[0]
        #expect(dx == Tensor(shape: [2, 3], storage: [-10, 2, -5, 12, 0, 0]))
    }
}
