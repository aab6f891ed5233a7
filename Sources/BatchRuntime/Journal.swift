import Foundation

/// One record of RUN/journal.
public enum JournalRecord: Sendable, Equatable {
    /// The run was created: its id and shard count.
    case runStart(runId: UInt64, shards: Int)
    /// A coordinator (re)started; results must carry this epoch from now on.
    case epoch(UInt32)
    /// A shard's rows are in matrix.npy (fdatasync'd before this record was written).
    case commit(shard: Int, attempt: Int, crc: UInt32, worker: String)
    /// A shard was isolated (it killed workers or exhausted its attempts).
    case poison(shard: Int, reason: String)
    /// A shard must be recomputed (`resubmit`): clears commit and poison.
    case reset(shard: Int)
    /// Every shard is committed or poisoned.
    case runDone

    var typeByte: UInt8 {
        switch self {
        case .runStart: 1
        case .epoch: 2
        case .commit: 3
        case .poison: 4
        case .reset: 5
        case .runDone: 6
        }
    }

    func encodeBody() -> [UInt8] {
        var w = LittleEndianWriter()
        w.u8(typeByte)
        switch self {
        case .runStart(let id, let shards): w.u64(id); w.u32(UInt32(shards))
        case .epoch(let e): w.u32(e)
        case .commit(let s, let a, let crc, let worker):
            w.u32(UInt32(s)); w.u32(UInt32(a)); w.u32(crc); w.raw(Array(worker.utf8.prefix(256)))
        case .poison(let s, let reason): w.u32(UInt32(s)); w.raw(Array(reason.utf8.prefix(1024)))
        case .reset(let s): w.u32(UInt32(s))
        case .runDone: break
        }
        return w.bytes
    }

    static func decodeBody(_ body: [UInt8]) throws -> JournalRecord {
        var r = LittleEndianReader(body)
        let type = try r.u8()
        func rest() throws -> String { String(decoding: try r.take(r.remaining), as: UTF8.self) }
        switch type {
        case 1: return .runStart(runId: try r.u64(), shards: Int(try r.u32()))
        case 2: return .epoch(try r.u32())
        case 3:
            let s = Int(try r.u32()), a = Int(try r.u32()), crc = try r.u32()
            return .commit(shard: s, attempt: a, crc: crc, worker: try rest())
        case 4:
            let s = Int(try r.u32())
            return .poison(shard: s, reason: try rest())
        case 5: return .reset(shard: Int(try r.u32()))
        case 6: return .runDone
        default: throw RuntimeError("unknown journal record type \(type)")
        }
    }
}

/// What the journal says about the run, folded over its records in order.
public struct JournalState: Sendable, Equatable {
    public var runId: UInt64?
    public var shardCount: Int?
    public var epoch: UInt32 = 0
    /// shard → crc32c of its committed result.
    public var committed: [Int: UInt32] = [:]
    public var poisoned: [Int: String] = [:]
    public var commitCount = 0
    public var done = false

    public init() {}

    public mutating func apply(_ record: JournalRecord) {
        switch record {
        case .runStart(let id, let shards): runId = id; shardCount = shards
        case .epoch(let e): epoch = max(epoch, e)
        case .commit(let s, _, let crc, _):
            committed[s] = crc
            poisoned[s] = nil
            commitCount += 1
        case .poison(let s, let reason): if committed[s] == nil { poisoned[s] = reason }
        case .reset(let s):
            committed[s] = nil
            poisoned[s] = nil
            done = false
        case .runDone: done = true
        }
    }
}

/// The append-only commit journal: records framed as `[u32 length][u32 crc32c(body)][body]`, little-endian.
///
/// Opening replays every complete record and truncates a torn or corrupted tail (a crash mid-append), so the
/// file always ends on a record boundary before anything new is appended. `append` writes and fsyncs.
/// Not thread-safe: owned by the coordinator's driver thread.
public final class Journal {
    public let url: URL
    private let fd: Int32
    public private(set) var records: [JournalRecord] = []
    public private(set) var state = JournalState()
    /// Bytes dropped from a torn tail when the journal was opened.
    public private(set) var droppedTailBytes = 0

    /// Largest record body accepted on replay (a corrupted length field must not allocate gigabytes).
    static let maxRecordBytes = 64 * 1024

    public init(url: URL) throws {
        self.url = url
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RuntimeError("cannot open the journal \(url.path): \(String(cString: strerror(errno))); check the run folder's permissions")
        }
        let data = (try? Data(contentsOf: url)) ?? Data()
        let bytes = [UInt8](data)
        var offset = 0
        while bytes.count - offset >= 8 {
            var r = LittleEndianReader(Array(bytes[offset..<offset + 8]))
            let length = Int(try r.u32()), crc = try r.u32()
            guard length >= 1, length <= Self.maxRecordBytes, bytes.count - offset - 8 >= length else { break }
            let body = Array(bytes[offset + 8..<offset + 8 + length])
            guard CRC32C.checksum(body) == crc, let record = try? JournalRecord.decodeBody(body) else { break }
            records.append(record)
            state.apply(record)
            offset += 8 + length
        }
        droppedTailBytes = bytes.count - offset
        if droppedTailBytes > 0 {
            guard ftruncate(fd, off_t(offset)) == 0 else {
                throw RuntimeError("cannot truncate the torn journal tail of \(url.path): \(String(cString: strerror(errno)))")
            }
        }
        lseek(fd, 0, SEEK_END)
    }

    deinit { close(fd) }

    /// Appends the records in one write, then fsyncs. Throws when the disk refuses (the caller stops the run).
    public func append(_ newRecords: [JournalRecord]) throws {
        guard !newRecords.isEmpty else { return }
        var w = LittleEndianWriter(capacity: newRecords.count * 32)
        for record in newRecords {
            let body = record.encodeBody()
            w.u32(UInt32(body.count))
            w.u32(CRC32C.checksum(body))
            w.raw(body)
        }
        try w.bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RuntimeError("cannot append to the journal \(url.path): \(String(cString: strerror(errno))); free disk space, then run `modscope resume`")
                }
                done += n
            }
        }
        guard fsync(fd) == 0 else {
            throw RuntimeError("cannot fsync the journal \(url.path): \(String(cString: strerror(errno)))")
        }
        for record in newRecords {
            records.append(record)
            state.apply(record)
        }
    }
}
