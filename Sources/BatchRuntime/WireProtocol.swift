/// Constants of the BMX1 wire protocol (docs/protocol.md is the normative description).
public enum WireProtocol {
    /// The first four bytes of every header frame.
    public static let magic: [UInt8] = Array("BMX1".utf8)
    /// Bumped on any incompatible change; a peer speaking another version gets DISCONNECT(protocolError).
    public static let version: UInt8 = 1
    /// Size of the header frame in bytes.
    public static let headerSize = 48
    /// Every message has exactly this many frames after the routing id: header, fields, body.
    public static let frameCount = 3
    /// `shard` value meaning "no shard".
    public static let noShard: UInt32 = .max
    /// Largest body the decoder accepts: one result chunk (4 MiB) plus slack. The transport sets ZMQ_MAXMSGSIZE to
    /// this too, so an oversized frame is refused by libzmq before it is allocated.
    public static let maxBodyBytes = 4 * 1024 * 1024 + 4096
    /// Largest text body (hostnames, error messages, DISCONNECT reasons).
    public static let maxTextBytes = 4096
    /// Largest JSON body (job description in WELCOME, STATUS reply).
    public static let maxJSONBytes = 1024 * 1024
}

/// The message types; the raw value is the `type` byte of the header.
public enum MessageType: UInt8, Sendable, CaseIterable {
    case hello = 1, welcome, modelRequest, modelData, assign, heartbeat, result, ack, fail, cancel, disconnect
    case statusRequest, status

    /// Exact size of the fields frame for this type.
    public var fieldsSize: Int {
        switch self {
        case .hello, .welcome, .modelData, .assign, .heartbeat, .fail: 16
        case .modelRequest, .ack, .cancel, .disconnect: 8
        case .result: 32
        case .statusRequest, .status: 0
        }
    }
}

/// The fixed 48-byte little-endian header frame.
public struct WireHeader: Sendable, Equatable {
    public var type: MessageType
    public var flags: UInt16 = 0
    public var runId: UInt64
    public var epoch: UInt32
    public var shard: UInt32 = WireProtocol.noShard
    public var incarnation: UInt64
    public var attempt: UInt32 = 0
    public var seq: UInt32 = 0

    public init(
        type: MessageType, runId: UInt64, epoch: UInt32, shard: UInt32 = WireProtocol.noShard, incarnation: UInt64,
        attempt: UInt32 = 0, seq: UInt32 = 0
    ) {
        self.type = type
        self.runId = runId
        self.epoch = epoch
        self.shard = shard
        self.incarnation = incarnation
        self.attempt = attempt
        self.seq = seq
    }

    /// The shard as an index, or nil for `noShard`.
    public var shardIndex: Int? { shard == WireProtocol.noShard ? nil : Int(shard) }
}

/// Why a DISCONNECT was sent.
public enum DisconnectReason: UInt32, Sendable {
    /// The run is complete: the worker exits 0.
    case done = 0
    /// The worker is leaving (BYE).
    case goodbye = 1
    /// The coordinator does not know this peer (lease expired, coordinator restarted): reconnect and HELLO again.
    case reregister = 2
    /// The peer sent something malformed or out of order.
    case protocolError = 3
    /// The coordinator is stopping before the run is complete: reconnect later.
    case shutdown = 4
}

/// ACK status codes.
public enum AckStatus: UInt32, Sendable {
    /// The chunk was verified and written; send the next one.
    case chunkReceived = 0
    /// The whole result was committed to the journal.
    case committed = 1
    /// The shard was already committed (or cancelled); the result was dropped.
    case duplicate = 2
    /// The result failed verification (checksum, shape, finiteness); it was dropped and the shard re-queued.
    case rejected = 3
}

/// FAIL classes.
public enum FailureClass: UInt32, Sendable {
    /// The computation threw (bad sample, numerical error): the shard is retried on another worker.
    case computation = 0
    /// The worker could not get or load the model/job.
    case setup = 1
    /// The worker ran out of memory.
    case outOfMemory = 2
}

/// The typed contents of a message (fields frame + body frame).
public enum WireBody: Sendable, Equatable {
    /// W→C. `credit`: how many assignments the worker holds at once (computing + queued).
    case hello(credit: UInt32, threads: UInt32, pid: UInt32, host: String)
    /// C→W. Timing and flow-control parameters plus the job description (JSON of `JobSpec`).
    case welcome(heartbeatMs: UInt32, leaseMs: UInt32, chunkBytes: UInt32, maxChunksInFlight: UInt32, job: [UInt8])
    /// W→C. Ask for model bytes starting at `offset`; `hash` is the sha256 hex from the job.
    case modelRequest(offset: UInt64, hash: String)
    /// C→W. Model bytes `offset..<offset+bytes.count` of `total`.
    case modelData(offset: UInt64, total: UInt64, bytes: [UInt8])
    /// C→W. Compute rows `firstRow..<firstRow+rowCount`; `samples` is rowCount×elementsPerRow float32 LE.
    case assign(firstRow: UInt64, rowCount: UInt32, elementsPerRow: UInt32, samples: [UInt8])
    /// Both ways, every second. W→C: rows done in the shard named by the header (or noShard), assignments held.
    case heartbeat(rowsDone: UInt32, held: UInt32, rssBytes: UInt64)
    /// W→C. One chunk of a shard result.
    case result(chunkIndex: UInt32, chunkCount: UInt32, byteOffset: UInt64, totalBytes: UInt64, totalCRC: UInt32, bytes: [UInt8])
    /// C→W. `chunkIndex` = UInt32.max for the whole result.
    case ack(chunkIndex: UInt32, status: AckStatus)
    /// W→C. The shard could not be computed; `sampleRow` is the failing row or -1.
    case fail(failureClass: FailureClass, sampleRow: Int64, message: String)
    /// C→W. Stop computing the shard named by the header and drop its result.
    case cancel(reason: UInt32)
    /// Both ways.
    case disconnect(reason: DisconnectReason, message: String)
    /// Any peer → C: ask for the progress JSON (used by `modscope status ENDPOINT`).
    case statusRequest
    /// C → asker: the progress JSON (same schema as RUN/status.json).
    case status(json: [UInt8])
}

/// A decoded message.
public struct WireMessage: Sendable, Equatable {
    public var header: WireHeader
    public var body: WireBody
    /// CRC-32C of the body frame alone, set by the decoder (which computes it anyway), so a receiver can check
    /// a result's whole-result CRC without a second pass. Not part of equality.
    public var bodyCRC: UInt32?

    public init(header: WireHeader, body: WireBody) {
        self.header = header
        self.body = body
    }

    public static func == (lhs: WireMessage, rhs: WireMessage) -> Bool { lhs.header == rhs.header && lhs.body == rhs.body }
}
