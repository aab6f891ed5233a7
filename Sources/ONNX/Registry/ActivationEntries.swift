import Autodiff
import TensorCore

/// Pointwise activations that Captum's DeepLIFT rescales (Relu, LeakyRelu, Elu, Sigmoid, Tanh, Softplus),
/// Clip (ReLU6, Hardtanh: Captum has no rule and takes the gradient; ModScope rescales it like every other
/// elementwise nonlinearity, which keeps completeness on MobileNetV2), identities, and Softmax/LogSoftmax
/// (ordinary gradient under DeepLIFT, as Captum: Softmax is not elementwise).
extension OperatorRegistry {
    static let activationEntries: [OperatorEntry] = [
        OperatorEntry("Relu", traits: .rescale) { _ in ActivationOperator(.relu) },
        OperatorEntry("LeakyRelu", traits: .rescale) { c in
            ActivationOperator(.leakyRelu(alpha: c.attributes.float("alpha", default: 0.01)))
        },
        OperatorEntry("Sigmoid", traits: .rescale) { _ in ActivationOperator(.sigmoid) },
        OperatorEntry("Tanh", traits: .rescale) { _ in ActivationOperator(.tanh) },
        OperatorEntry("Elu", traits: .rescale) { c in ActivationOperator(.elu(alpha: c.attributes.float("alpha", default: 1))) },
        OperatorEntry("Softplus", traits: .rescale) { _ in ActivationOperator(.softplus) },
        OperatorEntry("Identity", traits: .linear) { _ in ActivationOperator(.identity) },
        OperatorEntry("Dropout", traits: .linear) { c in ActivationOperator(.identity, outputCount: c.node.output.count) },
        OperatorEntry("Softmax", traits: .gradient) { c in softmax(c, logarithm: false) },
        OperatorEntry("LogSoftmax", traits: .gradient) { c in softmax(c, logarithm: true) },
        OperatorEntry("Clip", traits: .rescale) { c in
            // Bounds are attributes before opset 11, optional inputs from 11.
            let legacy = c.opset < 11
            return ClipOperator(minimum: legacy ? c.attributes.float("min") : nil, maximum: legacy ? c.attributes.float("max") : nil)
        },
    ]

    /// Before opset 13 the input is coerced to 2-D at `axis` (default 1); from 13, one axis (default −1).
    private static func softmax(_ c: OperatorBuildContext, logarithm: Bool) -> any Operator {
        let legacy = c.opset < 13
        return SoftmaxOperator(axis: c.attributes.int("axis", default: legacy ? 1 : -1), coerceTo2D: legacy, logarithm: logarithm)
    }
}
