import Foundation
import TensorCore

/// Pointwise activations. Each VJP is written in terms of the input x or the output y:
/// Relu g·[x>0] (0 at x = 0, as torch); LeakyRelu g·(x>0 ? 1 : α); Sigmoid g·σ(x)(1−σ(x)); Tanh g/cosh²(x);
/// Elu g·(x>0 ? 1 : y+α); Softplus g·σ(x); Identity/Dropout (inference) g.
public struct ActivationOperator: ElementwiseFunction {
    public enum Kind: Sendable, Equatable {
        case relu, leakyRelu(alpha: Float), sigmoid, tanh, elu(alpha: Float), softplus, identity
    }

    public var kind: Kind
    /// Dropout may declare a second (mask) output; it is filled with ones.
    public var outputCount: Int
    /// Identity/Dropout are linear; the others are DeepLIFT rescale nonlinearities.
    public var defaultTraits: OperatorTraits { kind == .identity ? .linear : .rescale }

    public init(_ kind: Kind, outputCount: Int = 1) {
        self.kind = kind
        self.outputCount = outputCount
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        if kind == .identity, let value = inputs.first ?? nil {
            let mask = Value.float(Tensor(repeating: 1, shape: value.shape))
            return outputCount > 1 ? [value, mask] : [value]
        }
        let x = try inputs.float(0)
        let y: Tensor
        switch kind {
        case .relu: y = Self.relu(x)
        case .leakyRelu(let alpha): y = x.map { $0 >= 0 ? $0 : alpha * $0 }
        case .sigmoid: y = x.map { 1 / (1 + expf(-$0)) }
        case .tanh: y = x.map { tanhf($0) }
        case .elu(let alpha): y = x.map { $0 > 0 ? $0 : alpha * (expf($0) - 1) }
        case .softplus: y = x.map { $0 > 20 ? $0 : log1pf(expf($0)) }
        case .identity: y = x
        }
        return [.float(y)]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        guard context.needsGradient.first == true else { return [nil] }
        let g = try context.outputGradient()
        if kind == .identity { return [g] }
        let x = try context.floatInput(0), y = try context.floatOutput(0)
        let dx: Tensor
        switch kind {
        case .relu: dx = Self.reluBackward(g, x)
        case .leakyRelu(let alpha): dx = g.zipMap(x) { $1 > 0 ? $0 : alpha * $0 }
        case .sigmoid, .tanh: dx = g.zipMap(derivative(input: x, output: y), *)
        case .elu(let alpha):
            dx = Tensor(shape: x.shape, storage: (0..<x.count).map { i in
                x.storage[i] > 0 ? g.storage[i] : g.storage[i] * (y.storage[i] + alpha)
            })
        case .softplus: dx = g.zipMap(x) { $0 / (1 + expf(-$1)) }
        case .identity: dx = g
        }
        return [dx]
    }

    static func relu(_ x: Tensor) -> Tensor {
        x.storage.withUnsafeBufferPointer { source in
            Tensor(shape: x.shape) { out in
                for i in 0..<out.count { out[i] = max(source[i], 0) }
            }
        }
    }

    static func reluBackward(_ g: Tensor, _ x: Tensor) -> Tensor {
        g.storage.withUnsafeBufferPointer { gs in
            x.storage.withUnsafeBufferPointer { xs in
                Tensor(shape: x.shape) { out in
                    for i in 0..<out.count { out[i] = xs[i] > 0 ? gs[i] : 0 }
                }
            }
        }
    }

