import TensorCore

/// The layer attribution methods, named as on the command line. Each matches a Captum 0.9.0 class
/// (see docs/methods.md for the formulas and where ModScope deliberately differs).
public enum AttributionMethod: String, Sendable, CaseIterable, Codable {
    /// LayerConductance (Dhamdhere et al. 2018; Shrikumar et al. 2018's form): Σ_k g(a_k)·(a_{k+1} − a_k) over
    /// m = steps + 1 points of the input-space path; the quadrature's weights are not used.
    case conductance
    /// LayerIntegratedGradients (Sundararajan et al. 2017) on the straight line in layer space:
    /// (a(x) − a(x′))·Σ_k w_k g(a(x′) + α_k(a(x) − a(x′))).
    case integratedGradients = "integrated-gradients"
    /// LayerDeepLift (Shrikumar et al. 2017): (a(x) − a(x′))·m with the multipliers m of each op's registry
    /// rule (rescale for elementwise nonlinearities, Captum's MaxPool rule, the SiLU unit, the product rule for
    /// two varying factors, the ordinary gradient for Softmax and LayerNorm; see BackwardRules, docs/methods.md).
    case deeplift
    /// The gradient at the layer with every Relu after it passing only positive gradients (Springenberg et al. 2015).
    case guidedBackprop = "guided-backprop"
    /// LayerGradientXActivation: g(a(x))·a(x).
    case gradientTimesActivation = "grad-x-act"
    /// The plain gradient g(a(x)).
    case gradient
    /// LayerActivation: a(x).
    case activation

    /// Rows evaluated per sample (the block layout of one forward pass).
    func rowsPerSample(steps: Int) -> Int {
        switch self {
        case .conductance: return steps + 1
        case .integratedGradients: return steps
        case .deeplift: return 2
        case .guidedBackprop, .gradientTimesActivation, .gradient, .activation: return 1
        }
    }

    /// Whether Σ attribution approximates F(x) − F(x′), so a completeness error (delta) is meaningful.
    public var hasCompleteness: Bool { [.conductance, .integratedGradients, .deeplift].contains(self) }
}

/// How neurons of a (C, H, W) layer become matrix columns.
public enum Granularity: String, Sendable, CaseIterable, Codable {
    /// One column per unit: C·H·W columns in C order.
    case unit
    /// One column per channel: the sum over H, W (keeps completeness).
    case channel
    /// For a (T, D) sequence layer: one matrix row per (sample, position), row n·T + t, and D columns — the
    /// `unit` matrix reshaped from (N, T·D) to (N·T, D), the same bytes.
    case token
}
