import CZeroMQ
import Foundation

/// A CURVE key pair as 40-character Z85 strings.
public struct CurveKeyPair: Sendable, Equatable {
    public var publicKey: String
    public var secretKey: String

    /// A fresh key pair from libsodium via `zmq_curve_keypair`.
    public static func generate() throws -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else {
            throw RuntimeTransportError("this libzmq has no CURVE support (zmq_curve_keypair failed); install libzmq with libsodium")
        }
        return CurveKeyPair(publicKey: String(cString: pub), secretKey: String(cString: sec))
    }

    /// The pair whose secret key is `secretKey` (derives the public key).
    public init(secretKey: String) throws {
        var pub = [CChar](repeating: 0, count: 41)
        guard Z85.decode(secretKey)?.count == 32, zmq_curve_public(&pub, secretKey) == 0 else {
            throw RuntimeTransportError("not a Z85 CURVE secret key (40 characters); regenerate with `modscope keys generate`")
        }
        self.publicKey = String(cString: pub)
        self.secretKey = secretKey
    }

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

/// Z85 (ZeroMQ RFC 32) encoding of binary keys.
public enum Z85 {
    /// Encodes bytes whose count is a multiple of 4.
    public static func encode(_ bytes: [UInt8]) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var out = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        guard zmq_z85_encode(&out, bytes, bytes.count) != nil else { return nil }
        return String(cString: out)
    }

    /// Decodes a string whose length is a multiple of 5; nil if it is not valid Z85.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 5 == 0, !chars.isEmpty else { return nil }
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
        guard chars.allSatisfy({ alphabet.contains($0) }) else { return nil }
        var out = [UInt8](repeating: 0, count: chars.count * 4 / 5)
        guard zmq_z85_decode(&out, text) != nil else { return nil }
        return out
    }
}

/// A key folder written by `modscope keys generate`:
/// `coordinator.key` (secret), `coordinator.pub`, `worker-N.key`, `worker-N.pub`, and `allowed_workers`
/// (one "public-key name" line per worker; `#` comments).
public struct KeyFolder: Sendable {
    public let url: URL
    public init(_ url: URL) { self.url = url }

    public static func readKey(_ url: URL) throws -> String {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw RuntimeTransportError("cannot read the key file \(url.path); create keys with `modscope keys generate --out DIR`")
        }
        let key = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .first { !$0.isEmpty && !$0.hasPrefix("#") } ?? ""
        guard key.count == 40, Z85.decode(key)?.count == 32 else {
            throw RuntimeTransportError("\(url.path) does not hold a 40-character Z85 key")
        }
        return key
    }

    /// Writes coordinator and `workers` worker key pairs plus the allow-list. Secret files are mode 0600.
    public func generate(workers: Int) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        func write(_ name: String, _ text: String, secret: Bool) throws {
            let file = url.appendingPathComponent(name)
            try Data(text.utf8).write(to: file)
            if secret { chmod(file.path, 0o600) }
        }
        let coordinator = try CurveKeyPair.generate()
        try write("coordinator.key", "# CURVE secret key of the coordinator — keep private\n\(coordinator.secretKey)\n", secret: true)
        try write("coordinator.pub", "\(coordinator.publicKey)\n", secret: false)
        var allow = "# CURVE public keys of the workers allowed to connect: KEY NAME\n"
        for i in 1...max(1, workers) {
            let pair = try CurveKeyPair.generate()
            try write("worker-\(i).key", "# CURVE secret key of worker-\(i) — keep private\n\(pair.secretKey)\n", secret: true)
            try write("worker-\(i).pub", "\(pair.publicKey)\n", secret: false)
            allow += "\(pair.publicKey) worker-\(i)\n"
        }
        try write("allowed_workers", allow, secret: false)
    }

    public func coordinatorKeys() throws -> CurveKeyPair {
        try CurveKeyPair(secretKey: Self.readKey(url.appendingPathComponent("coordinator.key")))
    }

    public func coordinatorPublicKey() throws -> String { try Self.readKey(url.appendingPathComponent("coordinator.pub")) }

    public func workerKeys(name: String) throws -> CurveKeyPair {
        try CurveKeyPair(secretKey: Self.readKey(url.appendingPathComponent("\(name).key")))
    }

    /// public key → worker name.
    public func allowList() throws -> [String: String] {
        let file = url.appendingPathComponent("allowed_workers")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            throw RuntimeTransportError("cannot read \(file.path); create it with `modscope keys generate --out \(url.path)`")
        }
        var out: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: " ", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard let key = parts.first, !key.hasPrefix("#"), !key.isEmpty else { continue }
            guard key.count == 40, Z85.decode(key)?.count == 32 else {
                throw RuntimeTransportError("\(file.path) has a line that is not a Z85 public key: \(line)")
            }
            out[key] = parts.count > 1 ? parts[1] : key
        }
        return out
    }
}
