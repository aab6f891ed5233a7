/// libFuzzer entry: the input is a CSV file, read as samples and as labels.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = FuzzScratch.write(data, size, name: "input.csv")
    guard let reader = try? CSVReader(path: path) else { return 0 }
    _ = try? reader.floatRows(0..<reader.rowCount)
    _ = try? reader.integerValues()
    return 0
}
