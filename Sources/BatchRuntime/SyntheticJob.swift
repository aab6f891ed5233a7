import Foundation

/// The built-in "synthetic" job: a deterministic splitmix64 kernel with no ML, for tests and benchmarks.
///
/// Samples: `sample[r][e] = unitFloat(splitmix64(seed ^ r·E + e))`. Output:
/// `out[r][c] = unitFloat(splitmix64(h(r) ^ c))` where `h(r)` mixes the row index with the bit patterns of the
/// row's samples, so the output depends only on the row index and the sample values. `rowMilliseconds` sleeps
/// per row (simulated compute that does not burn the 2 shared cores). Fault injection: `Failpoint`.
public enum SyntheticJob {
    public static let kindName = "synthetic"

    /// The synthetic kernel's parameters (JobSpec.parameters as JSON).
    public struct Parameters: Codable, Sendable, Equatable {
        public var seed: UInt64
        /// Sleep per computed row, in milliseconds (0 = as fast as possible).
        public var rowMilliseconds: Double
        /// Return zeros without computing (pure runtime overhead, for the throughput benchmark).
        public var noop: Bool
        public init(seed: UInt64 = 42, rowMilliseconds: Double = 0, noop: Bool = false) {
            self.seed = seed
            self.rowMilliseconds = rowMilliseconds
            self.noop = noop
        }
    }

    /// A job of `rows × columns` with 8 sample values per row.
    public static func job(rows: Int, columns: Int, shardSize: Int, parameters: Parameters = Parameters()) throws -> JobSpec {
        JobSpec(
            kind: kindName, parameters: try JSONEncoder().encode(parameters), modelHash: nil, rowCount: rows,
            sampleElementsPerRow: 8, columns: columns, shardSize: shardSize)
    }

    static let kind = JobKind(
        name: kindName,
        makeComputer: { job in Computer(parameters: try decode(job), failpoint: Failpoint.fromEnvironment()) },
        makeSampleSource: { job in Source(seed: try decode(job).seed, elements: job.sampleElementsPerRow) })

    static func decode(_ job: JobSpec) throws -> Parameters {
        do { return try JSONDecoder().decode(Parameters.self, from: job.parameters) } catch {
            throw RuntimeError("the synthetic job's parameters are not valid JSON (\(error)); recreate the run")
        }
    }

    @inline(__always) static func splitmix64(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A float in [-1, 1) from the top 24 bits.
    @inline(__always) static func unitFloat(_ x: UInt64) -> Float { Float(x >> 40) / Float(1 << 23) - 1 }

    struct Source: SampleSource {
        var seed: UInt64
        var elements: Int
        func samples(rows: Range<Int>) throws -> [Float] {
            var out = [Float]()
            out.reserveCapacity(rows.count * elements)
            for r in rows {
                for e in 0..<elements { out.append(unitFloat(splitmix64(seed ^ UInt64(r * elements + e)))) }
            }
            return out
        }
    }

    /// The reference computation (also used by tests to build the expected matrix without any process).
    public static func expectedRows(job: JobSpec, rows: Range<Int>) throws -> [Float] {
        let p = try decode(job)
        let samples = try Source(seed: p.seed, elements: job.sampleElementsPerRow).samples(rows: rows)
        let computer = Computer(parameters: Parameters(seed: p.seed, rowMilliseconds: 0, noop: p.noop), failpoint: nil)
        return try samples.withUnsafeBufferPointer {
            try computer.computeRows(job: job, model: nil, samples: $0, firstRow: rows.lowerBound, rowCount: rows.count) { _ in }
        }
    }

    struct Computer: ShardComputer {
        var parameters: Parameters
        var failpoint: Failpoint?

        func computeRows(
            job: JobSpec, model: Data?, samples: UnsafeBufferPointer<Float>, firstRow: Int, rowCount: Int,
            progress: (Int) throws -> Void
        ) throws -> [Float] {
            let columns = job.columns, elements = job.sampleElementsPerRow
            var out = [Float](repeating: 0, count: rowCount * columns)
            for local in 0..<rowCount {
                let row = firstRow + local
                try failpoint?.beforeRow(row, progress: { try progress(local) })
                if parameters.rowMilliseconds > 0 { usleep(UInt32(parameters.rowMilliseconds * 1000)) }
                if !parameters.noop {
                    var h = splitmix64(UInt64(row))
                    for e in 0..<elements { h = splitmix64(h ^ UInt64(samples[local * elements + e].bitPattern)) }
                    out.withUnsafeMutableBufferPointer { buffer in
                        for c in 0..<columns { buffer[local * columns + c] = unitFloat(splitmix64(h ^ UInt64(c))) }
                    }
                }
                try progress(local + 1)
            }
            return out
        }
    }
}
