import Testing
import TensorCore
@testable import Autodiff

private func floats(_ shape: [Int], _ values: [Float]) -> Value { .float(Tensor(shape: shape, storage: values)) }
private func ints(_ shape: [Int], _ values: [Int64]) -> Value { .int(IntTensor(shape: shape, storage: values)) }
private func iota(_ shape: [Int]) -> Tensor { Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map(Float.init)) }

/// Expand, Tile, GatherElements, GatherND, Split, Range, Trilu, CumSum: forward values from the ONNX
/// operator documentation (checked against onnxruntime), on float and INT64 data, and VJPs by finite differences.
@Suite struct IndexOperatorTests {
    @Test func expandBroadcastsBothWays() throws {
        let x = floats([3, 1], [1, 2, 3])
        let y = try ExpandOperator().forward([x, ints([3], [2, 1, 4])])[0]
        #expect(y.shape == [2, 3, 4])
        guard case .float(let t) = y else { Issue.record("not float"); return }
        #expect(Array(t.storage[0..<8]) == [1, 1, 1, 1, 2, 2, 2, 2])
        #expect(try ExpandOperator().forward([ints([2], [7, 8]), ints([2], [2, 1])])[0] == ints([2, 2], [7, 8, 7, 8]))
        #expect(throws: GraphError.self) { try ExpandOperator().forward([x, ints([2], [2, 1])]) }
        var rng = SeededGenerator(seed: 21)
        try checkGradient(ExpandOperator(), inputs: [.float(randomTensor([3, 1], &rng)), ints([3], [2, 3, 4])], differentiable: [0])
    }

    @Test func tileRepeatsEachAxis() throws {
        let y = try TileOperator().forward([floats([2, 2], [1, 2, 3, 4]), ints([2], [1, 2])])[0]
        #expect(y == floats([2, 4], [1, 2, 1, 2, 3, 4, 3, 4]))
        #expect(try TileOperator().forward([ints([2], [5, 6]), ints([1], [3])])[0] == ints([6], [5, 6, 5, 6, 5, 6]))
        #expect(throws: GraphError.self) { try TileOperator().forward([floats([2], [1, 2]), ints([1], [-1])]) }
        var rng = SeededGenerator(seed: 22)
        try checkGradient(TileOperator(), inputs: [.float(randomTensor([2, 3], &rng)), ints([2], [2, 2])], differentiable: [0])
    }

    @Test func gatherElementsFollowsTheSpecExamples() throws {
        let y = try GatherElementsOperator(axis: 1).forward([floats([2, 2], [1, 2, 3, 4]), ints([2, 2], [0, 0, 1, 0])])[0]
        #expect(y == floats([2, 2], [1, 1, 4, 3]))
        let z = try GatherElementsOperator(axis: 0).forward([.float(iota([3, 3])), ints([2, 3], [1, 2, 0, 2, -3, 0])])[0]
        #expect(z == floats([2, 3], [3, 7, 2, 6, 1, 2]))
        #expect(throws: GraphError.self) { try GatherElementsOperator(axis: 0).forward([.float(iota([2, 2])), ints([1, 2], [2, 0])]) }
        var rng = SeededGenerator(seed: 23)
        // Repeated indices: the VJP must add.
        try checkGradient(
            GatherElementsOperator(axis: -1), inputs: [.float(randomTensor([2, 3], &rng)), ints([2, 4], [0, 0, 2, 1, 2, 2, 1, -1])],
            differentiable: [0])
    }

    @Test func gatherNDWithAndWithoutBatchDimensions() throws {
        let data = iota([2, 2])
        #expect(try GatherNDOperator().forward([.float(data), ints([2, 2], [0, 0, 1, 1])])[0] == floats([2], [0, 3]))
        #expect(try GatherNDOperator().forward([.float(data), ints([2, 1], [1, 0])])[0] == floats([2, 2], [2, 3, 0, 1]))
        let cube = iota([2, 2, 2])
        #expect(try GatherNDOperator().forward([.float(cube), ints([2, 1, 2], [0, 1, 1, 0])])[0] == floats([2, 1, 2], [2, 3, 4, 5]))
        #expect(try GatherNDOperator(batchDimensions: 1).forward([.float(cube), ints([2, 1], [1, 0])])[0] == floats([2, 2], [2, 3, 4, 5]))
        #expect(throws: GraphError.self) { try GatherNDOperator().forward([.float(data), ints([1, 3], [0, 0, 0])]) }
        var rng = SeededGenerator(seed: 24)
        try checkGradient(
            GatherNDOperator(batchDimensions: 1), inputs: [.float(randomTensor([2, 3, 2], &rng)), ints([2, 2, 1], [2, 2, 0, -1])],
            differentiable: [0])
    }

