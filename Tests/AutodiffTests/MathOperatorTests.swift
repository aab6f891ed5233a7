import Foundation
import Testing
import TensorCore
@testable import Autodiff

/// Forward values and finite-difference VJPs of the elementwise, comparison and normalisation operators.
@Suite struct MathOperatorTests {
    /// Inputs in [−4, 4] kept 0.05 away from every kink (0, ±2.5 for HardSigmoid, ±3 for HardSwish).
    static func smooth(_ rng: inout SeededGenerator, _ shape: [Int] = [3, 5]) -> Tensor {
        randomTensor(shape, &rng, range: -4...4).map { x in
            [0, 2.5, -2.5, 3, -3].contains(where: { abs(x - $0) < 0.05 }) ? x + 0.1 : x
        }
    }

    @Test(arguments: [
        UnaryOperator.Kind.gelu(tanhApproximation: false), .gelu(tanhApproximation: true), .erf, .neg, .exp, .abs, .sin, .cos,
        .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSigmoid(alpha: 1 / 6, beta: 0.5), .hardSwish,
    ])
    func unaryGradient(kind: UnaryOperator.Kind) throws {
        var rng = SeededGenerator(seed: 21)
        let x = Self.smooth(&rng).map { kind == .exp ? $0 / 2 : $0 }
        try checkGradient(UnaryOperator(kind), inputs: [.float(x)], differentiable: [0])
    }

    @Test(arguments: [UnaryOperator.Kind.sqrt, .log, .reciprocal])
    func positiveDomainGradient(kind: UnaryOperator.Kind) throws {
        var rng = SeededGenerator(seed: 22)
        try checkGradient(UnaryOperator(kind), inputs: [.float(randomTensor([4, 3], &rng, range: 0.5...2))], differentiable: [0])
    }

