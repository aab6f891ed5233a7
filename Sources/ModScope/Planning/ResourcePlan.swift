import ArrayFiles
import Attribution
import Foundation
import ONNX

/// Resident memory of this process, from /proc/self/status (Linux), in bytes.
public enum ProcessMemory {
    /// Current resident set size (VmRSS).
    public static var residentBytes: Int { field("VmRSS") ?? 0 }
    /// Peak resident set size since start or the last `resetPeak()` (VmHWM).
    public static var peakBytes: Int { field("VmHWM") ?? residentBytes }

    /// Resets the peak to the current resident size (writing 5 to /proc/self/clear_refs, Linux ≥ 4.0); false when
    /// the kernel refuses, in which case the peak keeps counting from the process start.
    @discardableResult
    public static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }

    /// MemAvailable of /proc/meminfo: what new processes can use without swapping.
    public static var availableBytes: Int? { field("MemAvailable", file: "/proc/meminfo") }

    static func field(_ name: String, file: String = "/proc/self/status") -> Int? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kilobytes = Int(parts[1]) { return kilobytes * 1024 }
        }
        return nil
    }
}

/// What one attribution process needs, measured on the real model and settings.
///
/// - `baseBytes`: resident memory with the model loaded and the attributor planned (the executable, libraries,
///   weights, plans).
/// - `blockBytes`: extra peak memory while one determinism block is attributed on one thread (every tensor of
///   the block's forward and backward passes: integration steps × layer sizes). Threads run blocks at once, so
///   a process with T threads needs about T × blockBytes on top of its base.
/// - `secondsPerSample`: single-thread compute time per sample, timed after a warm-up block.
public struct AttributionCalibration: Sendable {
    public var baseBytes: Int
    public var blockBytes: Int
    public var secondsPerSample: Double
    public var samples: Int

    /// Peak memory of a process attributing with `threads` threads in chunks of `batchSize` samples:
    /// base + threads × block + the chunk's buffers (its samples, the per-block results and the assembled rows,
    /// float32) + `mappedBytes` of files it maps (the data file, read chunk by chunk, stays resident).
    public func peakBytes(spec: AttributionSpec, threads: Int, batchSize: Int, mappedBytes: Int = 0) -> Int {
        let perSample = spec.sampleShape.reduce(1, *)
        let chunkBytes = batchSize * (perSample + 2 * spec.neuronCount * spec.matrixRowsPerSample + 2) * MemoryMath.floatBytes
        return baseBytes + threads * blockBytes + chunkBytes + mappedBytes
    }
}

enum MemoryMath {
    static let floatBytes = MemoryLayout<Float>.size
    /// `modscope attribute`'s chunk size when memory allows: large enough for every thread to get several blocks.
    static let preferredBatchSize = 256
    /// Chunks are multiples of the shard alignment (64 samples).
    static var alignment: Int { AttributionConfiguration.shardAlignment }
}

/// Measures `AttributionCalibration` on the first samples of a request's data.
public enum AttributionCalibrator {
    /// - Parameters:
    ///   - samples: samples timed after the warm-up block (rounded up to whole blocks, at most the data size);
    ///     0 measures memory only.
    ///   - firstBlock: receives the warm-up block's output (rows 0..<blockSamples) so a caller can keep it.
    ///   - concurrentBlocks: blocks of the warm-up run at once, one per thread (1: the first block alone); the
    ///     memory per block is then the peak increase divided by the blocks that ran.
    public static func calibrate(
        spec: AttributionSpec, model: ONNXModel, table: any SampleTable, samples: Int, concurrentBlocks: Int = 1,
        firstBlock: ((Range<Int>, BlockedAttribution.Output) throws -> Void)? = nil
    ) throws -> AttributionCalibration {
        let computer = try AttributionComputer(spec: spec, model: model, threads: max(1, concurrentBlocks))
        let block = spec.configuration.blockSamples
        let warmUp = 0..<min(block * max(1, concurrentBlocks), spec.rowCount)
        let blocksRun = (warmUp.count + block - 1) / block
        let warmUpSamples = try table.floatRows(warmUp)
        let base = ProcessMemory.residentBytes
        let reset = ProcessMemory.resetPeak()
        let before = reset ? base : ProcessMemory.peakBytes
        let output = try computer.rows(warmUp, samples: warmUpSamples)
        let blockBytes = max(0, ProcessMemory.peakBytes - before) / max(1, blocksRun)
        try firstBlock?(warmUp, output)
        guard samples > 0 else { return AttributionCalibration(baseBytes: base, blockBytes: blockBytes, secondsPerSample: 0, samples: 0) }
        let count = min(spec.rowCount, max(block, (samples + block - 1) / block * block))
        let timed = 0..<count
        let timedSamples = try table.floatRows(timed)
        let start = DispatchTime.now()
        _ = try computer.rows(timed, samples: timedSamples)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return AttributionCalibration(baseBytes: base, blockBytes: blockBytes, secondsPerSample: seconds / Double(count), samples: count)
    }
}

