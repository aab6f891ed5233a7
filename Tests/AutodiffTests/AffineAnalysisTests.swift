import Testing
import TensorCore
@testable import Autodiff

/// `Graph.hasAffineSuffix` and `Graph.affineFrontier` on small hand-built graphs.
@Suite struct AffineAnalysisTests {
    /// Builds a graph from (opType, inputs, output, op) rows; "w" and "b" are constants.
    static func graph(_ rows: [(String, [String], String, any Operator)]) -> Graph {
        let nodes = rows.map { row in
            Graph.Node(name: row.2, opType: row.0, opsetVersion: 17, inputs: row.1, outputs: [row.2], op: row.3)
        }
        let constants: [String: Value] = [
            "w": .float(Tensor(shape: [3, 3], storage: (0..<9).map { Float($0) / 9 })),
            "b": .float(Tensor(shape: [3], storage: [0.1, 0.2, 0.3])),
        ]
        let output = rows.last!.2
        return Graph(
            nodes: nodes, inputs: [Graph.Input(name: "x", dimensions: [nil, 3])], outputs: [output], constants: constants,
            floatOutputs: [output])
    }

    static let gemm = GemmOperator(transposeB: true)
    static let relu = ActivationOperator(.relu)

    @Test func lastHiddenLayerOfAnMLPHasAnAffineSuffix() {
        let g = Self.graph([
            ("Gemm", ["x", "w", "b"], "fc1", Self.gemm), ("Relu", ["fc1"], "h1", Self.relu),
            ("Gemm", ["h1", "w", "b"], "fc2", Self.gemm), ("Relu", ["fc2"], "h2", Self.relu),
            ("Gemm", ["h2", "w", "b"], "fc3", Self.gemm), ("Add", ["fc3", "b"], "out", BinaryOperator(.add)),
        ])
        #expect(g.hasAffineSuffix(layer: "h2", output: "out"))
        #expect(g.hasAffineSuffix(layer: "fc3", output: "out"))
        #expect(g.hasAffineSuffix(layer: "out", output: "out"))
        #expect(!g.hasAffineSuffix(layer: "h1", output: "out"), "a ReLU lies between h1 and the output")
        #expect(!g.hasAffineSuffix(layer: "fc2", output: "out"))
        #expect(g.affineFrontier(input: "x", layer: "h2", output: "out") == "fc1")
    }

    @Test func aProductOfTwoLayerDependentTensorsIsNotAffine() {
        let g = Self.graph([
            ("Gemm", ["x", "w", "b"], "fc1", Self.gemm), ("Relu", ["fc1"], "h1", Self.relu),
            ("Gemm", ["h1", "w", "b"], "fc2", Self.gemm), ("Mul", ["fc2", "h1"], "out", BinaryOperator(.multiply)),
        ])
        #expect(!g.hasAffineSuffix(layer: "h1", output: "out"))
    }

    @Test func scalingByAnInputDependentTensorIsNotAffine() {
        // out = fc2(h1) · x: the gradient with respect to h1 changes with x along the path.
        let g = Self.graph([
            ("Gemm", ["x", "w", "b"], "fc1", Self.gemm), ("Relu", ["fc1"], "h1", Self.relu),
            ("Gemm", ["h1", "w", "b"], "fc2", Self.gemm), ("Mul", ["fc2", "x"], "out", BinaryOperator(.multiply)),
        ])
        #expect(!g.hasAffineSuffix(layer: "h1", output: "out"))
        // Divided by a layer-dependent tensor: not affine either.
        let d = Self.graph([
            ("Gemm", ["x", "w", "b"], "fc1", Self.gemm), ("Relu", ["fc1"], "h1", Self.relu),
            ("Div", ["b", "h1"], "out", BinaryOperator(.divide)),
        ])
        #expect(!d.hasAffineSuffix(layer: "h1", output: "out"))
    }

    @Test func aResidualBypassKeepsTheSuffixAffine() {
        // out = fc2(h1) + fc1: the bypass adds a term that does not depend on h1.
        let g = Self.graph([
            ("Gemm", ["x", "w", "b"], "fc1", Self.gemm), ("Relu", ["fc1"], "h1", Self.relu),
            ("Gemm", ["h1", "w", "b"], "fc2", Self.gemm), ("Add", ["fc2", "fc1"], "out", BinaryOperator(.add)),
        ])
        #expect(g.hasAffineSuffix(layer: "h1", output: "out"))
    }

    @Test func aLayerThatDoesNotFeedTheOutputHasNoAffineSuffix() {
        let g = Self.graph([
            ("Gemm", ["x", "w", "b"], "fc1", Self.gemm), ("Relu", ["fc1"], "h1", Self.relu),
            ("Gemm", ["fc1", "w", "b"], "out", Self.gemm),
        ])
        #expect(!g.hasAffineSuffix(layer: "h1", output: "out"))
    }

    @Test func shapeOnlyValuesFromTheLayerAreConstantAlongThePath() {
        // Reshape(h1, Shape(h1)) is the identity on h1's values: still affine.
        let g = Self.graph([
            ("Gemm", ["x", "w", "b"], "fc1", Self.gemm), ("Relu", ["fc1"], "h1", Self.relu),
            ("Shape", ["h1"], "s", ShapeOperator()), ("Reshape", ["h1", "s"], "r", ReshapeOperator()),
            ("Gemm", ["r", "w", "b"], "out", Self.gemm),
        ])
        #expect(g.hasAffineSuffix(layer: "h1", output: "out"))
        #expect(g.pathConstantTensors.contains("s"))
        #expect(!g.pathConstantTensors.contains("r"))
    }
}