    /// The derivative f′ evaluated elementwise (used by DeepLIFT's fallback where Δx ≈ 0).
    public func derivative(input x: Tensor, output y: Tensor) -> Tensor {
        switch kind {
        case .relu: return x.map { $0 > 0 ? 1 : 0 }
        case .leakyRelu(let alpha): return x.map { $0 > 0 ? 1 : alpha }
        // From x, not y: y(1 − y) and 1 − y² cancel when the unit saturates (y ≈ ±1).
        case .sigmoid: return x.map { let e = expf(-abs($0)); return e / ((1 + e) * (1 + e)) }
        case .tanh: return x.map { let c = coshf($0); return 1 / (c * c) }
        case .elu(let alpha): return x.zipMap(y) { $0 > 0 ? 1 : $1 + alpha }
        case .softplus: return x.map { 1 / (1 + expf(-$0)) }
        case .identity: return x.map { _ in 1 }
        }
    }
}

/// ONNX Clip: min/max from attributes (opset < 11) or optional inputs 1 and 2 (opset ≥ 11).
/// VJP: g·[min ≤ x ≤ max].
public struct ClipOperator: Operator {
    public var defaultTraits: OperatorTraits { .rescale }
    public var minimum: Float?, maximum: Float?
    public init(minimum: Float? = nil, maximum: Float? = nil) {
        self.minimum = minimum
        self.maximum = maximum
    }

    func bounds(_ inputs: [Value?]) throws -> (Float, Float) {
        let low = try inputs.optionalFloat(1)?.storage.first ?? minimum ?? -Float.greatestFiniteMagnitude
        let high = try inputs.optionalFloat(2)?.storage.first ?? maximum ?? Float.greatestFiniteMagnitude
        return (low, high)
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let x = try inputs.float(0)
        let (low, high) = try bounds(inputs)
        return [.float(x.map { Swift.min(Swift.max($0, low), high) })]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        var result = [Tensor?](repeating: nil, count: context.inputs.count)
        guard context.needsGradient[0] else { return result }
        let x = try context.floatInput(0)
        let (low, high) = try bounds(context.inputs)
        result[0] = try context.outputGradient().zipMap(x) { ($1 >= low && $1 <= high) ? $0 : 0 }
        return result
    }
}

extension ClipOperator: ElementwiseFunction {
    /// 1 where the value passed unclipped (y = x, bounds included, as `backward`), 0 where it was clipped.
    public func derivative(input x: Tensor, output y: Tensor) -> Tensor { y.zipMap(x) { $0 == $1 ? 1 : 0 } }
}

/// ONNX Softmax / LogSoftmax. Opset ≥ 13: over one axis (default −1). Opset < 13: the input is coerced to
/// 2-D at `axis` (default 1) and normalised over the whole flattened tail.
public struct SoftmaxOperator: Operator {
    public var defaultTraits: OperatorTraits { .gradient }
    public var axis: Int
    public var coerceTo2D: Bool
    public var logarithm: Bool

    public init(axis: Int, coerceTo2D: Bool, logarithm: Bool) {
        self.axis = axis
        self.coerceTo2D = coerceTo2D
        self.logarithm = logarithm
    }

    func geometry(_ shape: [Int]) throws -> (Int, Int, Int) {
        let a = try normalizedAxis(axis, rank: shape.count)
        if coerceTo2D { return (shape[..<a].reduce(1, *), shape[a...].reduce(1, *), 1) }
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let x = try inputs.float(0)
        let (outer, length, inner) = try geometry(x.shape)
        return [.float(Softmax.forward(x, outer: outer, length: length, inner: inner, logarithm: logarithm))]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let x = try context.floatInput(0)
        let (outer, length, inner) = try geometry(x.shape)
        return [Softmax.backward(input: x, gradient: try context.outputGradient(), outer: outer, length: length, inner: inner, logarithm: logarithm)]
    }
}

/// ONNX BatchNormalization in inference mode: y = (x − mean)/√(var + ε)·scale + bias per channel (axis 1).
/// VJP: dx = g·scale/√(var + ε); dscale = Σ g·x̂; dbias = Σ g.
public struct BatchNormalizationOperator: Operator {
    public var defaultTraits: OperatorTraits { .linear }
    public var epsilon: Float
    public init(epsilon: Float = 1e-5) { self.epsilon = epsilon }