/// The answer of `modscope plan`, and the batch size `attribute` picks.
public struct ResourcePlan: Codable, Sendable {
    public var samples: Int
    public var neurons: Int
    /// Matrix rows: `samples`, or samples × positions with `--granularity token`.
    public var matrixRows: Int
    public var matrixBytes: Int
    public var workers: Int
    public var workerThreads: Int
    /// A worker with `workerThreads` threads (the same as `modscope attribute --threads workerThreads`, less the
    /// mapped data file).
    public var peakMemoryBytesPerWorker: Int
    public var secondsPerSample: Double
    /// The attribution stage at `workers` × `workerThreads` block threads (perfect scaling; the measured
    /// parallel efficiency is 79–92 %, docs/performance.md).
    public var totalSeconds: Double
    /// `modscope attribute --threads workerThreads` on this machine: compute time and peak memory (with the
    /// data file, which it maps).
    public var attributeSeconds: Double
    public var attributePeakMemoryBytes: Int
    public var batchSize: Int
    public var availableMemoryBytes: Int?
    public var deadlineSeconds: Double?
    /// Workers of `workerThreads` threads needed to finish the attribution within the deadline.
    public var workersForDeadline: Int?
    public var calibrationSamples: Int
    public var baseMemoryBytes: Int
    public var blockMemoryBytes: Int

    enum CodingKeys: String, CodingKey {
        case samples, neurons, workers
        case matrixRows = "matrix_rows"
        case matrixBytes = "matrix_bytes"
        case workerThreads = "worker_threads"
        case peakMemoryBytesPerWorker = "peak_memory_bytes_per_worker"
        case secondsPerSample = "seconds_per_sample"
        case totalSeconds = "total_seconds"
        case attributeSeconds = "attribute_seconds"
        case attributePeakMemoryBytes = "attribute_peak_memory_bytes"
        case batchSize = "batch_size"
        case availableMemoryBytes = "available_memory_bytes"
        case deadlineSeconds = "deadline_seconds"
        case workersForDeadline = "workers_for_deadline"
        case calibrationSamples = "calibration_samples"
        case baseMemoryBytes = "base_memory_bytes"
        case blockMemoryBytes = "block_memory_bytes"
    }

    public init(
        spec: AttributionSpec, calibration c: AttributionCalibration, workers: Int, workerThreads: Int, batchSize: Int?,
        dataBytes: Int, deadline: Double?, availableMemory: Int? = ProcessMemory.availableBytes
    ) throws {
        samples = spec.rowCount
        neurons = spec.neuronCount
        matrixRows = spec.matrixRowCount
        matrixBytes = spec.matrixRowCount * spec.neuronCount * MemoryMath.floatBytes + NPYHeaderSize.bytes
        self.workers = workers
        self.workerThreads = workerThreads
        availableMemoryBytes = availableMemory
        let budget = availableMemory.map { $0 / max(workers, 1) }
        self.batchSize = try batchSize
            ?? Self.chooseBatchSize(spec: spec, calibration: c, threads: workerThreads, mappedBytes: dataBytes, budget: availableMemory)
        // A worker holds one shard-alignment unit of samples at a time (AttributionJobKind.Computer).
        peakMemoryBytesPerWorker = c.peakBytes(spec: spec, threads: workerThreads, batchSize: MemoryMath.alignment)
        attributePeakMemoryBytes = c.peakBytes(spec: spec, threads: workerThreads, batchSize: self.batchSize, mappedBytes: dataBytes)
        if let budget, peakMemoryBytesPerWorker > budget {
            throw InputError(
                "each of --workers \(workers) would need about \(Self.megabytes(peakMemoryBytesPerWorker)) of memory, but this machine has \(Self.megabytes(availableMemory ?? 0)) available (\(Self.megabytes(budget)) per worker); use fewer --workers or --worker-threads, fewer --steps, or --granularity channel")
        }
        secondsPerSample = c.secondsPerSample
        let blockThreads = Double(max(1, workers) * workerThreads)
        totalSeconds = Double(spec.rowCount) * c.secondsPerSample / blockThreads
        attributeSeconds = Double(spec.rowCount) * c.secondsPerSample / Double(workerThreads)
        deadlineSeconds = deadline
        workersForDeadline = deadline.map { d in
            Int((Double(spec.rowCount) * c.secondsPerSample / Double(workerThreads) / max(d, 1e-9)).rounded(.up))
        }
        calibrationSamples = c.samples
        baseMemoryBytes = c.baseBytes
        blockMemoryBytes = c.blockBytes
    }

