import BatchRuntime
import Foundation

/// Prints run progress to stderr: a redrawn bar with rate and ETA on a terminal, a plain line every
/// `plainInterval` seconds otherwise (logs, CI).
public final class ProgressReporter: @unchecked Sendable {
    let isTerminal = isatty(STDERR_FILENO) == 1
    /// Seconds between plain progress lines when stderr is not a terminal.
    let plainInterval: Double
    private let lock = NSLock()
    private var lastPlain = 0.0
    private var barShown = false
    public let quiet: Bool

    public init(quiet: Bool = false, plainInterval: Double = 5) {
        self.quiet = quiet
        self.plainInterval = plainInterval
    }

    public func update(_ status: RunStatus) {
        guard !quiet else { return }
        lock.lock()
        defer { lock.unlock() }
        if isTerminal {
            let width = 30
            let fraction = status.shardsTotal == 0 ? 1 : Double(status.shardsDone) / Double(status.shardsTotal)
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            StandardError.write("\r\u{1B}[K\(bar) \(Int(fraction * 100))% \(status.summaryLine)")
            barShown = true
        } else {
            let now = Date().timeIntervalSince1970
            guard now - lastPlain >= plainInterval else { return }
            lastPlain = now
            StandardError.write("progress: \(status.summaryLine)\n")
        }
    }

    public func log(_ line: String) {
        guard !quiet else { return }
        lock.lock()
        defer { lock.unlock() }
        let prefix = barShown && isTerminal ? "\r\u{1B}[K" : ""
        barShown = false
        StandardError.write("\(prefix)\(line)\n")
    }

    public func finish(_ status: RunStatus) {
        guard !quiet else { return }
        lock.lock()
        defer { lock.unlock() }
        if barShown { StandardError.write("\n") }
        barShown = false
    }
}