    func coefficients(_ inputs: [Value?], channels: Int) throws -> (scale: [Float], shift: [Float], inverseStd: [Float]) {
        let gamma = try inputs.float(1), beta = try inputs.float(2), mean = try inputs.float(3), variance = try inputs.float(4)
        guard [gamma, beta, mean, variance].allSatisfy({ $0.count == channels }) else {
            throw GraphError("BatchNormalization parameters must have \(channels) values (one per channel)")
        }
        let inverseStd = variance.storage.map { 1 / ($0 + epsilon).squareRoot() }
        let scale = (0..<channels).map { gamma.storage[$0] * inverseStd[$0] }
        let shift = (0..<channels).map { beta.storage[$0] - mean.storage[$0] * scale[$0] }
        return (scale, shift, inverseStd)
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let x = try inputs.float(0)
        guard x.rank >= 2 else { throw GraphError("BatchNormalization needs an input of rank ≥ 2, got \(x.shape)") }
        let channels = x.shape[1]
        let inner = x.shape[2...].reduce(1, *)
        let (scale, shift, _) = try coefficients(inputs, channels: channels)
        let y = x.storage.withUnsafeBufferPointer { source in
            Tensor(shape: x.shape) { out in
                for block in 0..<(x.shape[0] * channels) {
                    let c = block % channels
                    for i in 0..<inner { out[block * inner + i] = source[block * inner + i] * scale[c] + shift[c] }
                }
            }
        }
        return [.float(y)]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let x = try context.floatInput(0)
        let g = try context.outputGradient()
        let channels = x.shape[1], inner = x.shape[2...].reduce(1, *)
        let (scale, _, inverseStd) = try coefficients(context.inputs, channels: channels)
        var result = [Tensor?](repeating: nil, count: 5)
        if context.needsGradient[0] {
            result[0] = Tensor(shape: x.shape, storage: (0..<x.count).map { g.storage[$0] * scale[($0 / inner) % channels] })
        }
        if context.needsGradient[1] || context.needsGradient[2] {
            let mean = try context.inputs.float(3)
            var dScale = [Float](repeating: 0, count: channels), dBias = [Float](repeating: 0, count: channels)
            for i in 0..<x.count {
                let c = (i / inner) % channels
                dBias[c] += g.storage[i]
                dScale[c] += g.storage[i] * (x.storage[i] - mean.storage[c]) * inverseStd[c]
            }
            if context.needsGradient[1] { result[1] = Tensor(shape: [channels], storage: dScale) }
            if context.needsGradient[2] { result[2] = Tensor(shape: [channels], storage: dBias) }
        }
        return result
    }
}

/// ai.onnx.ml Scaler: y = (x − offset)·scale along the last axis (offset/scale of length F or 1). VJP g·scale.
public struct ScalerOperator: Operator {
    public var defaultTraits: OperatorTraits { .linear }
    public var offset: [Float], scale: [Float]
    public init(offset: [Float], scale: [Float]) {
        self.offset = offset
        self.scale = scale
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let x = try inputs.float(0)
        let features = x.shape.last ?? 1
        for (name, values) in [("offset", offset), ("scale", scale)] where values.count != 1 && values.count != features {
            throw GraphError("Scaler \(name) has \(values.count) values but the input has \(features) features")
        }
        let y = Tensor(shape: x.shape, storage: (0..<x.count).map { i in
            let f = i % features
            return (x.storage[i] - offset[offset.count == 1 ? 0 : f]) * scale[scale.count == 1 ? 0 : f]
        })
        return [.float(y)]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let g = try context.outputGradient()
        let features = g.shape.last ?? 1
        return [Tensor(shape: g.shape, storage: (0..<g.count).map { g.storage[$0] * scale[scale.count == 1 ? 0 : $0 % features] })]
    }
}