    /// The largest of 256, 192, 128, 64 samples per chunk whose peak fits `budget` (256 when the budget is
    /// unknown); an error saying what to change when even 64 does not fit.
    public static func chooseBatchSize(
        spec: AttributionSpec, calibration c: AttributionCalibration, threads: Int, mappedBytes: Int, budget: Int?
    ) throws -> Int {
        guard let budget else { return MemoryMath.preferredBatchSize }
        for size in stride(from: MemoryMath.preferredBatchSize, through: MemoryMath.alignment, by: -MemoryMath.alignment)
        where c.peakBytes(spec: spec, threads: threads, batchSize: size, mappedBytes: mappedBytes) <= budget {
            return size
        }
        let needed = c.peakBytes(spec: spec, threads: threads, batchSize: MemoryMath.alignment, mappedBytes: mappedBytes)
        throw InputError(
            "attribution with --threads \(threads) needs about \(megabytes(needed)) of memory (\(megabytes(c.blockBytes)) per thread for one block of \(spec.configuration.blockSamples) samples), but only \(megabytes(budget)) is available; use fewer --threads, fewer --steps, or --granularity channel")
    }

    static func megabytes(_ bytes: Int) -> String {
        String(format: bytes < 10_000_000 ? "%.2f MB" : "%.0f MB", Double(bytes) / 1e6)
    }

    /// The plan as text (what `modscope plan` prints without --json).
    public var text: String {
        func mb(_ bytes: Int) -> String { Self.megabytes(bytes) }
        func duration(_ s: Double) -> String {
            s < 120 ? String(format: "%.1f s", s) : s < 7200 ? String(format: "%.1f min", s / 60) : String(format: "%.1f h", s / 3600)
        }
        var lines = [
            (matrixRows == samples ? "matrix: \(samples) samples" : "matrix: \(matrixRows) token rows (\(samples) samples)")
                + " × \(neurons) neurons = \(mb(matrixBytes))",
            "calibration: \(calibrationSamples) samples on 1 thread, \(String(format: "%.3g", secondsPerSample * 1000)) ms per sample; base \(mb(baseMemoryBytes)), \(mb(blockMemoryBytes)) per block thread",
            "peak memory per worker (--worker-threads \(workerThreads)): \(mb(peakMemoryBytesPerWorker))"
                + (availableMemoryBytes.map { " (available: \(mb($0)))" } ?? ""),
            "attribution at --workers \(workers) × \(workerThreads) thread(s): \(duration(totalSeconds))",
            "modscope attribute --threads \(workerThreads): \(duration(attributeSeconds)), peak \(mb(attributePeakMemoryBytes)), --batch-size \(batchSize)",
        ]
        if let deadlineSeconds, let workersForDeadline {
            lines.append("to finish within \(duration(deadlineSeconds)): \(workersForDeadline) worker(s) of \(workerThreads) thread(s)")
        }
        return lines.joined(separator: "\n")
    }
}

/// The .npy v1.0 header ModScope writes: a multiple of 64 bytes; 128 for any 2-D float32 matrix.
enum NPYHeaderSize {
    static let bytes = 128
}
