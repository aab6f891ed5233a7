#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Where an initializer's external data lives, confined to the model's folder (the rule of onnx.checker's
/// `_validate_external_data_path`): the `location` must be relative, without a `..` component, and the file it
/// names must resolve — symbolic links followed — to a regular file inside the folder. Nothing is read
/// before these checks pass, so a model file cannot make ModScope open `/etc/shadow`, a device or a FIFO.
struct ExternalDataLocation {
    /// The resolved path (no symbolic links) and the file's size in bytes.
    let path: String
    let size: Int

    static func resolve(_ location: String, in base: URL, tensor: String) throws -> ExternalDataLocation {
        let refuse = { (reason: String) in
            ONNXError(
                "initializer '\(tensor)' names external data file '\(location)', which \(reason); external data must be a file inside the model's folder — keep the data file next to the .onnx file, or re-export with external_data=False")
        }
        guard !location.isEmpty else { throw refuse("is empty") }
        guard !location.hasPrefix("/"), !location.hasPrefix("\\"), !location.contains(":") else {
            throw refuse("is an absolute path")
        }
        let components = location.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        guard !components.contains("..") else { throw refuse("leaves the model's folder with '..'") }
        guard let folder = realPath(base.path) else { throw refuse("cannot be found (the model's folder cannot be resolved)") }
        guard let file = realPath(base.appendingPathComponent(location).path) else {
            throw ONNXError(
                "external data file '\(location)' for initializer '\(tensor)' was not found in \(base.path); keep the data file next to the .onnx file, or re-export with external_data=False")
        }
        guard file.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/") else {
            throw refuse("resolves (through a symbolic link) to \(file), outside the model's folder")
        }
        var info = stat()
        guard stat(file, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { throw refuse("is not a regular file") }
        return ExternalDataLocation(path: file, size: Int(info.st_size))
    }

    /// `realpath(3)`: the absolute path with every symbolic link, `.` and `..` resolved, or nil when it does
    /// not exist.
    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
