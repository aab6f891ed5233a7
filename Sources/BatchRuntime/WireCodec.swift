/// Encodes messages to frames and decodes untrusted frames.
///
/// The decoder never trusts its input: it checks the frame count, header size, magic, version, type, the CRC
/// over header and payload, the exact fields size per type, and every body's size and internal consistency,
/// and throws `RuntimeError` (never traps) on the first violation. Memory is bounded by the frames it is given
/// (the transport bounds those with ZMQ_MAXMSGSIZE).
public enum WireCodec {
    /// Encodes a message as [header, fields, body].
    /// - Parameter bodyCRC: the body's CRC-32C when the caller already has it (skips one pass over the body).
    public static func encode(_ message: WireMessage, bodyCRC: UInt32? = nil) -> [[UInt8]] {
        var fields = LittleEndianWriter(capacity: 32)
        var body: [UInt8] = []
        switch message.body {
        case .hello(let credit, let threads, let pid, let host):
            fields.u32(credit); fields.u32(threads); fields.u32(pid); fields.u32(0)
            body = Array(host.utf8.prefix(WireProtocol.maxTextBytes))
        case .welcome(let hb, let lease, let chunk, let inflight, let job):
            fields.u32(hb); fields.u32(lease); fields.u32(chunk); fields.u32(inflight)
            body = job
        case .modelRequest(let offset, let hash):
            fields.u64(offset)
            body = Array(hash.utf8)
        case .modelData(let offset, let total, let bytes):
            fields.u64(offset); fields.u64(total)
            body = bytes
        case .assign(let firstRow, let rowCount, let elements, let samples):
            fields.u64(firstRow); fields.u32(rowCount); fields.u32(elements)
            body = samples
        case .heartbeat(let rowsDone, let held, let rss):
            fields.u32(rowsDone); fields.u32(held); fields.u64(rss)
        case .result(let index, let count, let offset, let total, let crc, let bytes):
            fields.u32(index); fields.u32(count); fields.u64(offset); fields.u64(total); fields.u32(crc); fields.u32(0)
            body = bytes
        case .ack(let index, let status):
            fields.u32(index); fields.u32(status.rawValue)
        case .fail(let cls, let row, let text):
            fields.u32(cls.rawValue); fields.u32(0); fields.i64(row)
            body = Array(text.utf8.prefix(WireProtocol.maxTextBytes))
        case .cancel(let reason):
            fields.u32(reason); fields.u32(0)
        case .disconnect(let reason, let text):
            fields.u32(reason.rawValue); fields.u32(0)
            body = Array(text.utf8.prefix(WireProtocol.maxTextBytes))
        case .statusRequest:
            break
        case .status(let json):
            body = json
        }
        let h = message.header
        var header = LittleEndianWriter(capacity: WireProtocol.headerSize)
        header.raw(WireProtocol.magic)
        header.u8(WireProtocol.version)
        header.u8(h.type.rawValue)
        header.u16(h.flags)
        header.u64(h.runId)
        header.u32(h.epoch)
        header.u32(h.shard)
        header.u64(h.incarnation)
        header.u32(h.attempt)
        header.u32(h.seq)
        header.u32(UInt32(fields.bytes.count + body.count))
        let prefix = CRC32C.checksum(fields.bytes, continuing: CRC32C.checksum(header.bytes))
        header.u32(CRC32C.combine(prefix, bodyCRC ?? CRC32C.checksum(body), lengthB: body.count))
        return [header.bytes, fields.bytes, body]
    }

    /// Decodes frames (without the routing id). Throws a `RuntimeError` naming the first problem.
    public static func decode(_ frames: [[UInt8]]) throws -> WireMessage {
        guard frames.count == WireProtocol.frameCount else {
            throw RuntimeError("bad frame count \(frames.count), expected \(WireProtocol.frameCount)")
        }
        let headerBytes = frames[0], fieldsBytes = frames[1], body = frames[2]
        guard headerBytes.count == WireProtocol.headerSize else {
            throw RuntimeError("bad header size \(headerBytes.count), expected \(WireProtocol.headerSize)")
        }
        guard body.count <= WireProtocol.maxBodyBytes else { throw RuntimeError("body of \(body.count) bytes is too large") }
        var r = LittleEndianReader(headerBytes)
        guard Array(try r.take(4)) == WireProtocol.magic else { throw RuntimeError("bad magic: not a BMX1 message") }
        let version = try r.u8()
        guard version == WireProtocol.version else {
            throw RuntimeError("unsupported protocol version \(version); this build speaks \(WireProtocol.version)")
        }
        let rawType = try r.u8()
        guard let type = MessageType(rawValue: rawType) else { throw RuntimeError("unknown message type \(rawType)") }
        let flags = try r.u16()
        let runId = try r.u64()
        let epoch = try r.u32()
        let shard = try r.u32()
        let incarnation = try r.u64()
        let attempt = try r.u32()
        let seq = try r.u32()
        let payloadLength = try r.u32()
        let crc = try r.u32()
        guard Int(payloadLength) == fieldsBytes.count + body.count else {
            throw RuntimeError("payload length \(payloadLength) does not match the frames (\(fieldsBytes.count + body.count))")
        }
        let prefix = CRC32C.checksum(fieldsBytes, continuing: CRC32C.checksum(Array(headerBytes[0..<44])))
        let bodyCRC = CRC32C.checksum(body)
        guard CRC32C.combine(prefix, bodyCRC, lengthB: body.count) == crc else {
            throw RuntimeError("checksum mismatch (corrupted message)")
        }
        guard fieldsBytes.count == type.fieldsSize else {
            throw RuntimeError("\(type) fields are \(fieldsBytes.count) bytes, expected \(type.fieldsSize)")
        }
        var f = LittleEndianReader(fieldsBytes)
        let header = WireHeader(
            type: type, runId: runId, epoch: epoch, shard: shard, incarnation: incarnation, attempt: attempt, seq: seq)
        var h = header
        h.flags = flags
        var message = WireMessage(header: h, body: try decodeBody(type, &f, body))
        message.bodyCRC = bodyCRC
        return message
    }

