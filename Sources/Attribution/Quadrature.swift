import Foundation

/// Integration points along the straight path from the baseline (α = 0) to the input (α = 1), exactly as
/// Captum 0.9.0 builds them (`captum.attr._utils.approximation_methods`).
///
/// - `gaussLegendre`: numpy `leggauss(m)` nodes z (ascending) mapped to α = (1 + z)/2, weights w/2, in Float64.
///   Neither 0 nor 1 is a node.
/// - Riemann rules: α from `torch.linspace` in Float32 (reproduced, rounding included): left `[0, 1 − 1/m]`,
///   right `[1/m, 1]`, middle `[1/(2m), 1 − 1/(2m)]`, trapezoid `[0, 1]`; weights 1/m (trapezoid: 1/(m − 1) with
///   both ends halved).
public enum Quadrature: String, Sendable, CaseIterable, Codable {
    case gaussLegendre = "gausslegendre"
    case riemannLeft = "riemann-left"
    case riemannRight = "riemann-right"
    case riemannMiddle = "riemann-middle"
    case riemannTrapezoid = "riemann-trapezoid"

    /// (alphas, weights) for `count` points.
    public func points(_ count: Int) -> (alphas: [Double], weights: [Double]) {
        precondition(count >= 1, "quadrature needs at least one point")
        switch self {
        case .gaussLegendre:
            let (nodes, weights) = Quadrature.legendreNodes(count)
            return (nodes.map { 0.5 * (1 + $0) }, weights.map { 0.5 * $0 })
        case .riemannLeft:
            return (Quadrature.linspace(0, 1 - 1 / Double(count), count), .init(repeating: 1 / Double(count), count: count))
        case .riemannRight:
            return (Quadrature.linspace(1 / Double(count), 1, count), .init(repeating: 1 / Double(count), count: count))
        case .riemannMiddle:
            let half = 1 / (2 * Double(count))
            return (Quadrature.linspace(half, 1 - half, count), .init(repeating: 1 / Double(count), count: count))
        case .riemannTrapezoid:
            if count == 1 { return ([0], [1]) }
            var weights = [Double](repeating: 1 / Double(count - 1), count: count)
            weights[0] /= 2
            weights[count - 1] /= 2
            return (Quadrature.linspace(0, 1, count), weights)
        }
    }

    /// torch.linspace(start, end, steps) in Float32: the first half counts up from start, the second half down
    /// from end (torch's CPU kernel), each value a Float32.
    static func linspace(_ start: Double, _ end: Double, _ steps: Int) -> [Double] {
        if steps == 1 { return [Double(Float(start))] }
        let (s, e) = (Float(start), Float(end))
        let step = (e - s) / Float(steps - 1)
        let halfway = steps / 2
        return (0..<steps).map { i in Double(i < halfway ? s + step * Float(i) : e - step * Float(steps - i - 1)) }
    }

    /// Gauss–Legendre nodes (ascending in (−1, 1)) and weights by Newton's method on P_m, to ~1e-15.
    static func legendreNodes(_ m: Int) -> ([Double], [Double]) {
        var nodes = [Double](repeating: 0, count: m)
        var weights = [Double](repeating: 0, count: m)
        for i in 0..<((m + 1) / 2) {
            var z = cos(Double.pi * (Double(i) + 0.75) / (Double(m) + 0.5))
            var derivative = 0.0
            for _ in 0..<100 {
                var p0 = 1.0, p1 = 0.0
                for j in 1...m {
                    let p2 = p1
                    p1 = p0
                    p0 = ((2 * Double(j) - 1) * z * p1 - (Double(j) - 1) * p2) / Double(j)
                }
                derivative = Double(m) * (z * p0 - p1) / (z * z - 1)
                let previous = z
                z = previous - p0 / derivative
                if abs(z - previous) < 1e-15 { break }
            }
            nodes[i] = -z
            nodes[m - 1 - i] = z
            weights[i] = 2 / ((1 - z * z) * derivative * derivative)
            weights[m - 1 - i] = weights[i]
        }
        return (nodes, weights)
    }
}
