/// libFuzzer entry: the input is a `.npy` file. Any error is fine; a trap, a crash or a sanitizer report is
/// a finding. Small arrays are decoded in full (both as floats and as integers).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = FuzzScratch.write(data, size, name: "input.npy")
    guard let reader = try? NPYReader(path: path), reader.elementCount <= fuzzReadLimit else { return 0 }
    _ = try? reader.readAllFloats()
    _ = try? reader.integerValues()
    if reader.rowCount > 1 { _ = try? reader.floatRows(1..<reader.rowCount) }
    return 0
}
