import Autodiff
import TensorCore

/// The ai.onnx.ml domain (scikit-learn exports through skl2onnx).
extension OperatorRegistry {
    static let mlEntries: [OperatorEntry] = [
        OperatorEntry("Scaler", domain: "ai.onnx.ml", opsets: 1...5, traits: .linear) { c in
            ScalerOperator(offset: c.attributes.floats("offset") ?? [0], scale: c.attributes.floats("scale") ?? [1])
        },
    ]
}
