import Foundation
import Testing

@testable import ArrayFiles

/// Fixtures written by scripts/make_arrayfile_fixtures.py, found next to this file (not SwiftPM resources).
enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// The float32 (3, 4) fixture: 0.5 · (4i + j) − 1.
    static let f4Values: [Float] = (0..<12).map { Float($0) * 0.5 - 1 }
}

/// A fresh folder under the temporary directory, removed by the caller with `removeTemporaryFolder`.
func makeTemporaryFolder() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("arrayfiles-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

func removeTemporaryFolder(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// The message of the `ArrayFileError` thrown by `body`, or a recorded issue when it does not throw one.
func arrayFileErrorMessage(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    do {
        try body()
        Issue.record("expected an ArrayFileError", sourceLocation: sourceLocation)
    } catch let error as ArrayFileError {
        return error.message
    } catch {
        Issue.record("expected an ArrayFileError, got \(error)", sourceLocation: sourceLocation)
    }
    return ""
}
