#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes diagnostics to stderr without ever stopping the process. Foundation's `FileHandle.write(_:)` traps
/// when the write fails (stderr redirected to a full disk, a closed pipe, a file past `ulimit -f`); a message
/// that cannot be written is dropped instead, and the command goes on to exit with its own code.
public enum StandardError {
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
