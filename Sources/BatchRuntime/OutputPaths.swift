import Foundation

/// "Inputs are never outputs": checks made on every output path before anything is computed.
///
/// An output is refused (`RuntimeUsageError`, exit 2) when it
/// - is the same file as an input or another output: same device and inode after following links, which
///   catches symlinks, hard links and different spellings of one path; outputs that do not exist yet are
///   compared by their canonical path (parent folder with links resolved + name);
/// - exists and is not a regular file (a device such as /dev/full, a FIFO, a socket, a folder): outputs are
///   written to a temporary name and renamed, which would replace the node;
/// - is a run folder (`--out RUN` of `run`/`coordinator`) that exists, is not empty and is not a ModScope run.
public enum OutputPaths {
    /// A path given on the command line, with the flag that named it (for the message).
    public struct Named: Sendable {
        public var flag: String
        public var path: String
        public init(_ flag: String, _ path: String) {
            self.flag = flag
            self.path = path
        }
    }

    /// Files a run folder may hold before run.json exists (a writer that crashed just after locking it).
    static let runFolderBookkeeping: Set<String> = ["lock"]

    /// Refuses outputs that are inputs, each other, or existing non-regular files.
    public static func check(outputs: [Named], inputs: [Named]) throws {
        for (i, output) in outputs.enumerated() {
            var info = stat()
            if stat(output.path, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
                throw RuntimeUsageError(
                    "\(output.flag) \(output.path) exists and is not a regular file (\(kind(of: info.st_mode))); write to a new file path")
            }
            for input in inputs where sameFile(output.path, input.path) {
                throw RuntimeUsageError(
                    "\(output.flag) \(output.path) is the same file as the input \(input.flag) \(input.path); writing it would destroy the input — choose another output path")
            }
            for other in outputs[(i + 1)...] where sameFile(output.path, other.path) {
                throw RuntimeUsageError("\(output.flag) and \(other.flag) name the same file (\(output.path)); give them different paths")
            }
        }
    }

    /// Refuses a new run's `--out` folder unless it is missing, empty, or already a run folder (which
    /// `RunFolder.create` then refuses with a pointer to `resume`). An input cannot be inside an accepted folder.
    public static func checkNewRunFolder(_ folder: RunFolder, flag: String = "--out") throws {
        let path = folder.url.path
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw RuntimeUsageError("\(flag) \(path) exists and is not a folder (\(kind(of: info.st_mode))); choose a new folder for the run")
        }
        if FileManager.default.fileExists(atPath: folder.manifestURL.path) { return }
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !runFolderBookkeeping.contains($0) }.sorted()
        guard entries.isEmpty else {
            let shown = entries.prefix(3).joined(separator: ", ") + (entries.count > 3 ? ", …" : "")
            throw RuntimeUsageError(
                "\(flag) \(path) is an existing folder that is not a ModScope run (it holds \(entries.count) item(s): \(shown)); a run would overwrite them — choose a new or empty folder")
        }
    }

    /// True when `a` and `b` are one file: same device + inode when both exist, else the same canonical path.
    public static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        let aExists = stat(a, &sa) == 0, bExists = stat(b, &sb) == 0
        if aExists && bExists { return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino }
        if aExists != bExists { return false }
        return canonical(a) == canonical(b)
    }

    /// The absolute path with the parent folder's links resolved (the file itself may not exist yet).
    static func canonical(_ path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let parent = url.deletingLastPathComponent().path
        guard let resolved = realpath(parent, nil) else { return url.path }
        defer { free(resolved) }
        return String(cString: resolved) + "/" + url.lastPathComponent
    }

    static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a folder"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }
}
