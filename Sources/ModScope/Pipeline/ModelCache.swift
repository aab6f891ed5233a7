import BatchRuntime
import Foundation
import ONNX

/// Worker-side cache of the last parsed model, keyed by the job's model hash: a worker parses a model once and
/// reuses it for every shard of the run. Thread-safe.
final class ModelCache<Prepared>: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: (hash: String, value: Prepared)?

    /// The prepared model for `job`, building it from `bytes` with `prepare` on first use.
    func value(for job: JobSpec, bytes: Data?, what: String, prepare: (ONNXModel) throws -> Prepared) throws -> Prepared {
        guard let bytes else { throw InputError("the \(what) job arrived without its model") }
        return try lock.withLock {
            let hash = job.modelHash ?? SHA256.hex(bytes)
            if let cached, cached.hash == hash { return cached.value }
            let prepared = try prepare(ONNXModel.load(data: bytes))
            cached = (hash, prepared)
            return prepared
        }
    }
}