    @Test func splitBySizesEqualAndUnevenPieces() throws {
        let x = Value.float(iota([2, 5]))
        let bySizes = try SplitOperator(axis: 1, outputCount: 2).forward([x, ints([2], [2, 3])])
        #expect(bySizes == [floats([2, 2], [0, 1, 5, 6]), floats([2, 3], [2, 3, 4, 7, 8, 9])])
        let attribute = try SplitOperator(axis: -1, sizes: [4, 1], outputCount: 2).forward([x])
        #expect(attribute.map(\.shape) == [[2, 4], [2, 1]])
        let uneven = try SplitOperator(axis: 1, outputCount: 3, allowsUnevenPieces: true).forward([x])
        #expect(uneven.map(\.shape) == [[2, 2], [2, 2], [2, 1]])
        #expect(throws: GraphError.self) { try SplitOperator(axis: 1, outputCount: 2).forward([x]) }
        #expect(throws: GraphError.self) { try SplitOperator(axis: 1, outputCount: 2).forward([x, ints([2], [2, 2])]) }
        let shapeParts = try SplitOperator(axis: 0, outputCount: 2).forward([ints([4], [1, 2, 3, 4])])
        #expect(shapeParts == [ints([2], [1, 2]), ints([2], [3, 4])])
        // VJP: the pieces' gradients side by side, zeros for a piece without one.
        let context = BackwardContext(
            inputs: [x, ints([2], [2, 3])], outputs: bySizes,
            outputGradients: [Tensor(repeating: 1, shape: [2, 2]), nil], needsGradient: [true, false])
        let dx = try SplitOperator(axis: 1, outputCount: 2).backward(context)[0]
        #expect(dx == Tensor(shape: [2, 5], storage: [1, 1, 0, 0, 0, 1, 1, 0, 0, 0]))
    }

    @Test func rangeOnIntegersAndFloats() throws {
        let scalar = { (v: Int64) in ints([], [v]) }
        #expect(try RangeOperator().forward([scalar(3), scalar(9), scalar(3)])[0] == ints([2], [3, 6]))
        #expect(try RangeOperator().forward([scalar(10), scalar(4), scalar(-3)])[0] == ints([2], [10, 7]))
        #expect(try RangeOperator().forward([scalar(5), scalar(2), scalar(1)])[0] == ints([0], []))
        let f = { (v: Float) in floats([], [v]) }
        #expect(try RangeOperator().forward([f(0), f(1), f(0.25)])[0] == floats([4], [0, 0.25, 0.5, 0.75]))
        #expect(throws: GraphError.self) { try RangeOperator().forward([scalar(0), scalar(5), scalar(0)]) }
        #expect(throws: GraphError.self) { try RangeOperator().forward([scalar(0), scalar(1 << 40), scalar(1)]) }
    }

    @Test func triluKeepsATriangle() throws {
        let x = Value.float(iota([3, 3]).map { $0 + 1 })
        #expect(try TriluOperator(upper: true).forward([x])[0] == floats([3, 3], [1, 2, 3, 0, 5, 6, 0, 0, 9]))
        #expect(try TriluOperator(upper: false).forward([x, ints([], [-1])])[0] == floats([3, 3], [0, 0, 0, 4, 0, 0, 7, 8, 0]))
        #expect(try TriluOperator(upper: true).forward([ints([2, 2], [1, 1, 1, 1]), ints([], [1])])[0] == ints([2, 2], [0, 1, 0, 0]))
        var rng = SeededGenerator(seed: 25)
        try checkGradient(TriluOperator(upper: true), inputs: [.float(randomTensor([2, 3, 4], &rng)), ints([], [1])], differentiable: [0])
    }

    @Test(arguments: [(false, false, [1, 3, 6, 10, 15]), (true, false, [0, 1, 3, 6, 10]), (false, true, [15, 14, 12, 9, 5]), (true, true, [14, 12, 9, 5, 0])] as [(Bool, Bool, [Float])])
    func cumulativeSum(exclusive: Bool, reverse: Bool, expected: [Float]) throws {
        let op = CumSumOperator(exclusive: exclusive, reverse: reverse)
        #expect(try op.forward([floats([5], [1, 2, 3, 4, 5]), ints([], [0])])[0] == floats([5], expected))
        #expect(try op.forward([ints([5], [1, 2, 3, 4, 5]), ints([1], [-1])])[0] == ints([5], expected.map { Int64($0) }))
        var rng = SeededGenerator(seed: 26)
        try checkGradient(op, inputs: [.float(randomTensor([2, 3, 4], &rng)), ints([], [1])], differentiable: [0])
    }
}

@Suite struct ScatterNDTests {
    @Test func scatterNDReplacesAddressedSlices() throws {
        // The ONNX documentation's first example: indices [[4], [3], [1], [7]] into 8 elements.
        let data = Value.float(Tensor(shape: [8], storage: [1, 2, 3, 4, 5, 6, 7, 8]))
        let indices = Value.int(IntTensor(shape: [4, 1], storage: [4, 3, 1, 7]))
        let updates = Value.float(Tensor(shape: [4], storage: [9, 10, 11, 12]))
        let y = try ScatterNDOperator().forward([data, indices, updates])[0]
        #expect(y == .float(Tensor(shape: [8], storage: [1, 11, 3, 10, 9, 6, 7, 12])))
        let intY = try ScatterNDOperator().forward([.int(IntTensor([0, 0, 0])), .int(IntTensor(shape: [1, 1], storage: [-1])), .int(IntTensor([5]))])[0]
        #expect(intY == .int(IntTensor([0, 0, 5])))
        #expect(throws: GraphError.self) { try ScatterNDOperator().forward([data, indices, .float(Tensor(zeros: [3]))]) }
        var rng = SeededGenerator(seed: 27)
        try checkGradient(
            ScatterNDOperator(),
            inputs: [.float(randomTensor([3, 4], &rng)), .int(IntTensor(shape: [2, 1], storage: [2, 0])), .float(randomTensor([2, 4], &rng))],
            differentiable: [0, 2])
    }
}
