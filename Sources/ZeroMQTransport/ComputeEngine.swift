import BatchRuntime
import Foundation

/// The worker's compute thread and its hand-off queues.
///
/// Threading: the I/O thread calls `configure`, `enqueue`, `cancel`, `reset`, `takeOutcomes`, `progress`; the
/// compute thread runs `loop`. All shared state is guarded by `condition`. The compute thread pokes the I/O
/// thread through `wake` (its own PAIR socket, used only by the compute thread) after each outcome, so results
/// go out without waiting for a poll timeout.
final class ComputeEngine: @unchecked Sendable {
    struct Task {
        var shard: Int, attempt: Int, firstRow: Int, rowCount: Int, samples: [Float], generation: Int
    }
    enum Outcome {
        case result(shard: Int, attempt: Int, values: [Float], generation: Int)
        case failed(shard: Int, attempt: Int, row: Int64, message: String, generation: Int)
    }

    private let condition = NSCondition()
    private var tasks: [Task] = []
    private var outcomes: [Outcome] = []
    private var cancelled: Set<[Int]> = []  // [shard, attempt]
    private var current: (shard: Int, attempt: Int, rowsDone: Int, generation: Int)?
    private var generation = 0
    private var setup: (job: JobSpec, computer: any ShardComputer, model: Data?)?
    private var stopping = false
    private let wake: ZMQSocket
    private let configureThread: @Sendable (Int) -> Void
    private let threads: Int

    init(wake: ZMQSocket, threads: Int, configureThread: @escaping @Sendable (Int) -> Void) {
        self.wake = wake
        self.threads = threads
        self.configureThread = configureThread
    }

    func start() {
        let t = Thread { [self] in
            configureThread(threads)
            loop()
        }
        t.name = "modscope-compute"
        t.stackSize = 8 << 20
        t.start()
    }

    func stop() {
        condition.lock()
        stopping = true
        generation += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Job, computer and model are ready: tasks may run.
    func configure(job: JobSpec, computer: any ShardComputer, model: Data?) {
        condition.lock()
        setup = (job, computer, model)
        condition.broadcast()
        condition.unlock()
    }

    /// A new connection: drop queued tasks and failures; the running shard finishes and its result is kept.
    /// Returns the new generation.
    func reset() -> Int {
        condition.lock()
        defer { condition.unlock() }
        generation += 1
        tasks = []
        // Finished results survive a reconnect (the I/O thread decides whether their run is still current).
        outcomes = outcomes.filter { if case .result = $0 { return true } else { return false } }
        cancelled = []
        setup = nil
        return generation
    }

    func enqueue(_ task: Task) {
        condition.lock()
        tasks.append(task)
        condition.broadcast()
        condition.unlock()
    }

    func cancel(shard: Int, attempt: Int) {
        condition.lock()
        cancelled.insert([shard, attempt])
        tasks.removeAll { $0.shard == shard && $0.attempt == attempt }
        condition.unlock()
    }

    func takeOutcomes() -> [Outcome] {
        condition.lock()
        defer { condition.unlock() }
        let out = outcomes
        outcomes = []
        return out
    }

    /// (shard being computed, rows done, tasks held).
    func progress() -> (shard: Int?, rowsDone: Int, held: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (current?.shard, current?.rowsDone ?? 0, tasks.count + (current == nil ? 0 : 1))
    }

    private func loop() {
        while true {
            condition.lock()
            while !stopping && (tasks.isEmpty || setup == nil) { condition.wait() }
            if stopping {
                condition.unlock()
                wake.close()
                return
            }
            let task = tasks.removeFirst()
            let (job, computer, model) = setup!
            current = (task.shard, task.attempt, 0, task.generation)
            condition.unlock()
            // Let the I/O thread announce the new shard at once (crash blame needs to know what was computing).
            _ = try? wake.send([[0]], dontWait: true)

            var outcome: Outcome?
            do {
                let values = try task.samples.withUnsafeBufferPointer { samples in
                    try computer.computeRows(
                        job: job, model: model, samples: samples, firstRow: task.firstRow, rowCount: task.rowCount
                    ) { done in try self.reportProgress(done, task: task) }
                }
                if values.count != task.rowCount * job.columns {
                    outcome = .failed(
                        shard: task.shard, attempt: task.attempt, row: -1,
                        message: "computer returned \(values.count) values, expected \(task.rowCount)×\(job.columns)",
                        generation: task.generation)
                } else {
                    outcome = .result(shard: task.shard, attempt: task.attempt, values: values, generation: task.generation)
                }
            } catch is CancellationError {
                outcome = nil
            } catch {
                outcome = .failed(shard: task.shard, attempt: task.attempt, row: -1, message: "\(error)", generation: task.generation)
            }
            condition.lock()
            current = nil
            // A result finished after a reconnect is still work: keep it (the I/O thread offers it again to the
            // same run, or drops it for another run). Failures of an earlier connection are forgotten.
            if let outcome, !cancelled.contains([task.shard, task.attempt]) {
                if case .result = outcome { outcomes.append(outcome) } else if task.generation == generation { outcomes.append(outcome) }
            }
            cancelled.remove([task.shard, task.attempt])
            condition.unlock()
            _ = try? wake.send([[1]], dontWait: true)
        }
    }

    private func reportProgress(_ done: Int, task: Task) throws {
        condition.lock()
        defer { condition.unlock() }
        current?.rowsDone = done
        // A reconnect (new generation) does not stop the running shard; CANCEL and stop() do.
        if stopping || cancelled.contains([task.shard, task.attempt]) {
            throw CancellationError()
        }
    }
}
