import Foundation

/// The `modscope` command lines written in the launchers (Kubernetes manifests, compose file, Slurm scripts),
/// extracted so tests can check them against the real CLI.
struct LauncherCommand: CustomStringConvertible {
    /// File relative to the repository root, and 1-based line.
    var file: String
    var line: Int
    /// The subcommand path, e.g. ["worker"] or ["keys", "generate"].
    var subcommand: [String]
    /// Everything after the subcommand, shell quoting removed and variables expanded by `LauncherText.expand`.
    var arguments: [String]
    /// Written in a comment (documentation for the user) rather than run by the launcher.
    var isComment = false

    /// `--flag` names used (without `=value`).
    var flags: [String] {
        arguments.filter { $0.hasPrefix("--") && $0.count > 2 }.map { String($0.split(separator: "=", maxSplits: 1)[0]) }
    }

    var description: String { "\(file):\(line): modscope \((subcommand + arguments).joined(separator: " "))" }
}

enum LauncherFiles {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every launcher file: the manifests, the compose file and the scripts under cluster/, plus the
    /// operations guide, whose commands users copy.
    static func all() throws -> [String] {
        var files = ["docker/compose.yaml", "docs/operations.md"]
        let cluster = repositoryRoot.appendingPathComponent("cluster")
        guard let walker = FileManager.default.enumerator(atPath: cluster.path) else { return files }
        for case let path as String in walker where [".yaml", ".yml", ".sbatch", ".sh"].contains(where: path.hasSuffix) {
            if path.hasPrefix("kubernetes/keys/") { continue }
            files.append("cluster/" + path)
        }
        return files.sorted()
    }

    static func text(_ file: String) throws -> String {
        try String(contentsOf: repositoryRoot.appendingPathComponent(file), encoding: .utf8)
    }
}

enum LauncherText {
    /// The subcommands of `modscope` (ModScopeCommand.swift); a word after "modscope" that is none of these
    /// is prose ("modscope exited with …") or a name ("kubectl -n modscope scale …").
    static let subcommands: Set<String> = [
        "inspect", "attribute", "bicluster", "run", "coordinator", "worker", "status", "resume", "resubmit",
        "evaluate", "report", "keys", "bench",
    ]

    /// Extracts every modscope command from one file: YAML flow sequences (`args: ["worker", "--connect", …]`,
    /// where the image's entrypoint is modscope, or `["modscope", "status", …]`) and shell lines
    /// (`modscope coordinator --model … \` continued over several lines), in scripts, block scalars and
    /// comments alike, so that the commands the docs-in-comments tell users to type are checked too.
    static func commands(in file: String, text: String) -> [LauncherCommand] {
        var found: [LauncherCommand] = []
        let lines = text.components(separatedBy: "\n")
        var index = 0
        while index < lines.count {
            let first = index
            var line = lines[index]
            // Shell continuation: join lines ending in a backslash (comment markers of the next line are dropped).
            while line.hasSuffix("\\"), index + 1 < lines.count {
                index += 1
                var next = lines[index].trimmingCharacters(in: .whitespaces)
                if next.hasPrefix("#") { next.removeFirst() }
                line = String(line.dropLast()) + " " + next
            }
            index += 1
            let comment = line.trimmingCharacters(in: .whitespaces).hasPrefix("#")
            for tokens in flowSequences(in: line) + shellCommands(in: line) {
                guard var command = command(from: tokens, file: file, line: first + 1) else { continue }
                command.isComment = comment
                found.append(command)
            }
        }
        return found
    }

    private static func command(from tokens: [String], file: String, line: Int) -> LauncherCommand? {
        var tokens = tokens
        if tokens.first == "modscope" { tokens.removeFirst() }
        guard let sub = tokens.first, subcommands.contains(sub) else { return nil }
        var path = [sub]
        tokens.removeFirst()
        if sub == "keys", let next = tokens.first, !next.hasPrefix("-") {
            path.append(next)
            tokens.removeFirst()
        }
        return LauncherCommand(file: file, line: line, subcommand: path, arguments: tokens)
    }