    private static func text(_ body: [UInt8], limit: Int = WireProtocol.maxTextBytes) throws -> String {
        guard body.count <= limit else { throw RuntimeError("text body of \(body.count) bytes exceeds \(limit)") }
        return String(decoding: body, as: UTF8.self)
    }

    private static func decodeBody(_ type: MessageType, _ f: inout LittleEndianReader, _ body: [UInt8]) throws -> WireBody {
        switch type {
        case .hello:
            let credit = try f.u32(), threads = try f.u32(), pid = try f.u32()
            _ = try f.u32()
            guard credit >= 1, credit <= 64 else { throw RuntimeError("HELLO credit \(credit) outside 1...64") }
            return .hello(credit: credit, threads: threads, pid: pid, host: try text(body))
        case .welcome:
            let hb = try f.u32(), lease = try f.u32(), chunk = try f.u32(), inflight = try f.u32()
            guard body.count <= WireProtocol.maxJSONBytes else { throw RuntimeError("WELCOME job too large") }
            guard chunk >= 4, chunk % 4 == 0, Int(chunk) <= WireProtocol.maxBodyBytes, inflight >= 1 else {
                throw RuntimeError("WELCOME chunk size \(chunk) / in-flight \(inflight) invalid")
            }
            return .welcome(heartbeatMs: hb, leaseMs: lease, chunkBytes: chunk, maxChunksInFlight: inflight, job: body)
        case .modelRequest:
            let offset = try f.u64()
            guard body.count == 64, body.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                throw RuntimeError("MODEL_REQUEST hash must be 64 lowercase hex characters")
            }
            return .modelRequest(offset: offset, hash: String(decoding: body, as: UTF8.self))
        case .modelData:
            let offset = try f.u64(), total = try f.u64()
            guard offset <= total, UInt64(body.count) <= total - offset else {
                throw RuntimeError("MODEL_DATA range \(offset)+\(body.count) exceeds total \(total)")
            }
            return .modelData(offset: offset, total: total, bytes: body)
        case .assign:
            let firstRow = try f.u64(), rowCount = try f.u32(), elements = try f.u32()
            // rowCount × elements × 4 can reach 2^66: computed with overflow checks, a peer's frame must never trap.
            let (floats, overflow) = UInt64(rowCount).multipliedReportingOverflow(by: UInt64(elements))
            guard rowCount >= 1, firstRow < UInt64(Int32.max), !overflow, floats <= UInt64(body.count) / 4,
                floats * 4 == UInt64(body.count)
            else { throw RuntimeError("ASSIGN samples (\(body.count) bytes) do not match \(rowCount)×\(elements) floats") }
            return .assign(firstRow: firstRow, rowCount: rowCount, elementsPerRow: elements, samples: body)
        case .heartbeat:
            let rows = try f.u32(), held = try f.u32(), rss = try f.u64()
            guard body.isEmpty else { throw RuntimeError("HEARTBEAT has a body") }
            return .heartbeat(rowsDone: rows, held: held, rssBytes: rss)
        case .result:
            let index = try f.u32(), count = try f.u32(), offset = try f.u64(), total = try f.u64(), crc = try f.u32()
            _ = try f.u32()
            guard count >= 1, index < count, body.count % 4 == 0, offset % 4 == 0, offset <= total,
                UInt64(body.count) <= total - offset
            else { throw RuntimeError("RESULT chunk \(index)/\(count) at \(offset)+\(body.count) of \(total) is inconsistent") }
            return .result(chunkIndex: index, chunkCount: count, byteOffset: offset, totalBytes: total, totalCRC: crc, bytes: body)
        case .ack:
            let index = try f.u32(), raw = try f.u32()
            guard let status = AckStatus(rawValue: raw) else { throw RuntimeError("unknown ACK status \(raw)") }
            return .ack(chunkIndex: index, status: status)
        case .fail:
            let raw = try f.u32()
            _ = try f.u32()
            let row = try f.i64()
            guard let cls = FailureClass(rawValue: raw) else { throw RuntimeError("unknown FAIL class \(raw)") }
            return .fail(failureClass: cls, sampleRow: row, message: try text(body))
        case .cancel:
            let reason = try f.u32()
            return .cancel(reason: reason)
        case .disconnect:
            let raw = try f.u32()
            guard let reason = DisconnectReason(rawValue: raw) else { throw RuntimeError("unknown DISCONNECT reason \(raw)") }
            return .disconnect(reason: reason, message: try text(body))
        case .statusRequest:
            guard body.isEmpty else { throw RuntimeError("STATUS_REQUEST has a body") }
            return .statusRequest
        case .status:
            guard body.count <= WireProtocol.maxJSONBytes else { throw RuntimeError("STATUS body too large") }
            return .status(json: body)
        }
    }
}
