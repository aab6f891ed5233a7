/// libFuzzer entry: the input is an `.npz` archive. Every member is opened (stored members CRC-checked,
/// deflated ones inflated up to a small limit) and small arrays are decoded.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPZ(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = FuzzScratch.write(data, size, name: "input.npz")
    guard let archive = try? NPZArchive(path: path, inflateLimit: 1 << 24) else { return 0 }
    for key in archive.keys.prefix(8) {
        guard let reader = try? archive.reader(forKey: key), reader.elementCount <= fuzzReadLimit else { continue }
        _ = try? reader.readAllFloats()
    }
    return 0
}
