import Foundation

/// Fault injection for the synthetic kernel, read from `MODSCOPE_FAILPOINT` on the worker (tests and chaos only).
///
/// Comma-separated entries:
/// - `crash-on-row:N` — abort() the worker process when it reaches row N (a poison sample).
/// - `fail-on-row:N` — throw (the worker sends FAIL) at row N.
/// - `slow-ms:M` — sleep M extra milliseconds per row (a straggler).
/// - `hang` / `hang-on-row:N` — block the compute thread forever (heartbeats keep flowing; progress stalls).
public struct Failpoint: Sendable, Equatable {
    public var crashOnRow: Int?
    public var failOnRow: Int?
    public var slowMilliseconds: Int = 0
    public var hangOnRow: Int?
    public var hangAlways = false

    public static let environmentVariable = "MODSCOPE_FAILPOINT"

    public init(spec: String) throws {
        for entry in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            let value = parts.count == 2 ? Int(parts[1]) : nil
            switch (parts[0], value) {
            case ("crash-on-row", let v?): crashOnRow = v
            case ("fail-on-row", let v?): failOnRow = v
            case ("slow-ms", let v?): slowMilliseconds = v
            case ("hang-on-row", let v?): hangOnRow = v
            case ("hang", nil): hangAlways = true
            default:
                throw RuntimeError(
                    "bad \(Self.environmentVariable) entry \"\(entry)\"; use crash-on-row:N, fail-on-row:N, slow-ms:M, hang or hang-on-row:N")
            }
        }
    }

    /// The failpoint from the environment, or nil when unset or empty. A malformed value aborts loudly, since a
    /// silently ignored fault would make a fault test pass for the wrong reason.
    public static func fromEnvironment() -> Failpoint? {
        guard let spec = ProcessInfo.processInfo.environment[environmentVariable], !spec.isEmpty else { return nil }
        do { return try Failpoint(spec: spec) } catch {
            StandardError.write("modscope: \(error)\n")
            exit(2)
        }
    }

    /// Called before computing `row`; `progress` lets a hang stay cancellable.
    func beforeRow(_ row: Int, progress: () throws -> Void) throws {
        if slowMilliseconds > 0 { usleep(UInt32(slowMilliseconds) * 1000) }
        if crashOnRow == row {
            StandardError.write("modscope worker: failpoint crash-on-row:\(row) — aborting\n")
            abort()
        }
        if failOnRow == row { throw RuntimeError("failpoint fail-on-row:\(row)") }
        if hangAlways || hangOnRow == row {
            while true {
                try progress()
                usleep(100_000)
            }
        }
    }
}
