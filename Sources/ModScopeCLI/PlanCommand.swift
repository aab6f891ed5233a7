import ArgumentParser
import Foundation
import BatchRuntime
import ModScope

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Before a long run: matrix size, peak memory per worker, time per sample and for the run, the batch size.",
        discussion: """
            Takes the flags of `run` and calibrates on the first samples of --data (one warm-up block, then \
            --calibration-samples timed on one thread). Times assume every block thread busy (workers × \
            --worker-threads); see docs/performance.md for how close the estimates come.
            Example:
              modscope plan --model examples/digits/mlp.onnx --data examples/digits/data.npy --layer relu \\
                --workers 4 --deadline 600 --json
            """)

    @OptionGroup var options: NewRunOptions

    @Option(help: "Samples timed after the warm-up block (rounded up to whole blocks).")
    var calibrationSamples = 64

    @Option(help: "Seconds the attribution may take: the plan says how many workers finish within it.")
    var deadline: Double?

    @Flag(help: "Print JSON (matrix_bytes, peak_memory_bytes_per_worker, seconds_per_sample, total_seconds, batch_size, …).")
    var json = false

    func validate() throws {
        try FlagLimits.check("--calibration-samples", calibrationSamples, in: FlagLimits.calibrationSamples)
        if let deadline { try FlagLimits.check("--deadline", deadline) }
    }

    func run() throws {
        try reportingErrors {
            let request = try options.attribution.request()
            let (spec, model, table, _) = try request.prepare()
            let calibration = try AttributionCalibrator.calibrate(spec: spec, model: model, table: table, samples: calibrationSamples)
            let plan = try ResourcePlan(
                spec: spec, calibration: calibration, workers: options.runtime.workers ?? 2,
                workerThreads: options.runtime.workerThreads, batchSize: nil, dataBytes: fileSize(request.dataPath),
                deadline: deadline)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(plan), as: UTF8.self))
            } else {
                print(plan.text)
            }
        }
    }
}

/// `run`: refuses (exit 2) before any process starts when the local workers would not fit in memory, from the
/// memory one block takes on this machine (`ResourcePlan`). External workers run elsewhere and are not checked.
func refuseWhenWorkersCannotFit(request: AttributionRequest, runtime: RuntimeOptions, defaultWorkers: Int) throws {
    let workers = runtime.workers ?? (runtime.bind == nil ? defaultWorkers : 0)
    guard workers > 0 else { return }
    do {
        let (spec, model, table, _) = try request.prepare()
        let calibration = try AttributionCalibrator.calibrate(spec: spec, model: model, table: table, samples: 0)
        _ = try ResourcePlan(
            spec: spec, calibration: calibration, workers: workers, workerThreads: runtime.workerThreads, batchSize: nil,
            dataBytes: fileSize(request.dataPath), deadline: nil)
    } catch let error as InputError {
        throw RuntimeUsageError(error.message)
    }
}
