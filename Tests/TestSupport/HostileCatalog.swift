import Foundation
import ONNX

/// One broken model file and the words its error must contain.
public struct HostileCase: Sendable, CustomStringConvertible {
    public var name: String
    public var model: HostileModel
    /// Text the error message must contain (what is wrong, and where).
    public var expected: String

    public var description: String { name }
}

extension HostileModel: @unchecked Sendable {}

/// The hostile model classes of the robustness issue, each as one small model whose input is `x` (batch, 4) and
/// whose hidden tensor `h` feeds the output `y = Relu(h)`: the CLI tests run `modscope inspect` and
/// `modscope attribute --layer h` on each and expect exit 2 with `expected` in the message.
public enum HostileCatalog {
    static let huge: Int64 = 1 << 40

    /// A model whose node `hostile` computes `h` from `x` (with `extra` initializers), then `y = Relu(h)`.
    static func model(
        _ op: String, inputs: [String] = ["x"], initializers: [Onnx_TensorProto] = [],
        attributes: [Onnx_AttributeProto] = []
    ) -> HostileModel {
        var model = HostileModel()
        for tensor in initializers { model.initializer(tensor) }
        model.node(op, inputs, ["h"], name: "hostile", attributes: attributes)
        model.node("Relu", ["h"], ["y"], name: "out")
        return model
    }

    public static let loadTime: [HostileCase] = [
        HostileCase(
            name: "initializer dims 2^40",
            model: model("Add", inputs: ["x", "w"], initializers: [HostileModel.tensor("w", dims: [huge, huge], floats: [1])]),
            expected: "too many elements to address"),
        HostileCase(name: "duplicate node names", model: duplicateNames(), expected: "two nodes are named 'same'"),
        HostileCase(
            name: "Conv stride 0",
            model: model(
                "Conv", inputs: ["x", "w"], initializers: [HostileModel.tensor("w", dims: [1, 1, 1, 1], floats: [1])],
                attributes: [HostileModel.ints("strides", [0, 1])]),
            expected: "strides=[0, 1], but each value must be between 1"),
        HostileCase(name: "cycle", model: cycle(), expected: "its nodes form a cycle"),
        HostileCase(
            name: "missing tensor", model: model("Add", inputs: ["x", "nowhere"]),
            expected: "reads tensor 'nowhere', which no node, initializer or graph input produces"),
        HostileCase(name: "tensor produced twice", model: producedTwice(), expected: "tensor 'h' is produced twice"),
    ]

    public static let runTime: [HostileCase] = [
        HostileCase(
            name: "ConstantOfShape 2^40",
            model: hugeConstant(),
            expected: "ConstantOfShape output would have shape [1099511627776, 1099511627776]"),
        HostileCase(
            name: "Pad 2^40",
            model: model("Pad", inputs: ["x", "p"], initializers: [HostileModel.tensor("p", dims: [4], ints: [0, 0, huge, huge])]),
            expected: "Pad output would have shape"),
        HostileCase(
            name: "Gemm shape mismatch",
            model: model("Gemm", inputs: ["x", "w"], initializers: [HostileModel.tensor("w", dims: [5, 3], floats: .init(repeating: 1, count: 15))]),
            expected: "Gemm inner dimensions differ"),
        HostileCase(
            name: "Concat axis 7", model: model("Concat", inputs: ["x", "x"], attributes: [HostileModel.int("axis", 7)]),
            expected: "axis 7 is out of range"),
        HostileCase(
            name: "bad Reshape",
            model: model("Reshape", inputs: ["x", "s"], initializers: [HostileModel.tensor("s", dims: [2], ints: [3, 3])]),
            expected: "cannot reshape a tensor of shape"),
        HostileCase(
            name: "Gather out of range",
            model: model(
                "Gather", inputs: ["x", "i"], initializers: [HostileModel.tensor("i", dims: [1], ints: [9])],
                attributes: [HostileModel.int("axis", 1)]),
            expected: "Gather index 9 out of range"),
        HostileCase(
            name: "bad Transpose perm", model: model("Transpose", attributes: [HostileModel.ints("perm", [0, 0])]),
            expected: "Transpose perm [0, 0] is invalid"),
    ]

    static func hugeConstant() -> HostileModel {
        var model = HostileModel()
        model.initializer(HostileModel.tensor("s", dims: [2], ints: [huge, huge]))
        model.node("ConstantOfShape", ["s"], ["c"], name: "fill")
        model.node("Add", ["x", "c"], ["h"], name: "hostile")
        model.node("Relu", ["h"], ["y"], name: "out")
        return model
    }

    static func duplicateNames() -> HostileModel {
        var model = HostileModel()
        model.node("Relu", ["x"], ["h"], name: "same")
        model.node("Relu", ["h"], ["y"], name: "same")
        return model
    }

    static func cycle() -> HostileModel {
        var model = HostileModel()
        model.node("Add", ["x", "b"], ["h"], name: "one")
        model.node("Relu", ["h"], ["b"], name: "two")
        model.node("Relu", ["h"], ["y"], name: "out")
        return model
    }

    static func producedTwice() -> HostileModel {
        var model = HostileModel()
        model.node("Relu", ["x"], ["h"], name: "first")
        model.node("Sigmoid", ["x"], ["h"], name: "second")
        model.node("Relu", ["h"], ["y"], name: "out")
        return model
    }
}
