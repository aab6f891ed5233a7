import Foundation
import TensorCore

extension AttributionConfiguration {
    /// Samples per determinism block: every block's matrix products run in calls of the same shape, so a
    /// sample's attribution row is identical whatever chunk, thread or shard computed it. Path methods evaluate
    /// steps + 1 rows per sample, so 16 samples already make large products; the one-row methods use 64.
    /// Chunks and shards start at multiples of 64 (a multiple of both).
    public var blockSamples: Int { method.rowsPerSample(steps: steps) >= 8 ? 16 : 64 }

    /// The alignment every chunk and shard boundary must respect.
    public static let shardAlignment = 64
}

/// Runs a `LayerAttributor` over a range of samples, block by block, spreading whole blocks over threads.
///
/// OpenBLAS runs single-threaded (process-wide, `BLAS.ensureConfigured`) and parallelism comes from running
/// different blocks at once: BLAS results depend on the thread count, block-level parallelism does not.
public struct BlockedAttribution: Sendable {
    public let attributor: LayerAttributor
    public let threads: Int

    public init(attributor: LayerAttributor, threads: Int) {
        self.attributor = attributor
        self.threads = max(1, threads)
    }

    public struct Output: Sendable {
        /// (samples · rowsPerSample, neuronCount) row-major.
        public var attributions: [Float]
        public var delta: [Float]?
        public var targets: [Int]
    }

    /// Attributions for samples `range` (whose lower bound is a multiple of the block size).
    /// - Parameters:
    ///   - samples: the range's samples, row-major (range.count × sample size).
    ///   - baselines: values at the interpolation tensor (`pathShape`), one per sample in the range or a single
    ///     one broadcast to all.
    ///   - targets: one per sample in the range, or nil for the predicted unit.
    public func attribute(
        range: Range<Int>, samples: [Float], baselines: [Float], targets: [Int]?,
        progress: (@Sendable (Int) -> Void)? = nil
    ) throws -> Output {
        let blockSize = attributor.configuration.blockSamples
        precondition(range.lowerBound % blockSize == 0, "blocks must start at multiples of \(blockSize)")
        let perSample = attributor.inputs.elementsPerSample
        let perBaseline = attributor.pathShape.reduce(1, *)
        precondition(samples.count == range.count * perSample, "sample count does not match the range")
        precondition(baselines.count == range.count * perBaseline || baselines.count == perBaseline, "baseline size mismatch")
        let blocks = stride(from: 0, to: range.count, by: blockSize).map { $0..<min($0 + blockSize, range.count) }
        let columns = attributor.neuronCount
        let results = BlockResults(count: blocks.count)
        BLAS.ensureConfigured()  // single-threaded BLAS; parallelism comes from blocks
        let work: @Sendable (Int) throws -> Void = { index in
            let block = blocks[index]
            let x = Tensor(shape: [block.count] + attributor.sampleShape, storage: Array(samples[(block.lowerBound * perSample)..<(block.upperBound * perSample)]))
            let xb: Tensor
            let baselineShape = [block.count] + attributor.pathShape
            if baselines.count == perBaseline {
                xb = Tensor(shape: baselineShape, storage: (0..<block.count).flatMap { _ in baselines })
            } else {
                xb = Tensor(
                    shape: baselineShape, storage: Array(baselines[(block.lowerBound * perBaseline)..<(block.upperBound * perBaseline)]))
            }
            let blockTargets = targets.map { Array($0[block]) }
            let result = try attributor.attribute(samples: x, baselines: xb, targets: blockTargets)
            results.store(index, result)
            progress?(block.count)
        }
        try Parallel.forEach(count: blocks.count, threads: threads, work)
        var output = Output(attributions: [], delta: attributor.configuration.method.hasCompleteness ? [] : nil, targets: [])
        output.attributions.reserveCapacity(range.count * attributor.rowsPerSample * columns)
        for index in 0..<blocks.count {
            let result = results.value(index)
            output.attributions.append(contentsOf: result.attributions)
            if let delta = result.delta { output.delta?.append(contentsOf: delta) }
            output.targets.append(contentsOf: result.targets)
        }
        return output
    }
}

/// Per-block results written by worker threads; each slot is written once.
private final class BlockResults: @unchecked Sendable {
    private var slots: [LayerAttributor.BlockResult?]
    private let lock = NSLock()
    init(count: Int) { slots = .init(repeating: nil, count: count) }
    func store(_ index: Int, _ result: LayerAttributor.BlockResult) { lock.withLock { slots[index] = result } }
    func value(_ index: Int) -> LayerAttributor.BlockResult { lock.withLock { slots[index]! } }
}

/// A minimal parallel loop: `threads` threads pull indices from a shared counter; the first error wins.
public enum Parallel {
    public static func forEach(count: Int, threads: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
        if count == 0 { return }
        let state = LoopState()
        let workers = min(threads, count)
        if workers == 1 {
            for index in 0..<count { try body(index) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let index = state.next(limit: count) {
                do { try body(index) } catch { state.fail(error); return }
            }
        }
        if let error = state.error { throw error }
    }

    private final class LoopState: @unchecked Sendable {
        private let lock = NSLock()
        private var index = 0
        private(set) var error: (any Error)?
        func next(limit: Int) -> Int? {
            lock.withLock {
                guard error == nil, index < limit else { return nil }
                defer { index += 1 }
                return index
            }
        }
        func fail(_ error: any Error) { lock.withLock { if self.error == nil { self.error = error } } }
    }
}
