import Autodiff
import TensorCore

/// Matrix products, broadcasting arithmetic and inference-mode normalisation: affine in each single varying
/// input (DeepLIFT linear rule). Mul/Div of two varying tensors are products, not affine: affineFrontier only
/// folds them when the other operand is constant, and DeepLIFT then uses their ordinary gradient.
extension OperatorRegistry {
    static let linearEntries: [OperatorEntry] = [
        OperatorEntry("Gemm", traits: .linear) { c in
            let a = c.attributes
            return GemmOperator(
                alpha: a.float("alpha", default: 1), beta: a.float("beta", default: 1),
                transposeA: a.int("transA", default: 0) != 0, transposeB: a.int("transB", default: 0) != 0)
        },
        OperatorEntry("MatMul", traits: .bilinear) { _ in MatMulOperator() },
        OperatorEntry("Einsum", opsets: 12...22, traits: .bilinear) { c in
            guard let equation = c.attributes.string("equation") else { throw c.refuse("missing equation attribute") }
            do { return try EinsumOperator(equation: equation) } catch let error as GraphError { throw c.refuse(error.message) }
        },
        OperatorEntry("Add", traits: .linear) { _ in BinaryOperator(.add) },
        OperatorEntry("Sub", traits: .linear) { _ in BinaryOperator(.subtract) },
        OperatorEntry("Mul", traits: .bilinear) { _ in BinaryOperator(.multiply) },
        OperatorEntry("Div", traits: .linear) { _ in BinaryOperator(.divide) },
        OperatorEntry("BatchNormalization", traits: .linear) { c in
            if c.attributes.int("training_mode", default: 0) != 0 { throw c.refuse("training_mode=1") }
            return BatchNormalizationOperator(epsilon: c.attributes.float("epsilon", default: 1e-5))
        },
    ]
}
