import TensorCore

/// ONNX `auto_pad`: explicit pads (NOTSET), SAME_UPPER / SAME_LOWER (output = ⌈input / stride⌉, the odd
/// padding cell at the end or the beginning), or VALID (no padding).
public enum AutoPad: String, Sendable {
    case notSet = "NOTSET", sameUpper = "SAME_UPPER", sameLower = "SAME_LOWER", valid = "VALID"

    /// (begin, end) padding along one axis.
    func pads(size: Int, kernel: Int, stride: Int, dilation: Int, explicit: (Int, Int)) -> (Int, Int) {
        switch self {
        case .notSet: return explicit
        case .valid: return (0, 0)
        case .sameUpper, .sameLower:
            let output = (size + stride - 1) / stride
            let total = max((output - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
            let small = total / 2
            return self == .sameUpper ? (small, total - small) : (total - small, small)
        }
    }
}

/// Spatial attributes shared by Conv and the pools (2-D only).
public struct SpatialAttributes: Sendable {
    public var kernel: (Int, Int)?
    public var strides: (Int, Int)
    public var dilations: (Int, Int)
    /// (top, left, bottom, right), ONNX order [x1_begin, x2_begin, x1_end, x2_end].
    public var pads: (Int, Int, Int, Int)
    public var autoPad: AutoPad

    public init(kernel: (Int, Int)?, strides: (Int, Int), dilations: (Int, Int), pads: (Int, Int, Int, Int), autoPad: AutoPad) {
        self.kernel = kernel
        self.strides = strides
        self.dilations = dilations
        self.pads = pads
        self.autoPad = autoPad
    }

    func resolvedPads(height: Int, width: Int, kernel: (Int, Int)) -> (top: Int, left: Int, bottom: Int, right: Int) {
        let (top, bottom) = autoPad.pads(size: height, kernel: kernel.0, stride: strides.0, dilation: dilations.0, explicit: (pads.0, pads.2))
        let (left, right) = autoPad.pads(size: width, kernel: kernel.1, stride: strides.1, dilation: dilations.1, explicit: (pads.1, pads.3))
        return (top, left, bottom, right)
    }
}

/// ONNX Conv (2-D, NCHW): pads, strides, dilations, group, auto_pad; batched im2col + GEMM (see `Convolution2D`).
public struct ConvOperator: Operator {
    public var defaultTraits: OperatorTraits { .linear }
    public var attributes: SpatialAttributes
    public var groups: Int
    public init(attributes: SpatialAttributes, groups: Int) {
        self.attributes = attributes
        self.groups = groups
    }

    func convolution(input: Tensor, weight: Tensor) throws -> Convolution2D {
        guard input.rank == 4, weight.rank == 4 else {
            throw GraphError("only 2-D convolution is supported (input \(input.shape), weight \(weight.shape))")
        }
        guard input.shape[1] == weight.shape[1] * groups, weight.shape[0] % groups == 0 else {
            throw GraphError("Conv channels do not match: input \(input.shape), weight \(weight.shape), group \(groups)")
        }
        guard weight.shape.allSatisfy({ $0 > 0 }) else {
            throw GraphError("Conv weight of shape \(weight.shape) has an empty dimension (kernel 0)")
        }
        let kernel = (weight.shape[2], weight.shape[3])
        let conv = Convolution2D(
            kernel: kernel, strides: attributes.strides, dilations: attributes.dilations,
            pads: attributes.resolvedPads(height: input.shape[2], width: input.shape[3], kernel: kernel), groups: groups)
        guard let size = conv.outputSize(height: input.shape[2], width: input.shape[3]) else {
            throw GraphError("Conv kernel \(kernel) does not fit the input \(input.shape)")
        }
        _ = try TensorLimits.checkedElementCount([input.shape[0], weight.shape[0], size.height, size.width], what: "Conv output")
        _ = try TensorLimits.checkedElementCount(
            [weight.shape[1], kernel.0, kernel.1, input.shape[0], size.height, size.width], what: "Conv im2col buffer")
        return conv
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let x = try inputs.float(0), w = try inputs.float(1), b = try inputs.optionalFloat(2)
        return [.float(try convolution(input: x, weight: w).forward(input: x, weight: w, bias: b))]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let x = try context.floatInput(0), w = try context.floatInput(1)
        let needs = context.needsGradient
        let grads = try convolution(input: x, weight: w).backward(
            input: x, weight: w, outputGradient: context.outputGradient(),
            needInput: needs[0], needWeight: needs[1], needBias: needs.count > 2 && needs[2])
        return [grads.input, grads.weight, grads.bias]
    }
}

/// ONNX MaxPool / AveragePool (2-D). MaxPool's VJP routes g to the first maximum of each window
/// (padding never wins); AveragePool's spreads g over the window ÷ its divisor.
public struct PoolOperator: Operator {
    public enum Kind: Sendable, Equatable { case max, average(countIncludePad: Bool) }
    public var kind: Kind
    public var attributes: SpatialAttributes
    public var ceilMode: Bool
    /// Whether the node declares MaxPool's optional Indices output (computed only then).
    public var producesIndices: Bool
    /// Average pooling is linear; max pooling has DeepLIFT's own rule.
    public var defaultTraits: OperatorTraits { kind == .max ? .custom : .linear }

    public init(kind: Kind, attributes: SpatialAttributes, ceilMode: Bool, producesIndices: Bool = false) {
        self.kind = kind
        self.attributes = attributes
        self.ceilMode = ceilMode
        self.producesIndices = producesIndices
    }

    public func pooling(for input: Tensor) throws -> Pooling2D {
        guard input.rank == 4 else { throw GraphError("only 2-D pooling over NCHW is supported, got \(input.shape)") }
        guard let kernel = attributes.kernel else { throw GraphError("pooling needs kernel_shape") }
        let pool = Pooling2D(
            kernel: kernel, strides: attributes.strides, dilations: attributes.dilations,
            pads: attributes.resolvedPads(height: input.shape[2], width: input.shape[3], kernel: kernel), ceilMode: ceilMode)
        let size = pool.outputSize(height: input.shape[2], width: input.shape[3])
        _ = try TensorLimits.checkedElementCount([input.shape[0], input.shape[1], size.height, size.width], what: "pooling output")
        return pool
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let x = try inputs.float(0)
        let pool = try pooling(for: x)
        switch kind {
        case .max:
            let (y, argmax) = pool.maxPool(x)
            guard producesIndices else { return [.float(y)] }
            // Optional Indices output: flat NCHW offsets (storage_order 0).
            let plane = x.shape[2] * x.shape[3], outPlane = y.shape[2] * y.shape[3]
            let indices = argmax.enumerated().map { Int64(($0.offset / outPlane) * plane + Int($0.element)) }
            return [.float(y), .int(IntTensor(shape: y.shape, storage: indices))]
        case .average(let include):
            return [.float(pool.averagePool(x, countIncludePad: include))]
        }
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let x = try context.floatInput(0)
        let pool = try pooling(for: x)
        let g = try context.outputGradient()
        switch kind {
        case .max:
            let (_, argmax) = pool.maxPool(x)
            return [Pooling2D.unpool(g, argmax: argmax, inputShape: x.shape)]
        case .average(let include):
            return [pool.averagePoolBackward(g, inputShape: x.shape, countIncludePad: include)]
        }
    }
}
