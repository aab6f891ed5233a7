import TensorCore

/// What the engine and the attribution methods need to know about an operator, beyond running it.
///
/// One value per op: the ONNX importer takes it from the operator registry entry; hand-built graphs get the
/// operator type's `defaultTraits`. Carried on `Graph.Node`, so Attribution reads it without importing ONNX.
public struct OperatorTraits: Sendable, Equatable, CustomStringConvertible {
    /// Which DeepLIFT rule applies at the op (Shrikumar et al. 2017, §3.5; see docs/methods.md).
    public enum DeepLiftClass: String, Sendable, Equatable {
        /// Affine in its varying input (Gemm, Conv, Add, BatchNormalization…): the ordinary gradient is the
        /// linear rule, and completeness holds exactly through it.
        case linear
        /// An elementwise nonlinearity y = f(x): rescale rule m = Δy/Δx (ordinary gradient where |Δx| < ε).
        case rescale
        /// Moves or copies values (Reshape, Transpose, Slice, Gather): the ordinary gradient is exact.
        case shapeOnly
        /// Not covered by a DeepLIFT rule (Softmax, LayerNormalization, Div of two varying tensors): the
        /// ordinary gradient, as DeepSHAP does; completeness is only approximate through it. (A `bilinear` op
        /// of two varying tensors is `linear` here and gets Attribution's product rule.)
        case gradient
        /// A rule of its own (MaxPool's, the SiLU unit x·σ(x)), implemented in Attribution's BackwardRules.
        case custom
    }

    /// The op has a VJP for its float inputs. Integer, shape and comparison ops do not: a node of such an op
    /// on the gradient path (a float input depending on the `wrt` tensors, a float output feeding the seeds)
    /// is refused by `Execution.checkGradientPath`, never given a silent zero gradient.
    public var differentiable: Bool
    /// Affine in each single varying input when the others are constant; lets `affineFrontier` fold it into
    /// the interpolated prefix of integrated gradients.
    public var affine: Bool
    public var deepLift: DeepLiftClass
    /// Linear in each of its two inputs (Mul, MatMul, two-operand Einsum): when both vary, DeepLIFT's product
    /// rule takes the VJP at the averaged operands (exact for a bilinear op; Attribution's BackwardRules).
    public var bilinear: Bool

    public init(differentiable: Bool, affine: Bool, deepLift: DeepLiftClass, bilinear: Bool = false) {
        self.differentiable = differentiable
        self.affine = affine
        self.deepLift = deepLift
        self.bilinear = bilinear
    }

    /// Gemm, Conv, Add…: affine, linear DeepLIFT rule.
    public static let linear = OperatorTraits(differentiable: true, affine: true, deepLift: .linear)
    /// Mul, MatMul, two-operand Einsum: linear in each input alone, bilinear in both.
    public static let bilinear = OperatorTraits(differentiable: true, affine: true, deepLift: .linear, bilinear: true)
    /// Reshape, Transpose…: affine data movement.
    public static let shapeOnly = OperatorTraits(differentiable: true, affine: true, deepLift: .shapeOnly)
    /// Slice, Gather, Concat, Pad-like movement that is not folded into the affine prefix.
    public static let movement = OperatorTraits(differentiable: true, affine: false, deepLift: .shapeOnly)
    /// An elementwise nonlinearity under DeepLIFT's rescale rule.
    public static let rescale = OperatorTraits(differentiable: true, affine: false, deepLift: .rescale)
    /// Differentiable, ordinary gradient under DeepLIFT (Softmax, LayerNormalization, Pow…).
    public static let gradient = OperatorTraits(differentiable: true, affine: false, deepLift: .gradient)
    /// A custom DeepLIFT rule (MaxPool).
    public static let custom = OperatorTraits(differentiable: true, affine: false, deepLift: .custom)
    /// Shape arithmetic, constants, comparisons, logic: no VJP.
    public static let nonDifferentiable = OperatorTraits(differentiable: false, affine: false, deepLift: .shapeOnly)

    public var description: String {
        "\(differentiable ? "differentiable" : "not differentiable")\(affine ? ", affine" : "")\(bilinear ? ", bilinear" : ""), DeepLIFT \(deepLift.rawValue)"
    }
}

/// An operator with no VJP (its outputs are integers, booleans or constants). Its `backward` throws instead of
/// returning a zero gradient; `Execution.checkGradientPath` refuses such a node on the gradient path before
/// any backward pass runs.
public protocol NonDifferentiableOperator: Operator {}

extension NonDifferentiableOperator {
    public var defaultTraits: OperatorTraits { .nonDifferentiable }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        throw GraphError("the operator has no gradient (it produces integers, booleans or constants)")
    }
}

/// An elementwise y = f(x) (one input, one output of the same shape) that reports f′ elementwise, for
/// DeepLIFT's rescale rule and its fallback to the ordinary gradient where |Δx| < ε.
public protocol ElementwiseFunction: Operator {
    func derivative(input x: Tensor, output y: Tensor) -> Tensor
}
