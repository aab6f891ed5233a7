import BatchRuntime
import Foundation

/// Progress for long stages on stderr: a redrawn bar with rate and ETA on a terminal, a plain line every few
/// seconds otherwise (logs, CI). Thread-safe.
public final class StageProgress: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let unit: String
    private let interactive: Bool
    private let start = Date()
    private var done = 0
    private var lastPrint = Date.distantPast
    private let lock = NSLock()
    private let quiet: Bool

    public init(label: String, total: Int, unit: String = "samples", quiet: Bool = false) {
        self.label = label
        self.total = total
        self.unit = unit
        self.quiet = quiet
        interactive = isatty(2) != 0
    }

    public func advance(by count: Int) {
        lock.withLock {
            done += count
            let now = Date()
            let interval: TimeInterval = interactive ? 0.2 : 5
            if now.timeIntervalSince(lastPrint) >= interval || done >= total {
                lastPrint = now
                emit(now)
            }
        }
    }

    private func emit(_ now: Date) {
        guard !quiet else { return }
        let elapsed = max(now.timeIntervalSince(start), 1e-9)
        let rate = Double(done) / elapsed
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let line: String
        if interactive {
            let width = 30
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            line = "\r\(label) [\(bar)] \(done)/\(total) \(unit)  \(Self.format(rate))/s  ETA \(Self.duration(eta))   "
        } else {
            line = "\(label): \(done)/\(total) \(unit), \(Self.format(rate)) \(unit)/s, ETA \(Self.duration(eta))\n"
        }
        StandardError.write(line)
    }

    /// Ends the bar's line.
    public func finish() {
        lock.withLock {
            guard !quiet else { return }
            if interactive { StandardError.write("\n") }
        }
    }

    static func format(_ rate: Double) -> String { rate >= 100 ? String(Int(rate.rounded())) : String(format: "%.1f", rate) }
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