    /// Values from torch 2.15 (F.gelu exact/tanh, F.hardswish, F.hardsigmoid, torch.erf) at x = −3.5, −1, 0.5, 3.
    @Test func unaryForwardMatchesTorch() throws {
        let x = Value.float(Tensor(shape: [4], storage: [-3.5, -1, 0.5, 3]))
        func run(_ kind: UnaryOperator.Kind) throws -> [Float] {
            guard case .float(let y) = try UnaryOperator(kind).forward([x])[0] else { return [] }
            return y.storage
        }
        let expected: [(UnaryOperator.Kind, [Float])] = [
            (.gelu(tanhApproximation: false), [-8.1402e-04, -1.5866e-01, 3.4571e-01, 2.9960e+00]),
            (.gelu(tanhApproximation: true), [-6.1615e-04, -1.5881e-01, 3.4571e-01, 2.9964e+00]),
            (.hardSwish, [0, -0.33333334, 0.29166666, 3]),
            (.hardSigmoid(alpha: 1 / 6, beta: 0.5), [0, 0.33333334, 0.5833333, 1]),
            (.erf, [-0.99999926, -0.8427008, 0.5204999, 0.9999779]),
        ]
        for (kind, values) in expected {
            let y = try run(kind)
            for (a, b) in zip(y, values) { #expect(abs(a - b) <= 2e-4 * max(1, abs(b)), "\(kind): \(y) vs \(values)") }
        }
    }

    @Test func powGradientInBaseAndExponent() throws {
        var rng = SeededGenerator(seed: 23)
        let base = randomTensor([3, 4], &rng, range: 0.5...2), exponent = randomTensor([4], &rng, range: -1.5...2.5)
        try checkGradient(PowOperator(), inputs: [.float(base), .float(exponent)], differentiable: [0, 1])
        let square = try PowOperator().forward([.float(Tensor(shape: [2], storage: [-3, 0.5])), .int(IntTensor(shape: [], storage: [2]))])
        #expect(square[0] == .float(Tensor(shape: [2], storage: [9, 0.25])))
        try checkGradient(PowOperator(), inputs: [.float(randomTensor([3, 2], &rng)), .float(Tensor(scalar: 3))], differentiable: [0])
    }

    @Test func maxMinGradientGoesToTheSelectedInput() throws {
        var rng = SeededGenerator(seed: 24)
        let inputs: [Value?] = [.float(randomTensor([2, 3], &rng)), .float(randomTensor([3], &rng)), .float(randomTensor([2, 1], &rng))]
        try checkGradient(ExtremumOperator(maximum: true), inputs: inputs, differentiable: [0, 1, 2])
        try checkGradient(ExtremumOperator(maximum: false), inputs: inputs, differentiable: [0, 1, 2])
    }

    /// torch.maximum's tie rule: the gradient is split evenly between tied inputs (grad/2 for two).
    @Test func maxTiesSplitTheGradientEvenly() throws {
        let a = Tensor(shape: [3], storage: [1, 2, 3]), b = Tensor(shape: [3], storage: [1, 5, 0])
        let op = ExtremumOperator(maximum: true)
        let y = try op.forward([.float(a), .float(b)])
        #expect(y[0] == .float(Tensor(shape: [3], storage: [1, 5, 3])))
        let g = try op.backward(BackwardContext(
            inputs: [.float(a), .float(b)], outputs: y, outputGradients: [Tensor(repeating: 1, shape: [3])], needsGradient: [true, true]))
        #expect(g[0]?.storage == [0.5, 0, 1])
        #expect(g[1]?.storage == [0.5, 1, 0])
        let integers = try ExtremumOperator(maximum: false).forward([.int(IntTensor([4, -2])), .int(IntTensor(shape: [], storage: [0]))])
        #expect(integers[0] == .int(IntTensor([0, -2])))
    }

    @Test func whereGradientReachesBothBranches() throws {
        var rng = SeededGenerator(seed: 25)
        let condition = Value.int(IntTensor(shape: [3, 1], storage: [1, 0, 1]))
        try checkGradient(
            WhereOperator(), inputs: [condition, .float(randomTensor([3, 4], &rng)), .float(randomTensor([4], &rng))], differentiable: [1, 2])
        let y = try WhereOperator().forward([.int(IntTensor([0, 1])), .float(Tensor(shape: [2], storage: [1, 2])), .float(Tensor(scalar: -9))])
        #expect(y[0] == .float(Tensor(shape: [2], storage: [-9, 2])))
    }

    /// numpy: mod(−7, 3) = 2, mod(7, −3) = −2; fmod(−7, 3) = −1, fmod(7, −3) = 1.
    @Test func modFollowsNumpyForBothConventions() throws {
        let a = Value.int(IntTensor([-7, 7, 6, 5])), b = Value.int(IntTensor([3, -3, 3, 0]))
        #expect(try ModOperator(fmod: false).forward([a, b])[0] == .int(IntTensor([2, -2, 0, 0])))
        #expect(try ModOperator(fmod: true).forward([a, b])[0] == .int(IntTensor([-1, 1, 0, 0])))
        let x = Value.float(Tensor(shape: [2], storage: [-7.5, 7.5])), y = Value.float(Tensor(shape: [2], storage: [2, 2]))
        #expect(try ModOperator(fmod: true).forward([x, y])[0] == .float(Tensor(shape: [2], storage: [-1.5, 1.5])))
        #expect(try ModOperator(fmod: false).forward([x, y])[0] == .float(Tensor(shape: [2], storage: [0.5, 1.5])))
        var rng = SeededGenerator(seed: 26)
        let dividend = randomTensor([3, 2], &rng, range: 2.6...2.9), divisor = randomTensor([2], &rng, range: 1.2...1.25)
        for fmod in [false, true] {
            try checkGradient(ModOperator(fmod: fmod), inputs: [.float(dividend), .float(divisor)], differentiable: [0, 1])
        }
    }

    @Test func comparisonsAndLogicGiveZeroOneIntegers() throws {
        let a = Value.float(Tensor(shape: [3], storage: [1, 2, 3])), b = Value.int(IntTensor(shape: [], storage: [2]))
        let expected: [(ComparisonOperator.Kind, [Int64])] = [
            (.equal, [0, 1, 0]), (.less, [1, 0, 0]), (.greater, [0, 0, 1]), (.lessOrEqual, [1, 1, 0]), (.greaterOrEqual, [0, 1, 1]),
        ]
        for (kind, values) in expected { #expect(try ComparisonOperator(kind).forward([a, b])[0] == .int(IntTensor(values))) }
        let p = Value.int(IntTensor([0, 1, 1, 0])), q = Value.int(IntTensor([0, 0, 1, 1]))
        #expect(try LogicalOperator(.and).forward([p, q])[0] == .int(IntTensor([0, 0, 1, 0])))
        #expect(try LogicalOperator(.or).forward([p, q])[0] == .int(IntTensor([0, 1, 1, 1])))
        #expect(try LogicalOperator(.xor).forward([p, q])[0] == .int(IntTensor([0, 1, 0, 1])))
        #expect(try LogicalOperator(.not).forward([p])[0] == .int(IntTensor([1, 0, 0, 1])))
        let special = Value.float(Tensor(shape: [4], storage: [.nan, .infinity, -.infinity, 1]))
        #expect(try FloatClassOperator(.nan).forward([special])[0] == .int(IntTensor([1, 0, 0, 0])))
        #expect(try FloatClassOperator(.infinity(negative: false, positive: true)).forward([special])[0] == .int(IntTensor([0, 1, 0, 0])))
        #expect(ComparisonOperator(.equal).defaultTraits == .nonDifferentiable)
    }

    @Test func roundingHasNoGradient() throws {
        let x = Value.float(Tensor(shape: [4], storage: [-1.5, -0.5, 0.5, 2.5]))
        #expect(try RoundingOperator(.round).forward([x])[0] == .float(Tensor(shape: [4], storage: [-2, -0, 0, 2])))
        #expect(try RoundingOperator(.floor).forward([x])[0] == .float(Tensor(shape: [4], storage: [-2, -1, 0, 2])))
        #expect(try RoundingOperator(.sign).forward([x])[0] == .float(Tensor(shape: [4], storage: [-1, -1, 1, 1])))
        let context = BackwardContext(inputs: [x], outputs: [x], outputGradients: [nil], needsGradient: [true])
        #expect(throws: GraphError.self) { try RoundingOperator(.floor).backward(context) }
    }

    @Test(arguments: [(-1, [4]), (1, [3, 4]), (-1, [1])])
    func layerNormalization(axis: Int, parameterShape: [Int]) throws {
        var rng = SeededGenerator(seed: 27)
        let x = randomTensor([2, 3, 4], &rng, range: -2...2)
        let scale = randomTensor(parameterShape, &rng, range: 0.5...1.5), bias = randomTensor(parameterShape, &rng)
        let op = LayerNormalizationOperator(axis: axis, epsilon: 1e-5)
        try checkGradient(op, inputs: [.float(x), .float(scale), .float(bias)], differentiable: [0, 1, 2])
        // Without scale and bias each row has mean 0 and (biased) variance 1.
        guard case .float(let y) = try op.forward([.float(x)])[0] else { Issue.record("no float output"); return }
        let width = axis == -1 ? 4 : 12
        for row in 0..<(y.count / width) {
            let values = y.storage[(row * width)..<((row + 1) * width)].map(Double.init)
            let mean = values.reduce(0, +) / Double(width)
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(width)
            #expect(abs(mean) < 1e-5 && abs(variance - 1) < 1e-3)
        }
    }

    @Test func broadcastIndexMapsRepeatSizeOneAxes() throws {
        let map = try BroadcastIndexing([[2, 1], [3], []])
        #expect(map.shape == [2, 3])
        #expect(map.sources[0] == [0, 0, 0, 1, 1, 1])
        #expect(map.sources[1] == [0, 1, 2, 0, 1, 2])
        #expect(map.sources[2] == [0, 0, 0, 0, 0, 0])
        #expect(throws: GraphError.self) { try BroadcastIndexing([[2], [3]]) }
    }
}
