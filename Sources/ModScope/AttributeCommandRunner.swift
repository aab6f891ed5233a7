import ArrayFiles
import Attribution
import BatchRuntime
import Foundation
import ONNX

/// `modscope attribute`: the single-process attribution matrix, streamed chunk by chunk so memory stays bounded
/// whatever the data size. The output appears only when complete (written as OUT.partial, renamed at the end).
public struct AttributeCommandRunner {
    public var request: AttributionRequest
    public var outputPath: String
    public var deltaPath: String?
    /// Samples per chunk (rounded up to a multiple of 64, the block alignment); nil: chosen from the memory
    /// one block takes, measured on the first block (`ResourcePlan.chooseBatchSize`), refusing when even 64
    /// samples per chunk would not fit in the available memory.
    public var batchSize: Int?
    public var threads: Int
    public var quiet: Bool
    /// Seconds spent in the chunk loop (reading, attributing, writing), set by `run()`: the figure the
    /// benchmark compares with Captum's in-process loop.
    public private(set) var computeSeconds: Double = 0

    /// The chunk size used by the last `run()`.
    public private(set) var chosenBatchSize = 0

    public init(request: AttributionRequest, outputPath: String, deltaPath: String?, batchSize: Int?, threads: Int, quiet: Bool = false) {
        self.request = request
        self.outputPath = outputPath
        self.deltaPath = deltaPath
        self.batchSize = batchSize
        self.threads = threads
        self.quiet = quiet
    }

    @discardableResult
    public mutating func run() throws -> AttributionSpec {
        if let batchSize, batchSize < 1 { throw InputError("--batch-size must be at least 1 (got \(batchSize))") }
        guard threads >= 1 else { throw InputError("--threads must be at least 1 (got \(threads))") }
        if deltaPath != nil && !request.configuration.method.hasCompleteness {
            throw InputError("--delta is only defined for conductance, integrated-gradients and deeplift")
        }
        try checkOutputs()
        let (spec, model, table, _) = try request.prepare()
        let computer = try AttributionComputer(spec: spec, model: model, threads: threads)
        if !quiet, let note = computer.evaluationNote { StandardError.write("note: \(note)\n") }
        let alignment = AttributionConfiguration.shardAlignment
        // A name of this process alone next to the output: renamed over it only when complete.
        let partial = outputPath + ".partial-\(getpid())"
        let writer = try NPYRowWriter(creating: partial, rows: spec.matrixRowCount, columns: spec.neuronCount)
        let rowsPerSample = spec.matrixRowsPerSample
        var completed = false
        defer {
            writer.close()
            if !completed { try? FileManager.default.removeItem(atPath: partial) }
        }
        var delta = [Float]()
        let progress = StageProgress(label: "attribute (\(spec.configuration.method.rawValue))", total: spec.rowCount, quiet: quiet)
        let loopStart = DispatchTime.now()
        var firstRow = 0
        if batchSize == nil {
            // The first block alone on one thread measures the memory a block takes; when even a generous
            // estimate of `threads` blocks fits in half the available memory, the first `threads` blocks run at
            // once instead, so a short run is not half single-threaded.
            let estimate = computer.estimatedBlockBytes
            let concurrent = threads > 1 && (ProcessMemory.availableBytes.map { threads * estimate * 2 <= $0 } ?? false) ? threads : 1
            let calibration = try AttributionCalibrator.calibrate(
                spec: spec, model: model, table: table, samples: 0, concurrentBlocks: concurrent
            ) { range, output in
                try writer.writeRows(startingAt: range.lowerBound * rowsPerSample, output.attributions)
                delta.append(contentsOf: output.delta ?? [])
                progress.advance(by: range.count)
                firstRow = range.upperBound
            }
            let dataBytes = fileSize(request.dataPath)
            chosenBatchSize = try ResourcePlan.chooseBatchSize(
                spec: spec, calibration: calibration, threads: threads, mappedBytes: dataBytes, budget: ProcessMemory.availableBytes)
        } else {
            chosenBatchSize = (batchSize! + alignment - 1) / alignment * alignment
        }
        let chunk = chosenBatchSize
        for start in stride(from: firstRow, to: spec.rowCount, by: chunk) {
            let range = start..<min(start + chunk, spec.rowCount)
            let samples = try table.floatRows(range)
            let output = try computer.rows(range, samples: samples) { progress.advance(by: $0) }
            if let bad = firstNonFinite(in: output.attributions) {
                throw InputError(
                    "the attribution of sample \(range.lowerBound + bad / (spec.neuronCount * rowsPerSample)) is not finite; the model overflows on it (check the data's scale)")
            }
            try writer.writeRows(startingAt: range.lowerBound * rowsPerSample, output.attributions)
            delta.append(contentsOf: output.delta ?? [])
        }
        progress.finish()
        computeSeconds = Double(DispatchTime.now().uptimeNanoseconds - loopStart.uptimeNanoseconds) / 1e9
        try writer.synchronize()
        writer.close()
        if let deltaPath { try NPYWriter.write(delta, shape: [delta.count], to: deltaPath) }
        guard rename(partial, outputPath) == 0 else {
            throw InputError("cannot move the finished matrix to '\(outputPath)': \(String(cString: strerror(errno)))")
        }
        completed = true
        return spec
    }

    /// Inputs are never outputs: `--out` and `--delta` must not be the model, the data, the labels or the
    /// baseline file (same file after links), each other, or an existing non-regular file (`OutputPaths`).
    func checkOutputs() throws {
        var inputs = [OutputPaths.Named("--model", request.modelPath), OutputPaths.Named("--data", request.dataPath)]
        if let labels = request.labelsPath { inputs.append(.init("--labels", labels)) }
        if request.baseline != "zero" { inputs.append(.init("--baseline", request.baseline)) }
        var outputs = [OutputPaths.Named("--out", outputPath)]
        if let deltaPath { outputs.append(.init("--delta", deltaPath)) }
        try OutputPaths.check(outputs: outputs, inputs: inputs)
    }
}

/// The size of a file in bytes (0 when it cannot be read: the estimate then leaves it out).
public func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}
