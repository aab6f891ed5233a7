import Testing
import TensorCore
@testable import Autodiff

/// Deterministic pseudo-random numbers for tests (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomTensor(_ shape: [Int], _ rng: inout SeededGenerator, range: ClosedRange<Float> = -1...1) -> Tensor {
    Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in Float.random(in: range, using: &rng) })
}

/// Checks an operator's VJP against central finite differences of L = Σ seed ⊙ forward(inputs)[0].
///
/// Computed in Float32, so the tolerance is loose (|analytic − numeric| ≤ 2e-2·max(1, |numeric|) with step 1e-2
/// on O(1) inputs); it catches wrong formulas, transposes and broadcasting mistakes, not rounding.
func checkGradient(
    _ op: any Operator, inputs: [Value?], differentiable: [Int], seed: UInt64 = 7,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    var rng = SeededGenerator(seed: seed)
    let outputs = try op.forward(inputs)
    guard case .float(let y) = outputs[0] else { Issue.record("output is not float"); return }
    let weights = randomTensor(y.shape, &rng)
    func loss(_ values: [Value?]) throws -> Double {
        guard case .float(let out) = try op.forward(values)[0] else { return .nan }
        return zip(out.storage, weights.storage).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    var needs = [Bool](repeating: false, count: inputs.count)
    for i in differentiable { needs[i] = true }
    let context = BackwardContext(
        inputs: inputs, outputs: outputs, outputGradients: [weights] + [Tensor?](repeating: nil, count: outputs.count - 1),
        needsGradient: needs)
    let analytic = try op.backward(context)
    let step: Float = 1e-2
    for index in differentiable {
        guard case .float(let x) = inputs[index]!, let gradient = analytic[index] else {
            Issue.record("no gradient for input \(index)", sourceLocation: sourceLocation)
            continue
        }
        #expect(gradient.shape == x.shape, sourceLocation: sourceLocation)
        var worst: Float = 0
        for element in 0..<x.count {
            var plus = inputs, minus = inputs
            var xp = x, xm = x
            xp.storage[element] += step
            xm.storage[element] -= step
            plus[index] = .float(xp)
            minus[index] = .float(xm)
            let numeric = Float((try loss(plus) - loss(minus)) / Double(2 * step))
            let error = abs(gradient.storage[element] - numeric) / max(1, abs(numeric))
            worst = max(worst, error)
        }
        #expect(worst <= 2e-2, "input \(index): worst relative error \(worst)", sourceLocation: sourceLocation)
    }
}
