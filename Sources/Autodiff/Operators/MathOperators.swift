import Foundation
import TensorCore

/// Elementwise math y = f(x). Each VJP is g·f′(x), with f′ (used by DeepLIFT's rescale fallback too):
/// Gelu (exact) Φ(x) + x·φ(x); Gelu (tanh) ½(1+t) + ½x(1−t²)·√(2/π)(1 + 3c·x²) with t = tanh(√(2/π)(x + c·x³)),
/// c = 0.044715; Erf (2/√π)e^(−x²); Sqrt ½/y; Reciprocal −y²; Neg −1; Exp y; Log 1/x; Abs sign(x) (0 at 0, as
/// torch); Sin cos x; Cos −sin x; HardSigmoid α on αx+β ∈ (0, 1), else 0; HardSwish 0 for x < −3, x/3 + ½ for
/// −3 ≤ x ≤ 3, 1 above (torch's branches, boundaries included).
public struct UnaryOperator: ElementwiseFunction {
    public enum Kind: Sendable, Equatable {
        case gelu(tanhApproximation: Bool), erf, sqrt, reciprocal, neg, exp, log, abs, sin, cos
        case hardSigmoid(alpha: Float, beta: Float), hardSwish
    }

    public var kind: Kind
    public init(_ kind: Kind) { self.kind = kind }

    /// Neg is linear; the others are DeepLIFT rescale nonlinearities.
    public var defaultTraits: OperatorTraits { kind == .neg ? .linear : .rescale }

    /// √(2/π), and the cubic coefficient of the tanh approximation of GELU (Hendrycks & Gimpel 2016; ONNX Gelu).
    static let tanhScale = Float((2 / Double.pi).squareRoot())
    static let tanhCubic: Float = 0.044715
    /// 1/√2 (exact GELU's Φ(x) = ½(1 + erf(x/√2))), 1/√(2π) (φ) and 2/√π (erf′).
    static let inverseSqrt2 = Float(1 / 2.0.squareRoot())
    static let inverseSqrt2Pi = Float(1 / (2 * Double.pi).squareRoot())
    static let twoOverSqrtPi = Float(2 / Double.pi.squareRoot())

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        if kind == .neg || kind == .abs, case .int(let t) = try inputs.required(0) {
            return [.int(IntTensor(shape: t.shape, storage: t.storage.map { kind == .neg ? -$0 : Swift.abs($0) }))]
        }
        let x = try inputs.float(0)
        switch kind {
        case .erf: return [.float(Self.apply(x) { Self.erf($0) })]
        case .gelu(tanhApproximation: false): return [.float(Self.apply(x) { 0.5 * $0 * (1 + Self.erf($0 * Self.inverseSqrt2)) })]
        default: return [.float(x.map(function))]
        }
    }

    /// y = f(x) over the storage in one loop the compiler can vectorise (no call per element).
    @inline(__always)
    static func apply(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        var y = [Float](repeating: 0, count: x.count)
        x.storage.withUnsafeBufferPointer { source in
            y.withUnsafeMutableBufferPointer { target in
                for i in 0..<source.count { target[i] = f(source[i]) }
            }
        }
        return Tensor(shape: x.shape, storage: y)
    }

    /// erf: glibc's erff (≤ 1 ulp). A branch-free rational approximation (Eigen's) was 17% faster on BERT but,
    /// at ~6 ulp, put conductance on all-MiniLM-L6-v2 farther from float64 Captum than Captum's float32 run.
    @inline(__always)
    static func erf(_ value: Float) -> Float { erff(value) }

    func function(_ x: Float) -> Float {
        switch kind {
        case .gelu(let approximate):
            if approximate { return 0.5 * x * (1 + tanhf(Self.tanhScale * (x + Self.tanhCubic * x * x * x))) }
            return 0.5 * x * (1 + Self.erf(x * Self.inverseSqrt2))
        case .erf: return Self.erf(x)
        case .sqrt: return x.squareRoot()
        case .reciprocal: return 1 / x
        case .neg: return -x
        case .exp: return expf(x)
        case .log: return logf(x)
        case .abs: return Swift.abs(x)
        case .sin: return sinf(x)
        case .cos: return cosf(x)
        case .hardSigmoid(let alpha, let beta): return Swift.max(0, Swift.min(1, alpha * x + beta))
        case .hardSwish: return x * Swift.max(0, Swift.min(1, x / 6 + 0.5))
        }
    }

    func slope(_ x: Float, _ y: Float) -> Float {
        switch kind {
        case .gelu(let approximate):
            if approximate {
                let t = tanhf(Self.tanhScale * (x + Self.tanhCubic * x * x * x))
                return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * Self.tanhScale * (1 + 3 * Self.tanhCubic * x * x)
            }
            return 0.5 * (1 + Self.erf(x * Self.inverseSqrt2)) + x * Self.inverseSqrt2Pi * expf(-0.5 * x * x)
        case .erf: return Self.twoOverSqrtPi * expf(-x * x)
        case .sqrt: return 0.5 / y
        case .reciprocal: return -y * y
        case .neg: return -1
        case .exp: return y
        case .log: return 1 / x
        case .abs: return x > 0 ? 1 : x < 0 ? -1 : 0
        case .sin: return cosf(x)
        case .cos: return -sinf(x)
        case .hardSigmoid(let alpha, let beta):
            let z = alpha * x + beta
            return z > 0 && z < 1 ? alpha : 0
        case .hardSwish: return x < -3 ? 0 : x <= 3 ? x / 3 + 0.5 : 1
        }
    }

    public func derivative(input x: Tensor, output y: Tensor) -> Tensor { x.zipMap(y, slope) }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        guard context.needsGradient.first == true else { return [nil] }
        let x = try context.floatInput(0), y = try context.floatOutput(0)
        return [try context.outputGradient().zipMap(derivative(input: x, output: y), *)]
    }
}

