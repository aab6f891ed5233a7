import ArgumentParser
import BatchRuntime
import Foundation
import ModScope

struct AttributeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attribute",
        abstract: "Compute the samples × neurons attribution matrix of one layer in a single process.",
        discussion: """
            Writes OUT as NumPy float32 (N, neurons), row i for sample i. The numbers are Captum 0.9.0's layer \
            methods (docs/methods.md). Results are byte-identical whatever --batch-size and --threads.
            Example:
              modscope attribute --model examples/digits/mlp.onnx --data examples/digits/data.npy \\
                --layer relu --method conductance --out conductance.npy
            """)

    @OptionGroup var attribution: AttributionOptions

    @Option(help: "Where to write the matrix (.npy).")
    var out: String

    @Option(help: "Also write the per-sample completeness error Σ attribution − (F(x) − F(x′)) here (.npy; conductance, integrated-gradients, deeplift).")
    var delta: String?

    @Option(help: "Samples per internal chunk, bounding memory (rounded up to a multiple of 64). Default: 256, or less when the memory measured on the first block says 256 would not fit (`modscope plan`).")
    var batchSize: Int?

    @Option(help: "Compute threads (whole blocks of samples run in parallel; BLAS itself runs single-threaded).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "No progress output.")
    var quiet = false

    @Flag(help: ArgumentHelp("Print the seconds spent computing (excluding start-up and model loading) on stderr.", visibility: .hidden))
    var timing = false

    func validate() throws {
        if let batchSize { try FlagLimits.check("--batch-size", batchSize, in: FlagLimits.rows) }
        try FlagLimits.check("--threads", threads, in: FlagLimits.threads)
    }

    func run() throws {
        try reportingErrors {
            var runner = AttributeCommandRunner(
                request: try attribution.request(), outputPath: out, deltaPath: delta, batchSize: batchSize, threads: threads,
                quiet: quiet)
            let spec = try runner.run()
            if timing { StandardError.write("compute_seconds=\(runner.computeSeconds)\n") }
            if !quiet {
                let rows = spec.rowsPerSample.map { "\(spec.matrixRowCount) token rows (\(spec.rowCount) samples × \($0) positions)" } ?? "\(spec.rowCount) samples"
                StandardError.write("wrote \(out): \(rows) × \(spec.neuronCount) neurons (layer \(spec.layer), \(spec.configuration.method.rawValue))\n")
            }
        }
    }
}
