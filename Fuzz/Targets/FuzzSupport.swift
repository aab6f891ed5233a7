import Foundation

/// Shared by the fuzz entry points: writes the input to one scratch file per process (the readers open
/// paths, as `modscope` does) and returns its path. libFuzzer runs inputs one at a time in a process.
enum FuzzScratch {
    static let folder: String = {
        let path = NSTemporaryDirectory() + "/modscope-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static func write(_ data: UnsafePointer<UInt8>, _ size: Int, name: String) -> String {
        let path = folder + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
        return path
    }
}

/// The largest array the fuzz targets read in full (elements): keeps each execution fast.
let fuzzReadLimit = 1 << 16
