import Foundation

/// The run folder's persisted description: enough to resume with nothing else.
public struct RunManifest: Codable, Sendable, Equatable {
    /// Bumped when the run folder layout changes incompatibly.
    public var format = 1
    public var runId: UInt64
    public var job: JobSpec
    public var createdAt: Date
    public var modscopeVersion: String
    /// Human-readable facts about the job (model and data paths and SHA-256, layer, method, …), written by the
    /// job kind; `job.parameters` holds the same information for machines.
    public var summary: [String: String]?
    /// Wall-clock timing of each pipeline stage ("attribution", "bicluster", "evaluate", "report").
    public var stages: [String: StageTiming]?

    public init(runId: UInt64, job: JobSpec, createdAt: Date = Date(), modscopeVersion: String) {
        self.runId = runId
        self.job = job
        self.createdAt = createdAt
        self.modscopeVersion = modscopeVersion
    }
}

/// When a stage started and finished (nil while it runs or after it failed), how long it took, and the
/// SHA-256 of the inputs it was computed from (`input_sha256`; absent in run folders of older versions, whose
/// analysis stages are then redone once on resume).
public struct StageTiming: Codable, Sendable, Equatable {
    public var started: Date
    public var finished: Date?
    public var seconds: Double?
    public var inputSHA256: String?
    public init(started: Date, finished: Date? = nil, seconds: Double? = nil, inputSHA256: String? = nil) {
        self.started = started
        self.finished = finished
        self.seconds = seconds
        self.inputSHA256 = inputSHA256
    }

    enum CodingKeys: String, CodingKey {
        case started, finished, seconds
        case inputSHA256 = "input_sha256"
    }
}

/// Paths and files of a run folder RUN/: run.json, matrix.npy, journal, status.json, and the ipc socket.
public struct RunFolder: Sendable {
    public let url: URL
    public init(_ url: URL) { self.url = url }
    public init(path: String) { self.url = URL(fileURLWithPath: path) }

    public var manifestURL: URL { url.appendingPathComponent("run.json") }
    public var matrixURL: URL { url.appendingPathComponent("matrix.npy") }
    public var journalURL: URL { url.appendingPathComponent("journal") }
    public var statusURL: URL { url.appendingPathComponent("status.json") }
    public var logURL: URL { url.appendingPathComponent("coordinator.log") }
    /// The writer lock (`RunFolderLock`): holds the pid of the process writing the folder.
    public var lockURL: URL { url.appendingPathComponent("lock") }
    /// The ipc endpoint of local runs (`run --workers N`); sun_path limits it to 107 bytes.
    public var ipcEndpoint: String { "ipc://" + url.standardizedFileURL.path + "/workers.ipc" }

    /// Creates the folder and run.json for a new run; refuses to overwrite an existing run.
    public func create(job: JobSpec, version: String) throws -> RunManifest {
        try job.validate()
        if FileManager.default.fileExists(atPath: manifestURL.path) {
            throw RuntimeUsageError("\(url.path) already holds a run; use `modscope resume \(url.path)` or choose another --out")
        }
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw RuntimeError("cannot create the run folder \(url.path): \(error.localizedDescription)")
        }
        var id: UInt64 = 0
        while id == 0 { id = UInt64.random(in: 1...UInt64.max) }
        let manifest = RunManifest(runId: id, job: job, modscopeVersion: version)
        try AtomicFile.write(try JSONEncoder.pretty.encode(manifest), to: manifestURL)
        return manifest
    }

    /// Takes the folder's writer lock (`RunFolderLock`) for `command` after checking it holds a run; throws
    /// `RuntimeUsageError` when it is not a run folder or another process writes it.
    public func lockForWriting(command: String) throws {
        guard FileManager.default.fileExists(atPath: manifestURL.path) else {
            throw RuntimeUsageError("\(url.path) is not a run folder (no run.json); pass the --out folder of `modscope run` or `coordinator`")
        }
        try RunFolderLock.acquire(self, command: command)
    }

    /// Rewrites run.json atomically after `change`.
    public func updateManifest(_ change: (inout RunManifest) -> Void) throws {
        var manifest = try loadManifest()
        change(&manifest)
        try AtomicFile.write(try JSONEncoder.pretty.encode(manifest), to: manifestURL)
    }

    /// Reads run.json.
    public func loadManifest() throws -> RunManifest {
        guard let data = try? Data(contentsOf: manifestURL) else {
            throw RuntimeUsageError("\(url.path) is not a run folder (no run.json); pass the --out folder of a run")
        }
        let decoder = JSONDecoder.runFolder
        do { return try decoder.decode(RunManifest.self, from: data) } catch {
            throw RuntimeError("\(manifestURL.path) is damaged (\(error)); the run cannot be resumed")
        }
    }
}

extension JSONEncoder {
    static var pretty: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(LogClock.timestamp(date))
        }
        return e
    }
}

extension JSONDecoder {
    /// Reads the run folder's dates: ISO 8601 UTC with milliseconds (current) or whole seconds (older run folders).
    static var runFolder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = LogClock.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date: \(text)")
            }
            return date
        }
        return d
    }
}

/// Atomic file replacement: write a temporary file next to the target, fsync, rename.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RuntimeError("cannot write \(tmp.path): \(String(cString: strerror(errno)))") }
        let ok = data.withUnsafeBytes { raw -> Bool in
            raw.count == 0 || Glibc.write(fd, raw.baseAddress!, raw.count) == raw.count
        }
        fsync(fd)
        close(fd)
        guard ok, rename(tmp.path, url.path) == 0 else {
            throw RuntimeError("cannot replace \(url.path): \(String(cString: strerror(errno)))")
        }
    }
}
