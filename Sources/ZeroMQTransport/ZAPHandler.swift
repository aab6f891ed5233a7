import CZeroMQ
import Foundation

/// The ZAP authenticator (RFC 27): a REP socket on `inproc://zeromq.zap.01` in the server's context, answering
/// 200 for allow-listed CURVE public keys and 400 for anything else. Runs on its own thread.
///
/// Bind it before the server socket binds; the server also sets ZAP_ENFORCE_DOMAIN so that, should this
/// handler be missing, every client is rejected (fails closed — measured on libzmq 4.3.4).
public final class ZAPHandler: @unchecked Sendable {
    private let socket: ZMQSocket
    private let allowed: [String: String]  // Z85 public key → name
    private let lock = NSLock()
    private var stopping = false
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    /// Called (on the ZAP thread) for every decision: (public key, name or nil when rejected).
    private let onDecision: @Sendable (String, String?) -> Void

    public init(context: ZMQContext, allowed: [String: String], onDecision: @escaping @Sendable (String, String?) -> Void = { _, _ in }) throws {
        socket = try ZMQSocket(context: context, type: .rep)
        try socket.bind("inproc://zeromq.zap.01")
        self.allowed = allowed
        self.onDecision = onDecision
        let t = Thread { [self] in self.loop() }
        t.name = "modscope-zap"
        thread = t
        t.start()
    }

    private var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    private func loop() {
        while !isStopping {
            guard ZMQPoll.readable([socket], timeoutMs: 100)[0] else { continue }
            guard let frames = try? socket.receive(dontWait: true) else { continue }
            guard frames.count >= 6 else { continue }
            let requestId = frames[1]
            let mechanism = String(decoding: frames[5], as: UTF8.self)
            var status = "400", text = "unknown key", user = ""
            if mechanism == "CURVE", frames.count >= 7, frames[6].count == 32, let key = Z85.encode(frames[6]) {
                if let name = allowed[key] {
                    status = "200"; text = "OK"; user = name
                    onDecision(key, name)
                } else {
                    onDecision(key, nil)
                }
            } else {
                text = "CURVE required"
            }
            _ = try? socket.send([Array("1.0".utf8), requestId, Array(status.utf8), Array(text.utf8), Array(user.utf8), []])
        }
        socket.close()
        done.signal()
    }

    /// Stops the thread and closes the socket (before the context terminates).
    public func stop() {
        lock.lock()
        let first = !stopping
        stopping = true
        lock.unlock()
        if first { done.wait() }
    }
}
