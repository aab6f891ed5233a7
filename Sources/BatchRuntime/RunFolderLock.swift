import Foundation

/// The exclusive writer lock of a run folder: `flock(LOCK_EX | LOCK_NB)` on RUN/lock, held by the process that
/// writes the folder (`run`, `coordinator`, `resume`, `resubmit`, `evaluate`, `report`) until it exits.
///
/// Invariants: at most one process holds the lock of a folder at a time (the kernel drops it when the holder
/// exits, however it exits, so a crash never leaves a stale lock); the lock file holds the holder's pid and
/// command (one line) so a refused second writer can name it. The descriptor is opened with O_CLOEXEC, so
/// worker processes spawned by the holder do not inherit the lock. Within one process, locking a folder twice
/// returns the held lock (flock locks belong to the open file description, so a second open would conflict
/// with the process itself).
public final class RunFolderLock: @unchecked Sendable {
    /// RUN/lock.
    public let url: URL
    private let fd: Int32

    private static let registryLock = NSLock()
    /// Locks held by this process, by the folder's standardized path; kept for the life of the process.
    nonisolated(unsafe) private static var held: [String: RunFolderLock] = [:]

    private init(url: URL, fd: Int32) {
        self.url = url
        self.fd = fd
    }

    /// Locks `folder` (which must exist) for writing, or throws `RuntimeUsageError` naming the process that
    /// holds it. `command` (e.g. "resume") is recorded in the lock file for the message.
    @discardableResult
    public static func acquire(_ folder: RunFolder, command: String) throws -> RunFolderLock {
        let key = folder.url.standardizedFileURL.resolvingSymlinksInPath().path
        registryLock.lock()
        defer { registryLock.unlock() }
        if let lock = held[key] { return lock }
        let url = folder.lockURL
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            throw RuntimeError("cannot open the lock file \(url.path): \(String(cString: strerror(errno))); check the run folder's permissions")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            let holder = holderDescription(fd: fd)
            close(fd)
            guard reason == EWOULDBLOCK else {
                throw RuntimeError("cannot lock \(url.path): \(String(cString: strerror(reason)))")
            }
            throw RuntimeUsageError(
                "\(folder.url.path) is being written by \(holder); only one process may write a run folder — wait for it to finish or stop it, then retry")
        }
        let line = "\(getpid()) \(command)\n"
        _ = ftruncate(fd, 0)
        _ = line.withCString { pwrite(fd, $0, strlen($0), 0) }
        let lock = RunFolderLock(url: url, fd: fd)
        held[key] = lock
        return lock
    }

    /// "process PID (modscope COMMAND)" from the lock file's line, or "another process" when it is unreadable.
    static func holderDescription(fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return "another process" }
        let fields = String(decoding: buffer[0..<n], as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard let pid = fields.first.flatMap({ Int32($0) }) else { return "another process" }
        let command = fields.dropFirst().first.map { String($0).filter { $0.isLetter || $0 == "-" } }
        return "process \(pid)" + (command.map { " (modscope \($0))" } ?? "")
    }

    deinit { close(fd) }
}
