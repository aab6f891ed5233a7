import ArgumentParser
import Attribution
import ModScope

/// The flags shared by `attribute`, `run` and `coordinator` (DESIGN.md, "Shared flags"). `--model`, `--data`
/// and `--layer` are required by each command (`run`/`coordinator` accept a hidden synthetic job instead).
struct AttributionOptions: ParsableArguments {
    @Option(help: "The ONNX model file (external data next to it is read too). Required.")
    var model: String?

    @Option(help: "Samples: .npy (float32/float64/integer), .npz (with --data-key) or .csv; shape (N, *input_shape). A model with several inputs (token ids, attention mask, …) takes an .npz with one array per input, keyed by the input names `modscope inspect` lists, all with the same first axis N (integers as int64). Required.")
    var data: String?

    @Option(help: "The array to read from an .npz --data file.")
    var dataKey: String?

    @Option(help: "Class labels (.npy or .csv, one per sample): used for --target labels and for evaluation, never to find modules.")
    var labels: String?

    @Option(help: "The hidden layer: a tensor name (e.g. /fc1/Relu_output_0 or relu_1), a node name, or a PyTorch module path (e.g. layer3). Give it several times for the columns of several layers, concatenated. `modscope inspect` lists them. Required.")
    var layer: [String] = []

    @Option(help: "The attribution method: \(AttributionMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var method: AttributionMethod = .conductance

    @Option(help: "The tensor that plays the model's output (default: the first float graph output, or skl2onnx's probabilities before ZipMap).")
    var output: String?

    @Option(help: "Which output unit to explain per sample: predicted (argmax at the real input), labels, or a unit index.")
    var target = "predicted"

    @Option(help: "Integration steps for conductance and integrated-gradients.")
    var steps = 50

    @Option(help: "Quadrature: \(Quadrature.allCases.map(\.rawValue).joined(separator: ", ")).")
    var quadrature: Quadrature = .gaussLegendre

    @Option(help: "Baseline x′ at the interpolation tensor: zero, or a file holding one sample (.npy for a one-input model, or .npz with the same keys as --data and a leading axis of 1, e.g. the sequence with every token replaced by [PAD]); its value at --interpolate-at is the path's start.")
    var baseline = "zero"

    @Option(help: "The float tensor where conductance and integrated-gradients take the straight path from baseline to input (DeepLIFT's reference point). Every other input (attention mask, token types) stays the sample's own. Default: the model's float input; for a token model, the word-embedding output (`modscope inspect` shows it).")
    var interpolateAt: String?

    @Option(help: "unit: one column per element (C·H·W, or T·D for a (T, D) sequence layer); channel: sums each channel over H, W, or each of the D features over the T positions; token (for a (T, D) layer): one row per (sample, position), row n·T + t, with D columns (default: channel for (C, H, W) layers, unit otherwise; channels-last tensors need unit).")
    var granularity: Granularity?

    func validate() throws {
        try FlagLimits.check("--steps", steps, in: FlagLimits.steps)
    }

    /// Whether any of the required job flags was given.
    var isGiven: Bool { model != nil || data != nil || !layer.isEmpty }

    /// The request, or a usage error naming the missing flag.
    func request() throws -> AttributionRequest {
        guard let model else { throw ValidationError("Missing --model: the ONNX model file to explain.") }
        guard let data else { throw ValidationError("Missing --data: the samples (.npy, .npz or .csv).") }
        guard !layer.isEmpty else { throw ValidationError("Missing --layer: the hidden layer (see `modscope inspect MODEL`).") }
        return AttributionRequest(
            modelPath: model, dataPath: data, dataKey: dataKey, labelsPath: labels, layers: layer, output: output,
            target: target, baseline: baseline, interpolateAt: interpolateAt,
            configuration: AttributionConfiguration(method: method, steps: steps, quadrature: quadrature, granularity: granularity))
    }
}

extension AttributionMethod: ExpressibleByArgument {}
extension Quadrature: ExpressibleByArgument {}
extension Granularity: ExpressibleByArgument {}