    /// `[ "a", "b" ]` sequences of double-quoted strings (JSON-compatible YAML flow style).
    private static func flowSequences(in line: String) -> [[String]] {
        var out: [[String]] = []
        var rest = Substring(line)
        while let open = rest.firstIndex(of: "[") {
            guard let close = rest[open...].firstIndex(of: "]") else { break }
            let candidate = String(rest[open...close])
            if let data = candidate.data(using: .utf8),
                let array = try? JSONSerialization.jsonObject(with: data) as? [String], !array.isEmpty {
                out.append(array.map(expand))
            }
            rest = rest[rest.index(after: close)...]
        }
        return out
    }

    /// Shell words after each `modscope ` that starts a command (not part of a longer name or path).
    private static func shellCommands(in line: String) -> [[String]] {
        var out: [[String]] = []
        var search = line.startIndex
        while let range = line.range(of: "modscope", range: search..<line.endIndex) {
            search = range.upperBound
            if range.lowerBound > line.startIndex {
                let before = line[line.index(before: range.lowerBound)]
                if before.isLetter || before.isNumber || "/.-_\"'[".contains(before) { continue }
            }
            guard range.upperBound < line.endIndex, line[range.upperBound] == " " || line[range.upperBound] == "\t" else { continue }
            out.append(["modscope"] + words(String(line[range.upperBound...])))
        }
        return out
    }

    /// Shell-style words up to the end of the simple command (`;`, `&`, `|`, `>`, `)`, a backtick or a
    /// comment), with single and double quotes removed and variables expanded.
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        for c in text {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
                continue
            }
            if c == "'" || c == "\"" {
                quote = c
                inWord = true
                continue
            }
            if c == " " || c == "\t" {
                if inWord { words.append(expand(current)) }
                current = ""
                inWord = false
                continue
            }
            if ";&|<>)`".contains(c) || (c == "#" && !inWord) { break }
            current.append(c)
            inWord = true
        }
        if inWord { words.append(expand(current)) }
        return words
    }

    /// Expands shell/compose variables harmlessly: `${VAR:-default}` → default, any other `$VAR`, `${VAR}`,
    /// `${VAR:?message}` or `$((…))` → "X". Values only matter to the run test, which replaces them by flag.
    static func expand(_ word: String) -> String {
        var out = ""
        var chars = Array(word)[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            guard c == "$", let next = chars.first else {
                out.append(c)
                continue
            }
            if next == "{" {
                guard let close = chars.firstIndex(of: "}") else { out.append(c); continue }
                let body = String(chars[chars.index(after: chars.startIndex)..<close])
                chars = chars[chars.index(after: close)...]
                if let r = body.range(of: ":-") { out += body[r.upperBound...] } else { out += "X" }
            } else if next == "(" {
                var depth = 0
                while let d = chars.first {
                    chars = chars.dropFirst()
                    if d == "(" { depth += 1 }
                    if d == ")" { depth -= 1; if depth == 0 { break } }
                }
                out += "X"
            } else if next.isLetter || next == "_" {
                while let d = chars.first, d.isLetter || d.isNumber || d == "_" { chars = chars.dropFirst() }
                out += "X"
            } else {
                out.append(c)
            }
        }
        return out
    }
}

/// A child process whose output goes to files (no pipe can fill up and block it).
final class ChildProcess {
    let process = Process()
    let log: URL

    init(_ executable: URL, _ arguments: [String], log: URL, environment: [String: String]? = nil, directory: URL? = nil) throws {
        self.log = log
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        try process.run()
    }

    /// The exit status, or nil (after killing the process) if it did not end before the deadline.
    func wait(until deadline: Date) -> Int32? {
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            usleep(500_000)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, closed).
func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