/// ONNX Floor, Ceil, Round (half to even, as ONNX), Sign: piecewise constant, so no gradient — refused on
/// the gradient path rather than contributing a zero.
public struct RoundingOperator: NonDifferentiableOperator {
    public enum Kind: Sendable { case floor, ceil, round, sign }
    public var kind: Kind
    public init(_ kind: Kind) { self.kind = kind }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        if case .int = try inputs.required(0) {
            guard kind == .sign, case .int(let t) = try inputs.required(0) else { return [try inputs.required(0)] }
            return [.int(IntTensor(shape: t.shape, storage: t.storage.map { $0.signum() }))]
        }
        let x = try inputs.float(0)
        switch kind {
        case .floor: return [.float(x.map { $0.rounded(.down) })]
        case .ceil: return [.float(x.map { $0.rounded(.up) })]
        case .round: return [.float(x.map { $0.rounded(.toNearestOrEven) })]
        case .sign: return [.float(x.map { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 })]
        }
    }
}

/// ONNX Pow y = a^b with multidirectional broadcasting; an integer exponent is read as float.
/// VJP: dA = unb(g·b·a^(b−1)); dB = unb(g·y·ln a) where a > 0, and 0 where a ≤ 0 (ln undefined; torch gives 0
/// at a = 0 with b ≥ 0 and NaN for a < 0 — ModScope never propagates NaN).
public struct PowOperator: Operator {
    public init() {}
    /// Ordinary gradient unless the exponent is constant, when DeepLIFT rescales it in the base (BackwardRules).
    public var defaultTraits: OperatorTraits { .custom }

    func operands(_ inputs: [Value?]) throws -> (a: Tensor, b: Tensor, map: BroadcastIndexing) {
        let a = try inputs.float(0)
        let exponent = try inputs.required(1)
        let b = Tensor(shape: exponent.shape, storage: numericValues(exponent).map { Float($0) })
        return (a, b, try BroadcastIndexing([a.shape, b.shape]))
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let (a, b, map) = try operands(inputs)
        return [.float(Tensor(shape: map.shape, storage: (0..<map.count).map { o in
            powf(a.storage[map.sources[0][o]], b.storage[map.sources[1][o]])
        }))]
    }

    /// ∂y/∂a = b·a^(b−1) at every output element.
    public func baseSlope(_ inputs: [Value?]) throws -> Tensor {
        let (a, b, map) = try operands(inputs)
        return Tensor(shape: map.shape, storage: (0..<map.count).map { o in
            let (base, exponent) = (a.storage[map.sources[0][o]], b.storage[map.sources[1][o]])
            return exponent == 0 ? 0 : exponent * powf(base, exponent - 1)
        })
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let (a, b, map) = try operands(context.inputs)
        let g = try context.outputGradient(), y = try context.floatOutput(0)
        var result: [Tensor?] = [nil, nil]
        if context.needsGradient[0] {
            let slope = try baseSlope(context.inputs)
            result[0] = map.reduce((0..<map.count).map { g.storage[$0] * slope.storage[$0] }, onto: 0, shape: a.shape)
        }
        if context.needsGradient.count > 1, context.needsGradient[1] {
            let term = (0..<map.count).map { o -> Float in
                let base = a.storage[map.sources[0][o]]
                return base > 0 ? g.storage[o] * y.storage[o] * logf(base) : 0
            }
            result[1] = map.reduce(term, onto: 1, shape: b.shape)
        }
        return result
    }
}

