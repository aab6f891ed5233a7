import Foundation
import ZeroMQTransport

/// `modscope keys generate`: key folder creation (thin wrapper so the CLI needs no ZeroMQTransport import).
public enum KeyFolderGenerator {
    public static func generate(at url: URL, workers: Int) throws {
        try KeyFolder(url).generate(workers: workers)
    }
}
