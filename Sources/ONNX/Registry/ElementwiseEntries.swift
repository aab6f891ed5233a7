import Autodiff
import TensorCore

/// Elementwise math and normalisation of today's architectures (transformers, mobilenet_v3, convnext).
/// DeepLIFT: the elementwise nonlinearities rescale; LayerNormalization, Max/Min, Mod keep the ordinary
/// gradient; Pow rescales in the base when its exponent is constant (BackwardRules), else gradient.
extension OperatorRegistry {
    static let elementwiseEntries: [OperatorEntry] = [
        OperatorEntry("Gelu", opsets: 20...defaultOpsets.upperBound, traits: .rescale) { c in
            let approximate = c.attributes.string("approximate") ?? "none"
            guard approximate == "none" || approximate == "tanh" else { throw c.refuse("approximate='\(approximate)'; none or tanh") }
            return UnaryOperator(.gelu(tanhApproximation: approximate == "tanh"))
        },
        OperatorEntry("Erf", traits: .rescale) { _ in UnaryOperator(.erf) },
        OperatorEntry("Sqrt", traits: .rescale) { _ in UnaryOperator(.sqrt) },
        OperatorEntry("Reciprocal", traits: .rescale) { _ in UnaryOperator(.reciprocal) },
        OperatorEntry("Neg", traits: .linear) { _ in UnaryOperator(.neg) },
        OperatorEntry("Exp", traits: .rescale) { _ in UnaryOperator(.exp) },
        OperatorEntry("Log", traits: .rescale) { _ in UnaryOperator(.log) },
        OperatorEntry("Abs", traits: .rescale) { _ in UnaryOperator(.abs) },
        OperatorEntry("Sin", traits: .rescale) { _ in UnaryOperator(.sin) },
        OperatorEntry("Cos", traits: .rescale) { _ in UnaryOperator(.cos) },
        OperatorEntry("HardSigmoid", traits: .rescale) { c in
            UnaryOperator(.hardSigmoid(alpha: c.attributes.float("alpha", default: 0.2), beta: c.attributes.float("beta", default: 0.5)))
        },
        OperatorEntry("HardSwish", opsets: 14...defaultOpsets.upperBound, traits: .rescale) { _ in UnaryOperator(.hardSwish) },
        OperatorEntry("Floor", traits: .nonDifferentiable) { _ in RoundingOperator(.floor) },
        OperatorEntry("Ceil", traits: .nonDifferentiable) { _ in RoundingOperator(.ceil) },
        OperatorEntry("Round", opsets: 11...defaultOpsets.upperBound, traits: .nonDifferentiable) { _ in RoundingOperator(.round) },
        OperatorEntry("Sign", opsets: 9...defaultOpsets.upperBound, traits: .nonDifferentiable) { _ in RoundingOperator(.sign) },
        OperatorEntry("Pow", traits: .custom) { _ in PowOperator() },
        OperatorEntry("Max", opsets: 8...defaultOpsets.upperBound, traits: .gradient) { _ in ExtremumOperator(maximum: true) },
        OperatorEntry("Min", opsets: 8...defaultOpsets.upperBound, traits: .gradient) { _ in ExtremumOperator(maximum: false) },
        OperatorEntry("Mod", opsets: 10...defaultOpsets.upperBound, traits: .gradient) { c in
            ModOperator(fmod: c.attributes.int("fmod", default: 0) != 0)
        },
        OperatorEntry("LayerNormalization", opsets: 17...defaultOpsets.upperBound, traits: .gradient) { c in
            if c.attributes.int("stash_type", default: 1) != 1 { throw c.refuse("stash_type other than 1 (float32)") }
            return LayerNormalizationOperator(axis: c.attributes.int("axis", default: -1), epsilon: c.attributes.float("epsilon", default: 1e-5))
        },
    ]
}