/// ONNX Max / Min over any number of broadcast inputs (float, or all-integer for shape arithmetic).
/// VJP: the gradient goes to the input holding the extreme; on ties it is split evenly between the tied
/// inputs, which is torch's rule for torch.maximum/minimum (grad/2 each for two inputs) generalised to k.
public struct ExtremumOperator: Operator {
    public var maximum: Bool
    public init(maximum: Bool) { self.maximum = maximum }
    public var defaultTraits: OperatorTraits { .gradient }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let values = inputs.compactMap { $0 }
        guard !values.isEmpty else { throw GraphError("\(maximum ? "Max" : "Min") needs at least one input") }
        let map = try BroadcastIndexing(values.map(\.shape))
        let numbers = values.map(numericValues)
        let result = (0..<map.count).map { o in
            numbers.indices.map { numbers[$0][map.sources[$0][o]] }.reduce(maximum ? -Double.infinity : .infinity) {
                maximum ? Swift.max($0, $1) : Swift.min($0, $1)
            }
        }
        if values.allSatisfy({ if case .int = $0 { return true } else { return false } }) {
            return [.int(IntTensor(shape: map.shape, storage: result.map { Int64($0) }))]
        }
        return [.float(Tensor(shape: map.shape, storage: result.map { Float($0) }))]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let values = try context.inputs.indices.map { try context.inputs.required($0) }
        let map = try BroadcastIndexing(values.map(\.shape))
        let numbers = values.map(numericValues)
        let y = numericValues(context.outputs[0])
        let g = try context.outputGradient()
        var shares = [[Float]](repeating: [Float](repeating: 0, count: map.count), count: values.count)
        for o in 0..<map.count {
            let tied = values.indices.filter { numbers[$0][map.sources[$0][o]] == y[o] }
            for k in tied { shares[k][o] = g.storage[o] / Float(tied.count) }
        }
        return values.indices.map { k in
            context.needsGradient[k] ? map.reduce(shares[k], onto: k, shape: values[k].shape) : nil
        }
    }
}

/// ONNX Mod: fmod = 0 takes the divisor's sign (Python %, integer inputs), fmod = 1 the dividend's (C fmod).
/// Integer division by zero yields 0 (ModScope never traps). VJP (floats): dA = g, dB = −g·q with q the
/// quotient the remainder used (trunc(a/b) for fmod, floor(a/b) otherwise), both summed over broadcasting.
public struct ModOperator: Operator {
    public var fmod: Bool
    public init(fmod: Bool) { self.fmod = fmod }
    public var defaultTraits: OperatorTraits { .gradient }

    func quotient(_ a: Double, _ b: Double) -> Double { (a / b).rounded(fmod ? .towardZero : .down) }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let (x, y) = (try inputs.required(0), try inputs.required(1))
        let map = try BroadcastIndexing([x.shape, y.shape])
        if case .int(let a) = x, case .int(let b) = y {
            return [.int(IntTensor(shape: map.shape, storage: (0..<map.count).map { o in
                let (p, q) = (a.storage[map.sources[0][o]], b.storage[map.sources[1][o]])
                guard q != 0 else { return 0 }
                let r = p % q
                return !fmod && r != 0 && (r < 0) != (q < 0) ? r + q : r
            }))]
        }
        let (a, b) = (numericValues(x), numericValues(y))
        return [.float(Tensor(shape: map.shape, storage: (0..<map.count).map { o in
            let (p, q) = (a[map.sources[0][o]], b[map.sources[1][o]])
            return Float(p - q * quotient(p, q))
        }))]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let (a, b) = (try context.floatInput(0), try context.floatInput(1))
        let map = try BroadcastIndexing([a.shape, b.shape])
        let g = try context.outputGradient()
        var result: [Tensor?] = [nil, nil]
        if context.needsGradient[0] { result[0] = map.reduce(g.storage, onto: 0, shape: a.shape) }
        if context.needsGradient[1] {
            let term = (0..<map.count).map { o in
                -g.storage[o] * Float(quotient(Double(a.storage[map.sources[0][o]]), Double(b.storage[map.sources[1][o]])))
            }
            result[1] = map.reduce(term, onto: 1, shape: b.shape)
        }
        return result
    }
}
