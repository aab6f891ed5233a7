import BatchRuntime
import Foundation
import ZeroMQTransport

/// `modscope status`: reads RUN/status.json (plus the journal) or asks a live coordinator over ZeroMQ.
public enum StatusQuery {
    /// Seconds after which a "running" status.json is considered stale (the coordinator refreshes it every 1 s).
    static let staleAfter = 5.0

    public static func fromFolder(_ folder: RunFolder) throws -> (status: RunStatus?, text: String) {
        let manifest = try folder.loadManifest()
        let plan = ShardPlan(job: manifest.job)
        let journal = try Journal(url: folder.journalURL)
        let committed = journal.state.committed.count
        let poisoned = journal.state.poisoned.keys.sorted()
        var lines = ["run \(folder.url.path) (\(manifest.job.kind), \(manifest.job.rowCount)×\(manifest.job.columns), \(plan.shardCount) shards of \(plan.shardSize) rows)"]
        lines.append("journal: \(committed)/\(plan.shardCount) shards committed, \(poisoned.count) failed\(poisoned.isEmpty ? "" : " \(poisoned)"), epoch \(journal.state.epoch)\(journal.state.done ? ", done" : "")")
        var status: RunStatus?
        if let data = try? Data(contentsOf: folder.statusURL), let s = try? RunStatus.decode(data) {
            status = s
            let age = Date().timeIntervalSince(s.updatedAt)
            var line = "status (\(Int(age)) s ago): \(s.state) · \(s.summaryLine)"
            if s.state == "running" && age > staleAfter {
                line += " — the coordinator is not running; continue with `modscope resume \(folder.url.path)`"
            }
            lines.append(line)
            if s.state == "running" && age <= staleAfter { lines += s.workerLines }
        }
        return (status, lines.joined(separator: "\n"))
    }

    /// Asks a live coordinator; throws when it does not answer within `timeout` seconds.
    public static func fromEndpoint(_ endpoint: String, curve: (serverKey: String, keys: CurveKeyPair)?, timeout: Double = 3) throws -> RunStatus {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .dealer)
        defer { socket.close() }
        if let curve { try socket.makeCurveClient(serverKey: curve.serverKey, publicKey: curve.keys.publicKey, secretKey: curve.keys.secretKey) }
        try socket.connect(endpoint)
        let request = WireMessage(header: WireHeader(type: .statusRequest, runId: 0, epoch: 0, incarnation: 1), body: .statusRequest)
        try socket.send(WireCodec.encode(request))
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard ZMQPoll.readable([socket], timeoutMs: 100)[0], let frames = try socket.receive(dontWait: true) else { continue }
            if let m = try? WireCodec.decode(frames), case .status(let json) = m.body {
                return try RunStatus.decode(Data(json))
            }
        }
        throw RuntimeTransportError("no coordinator answered at \(endpoint) within \(Int(timeout)) s; check the address (and --keys for tcp://)")
    }
}
