/// libFuzzer entry: the wire decoder on untrusted frames. The input is split into the three frames (48-byte
/// header, fields of the length given by the next byte mod 64, the rest as body) and the header's payload
/// length and CRC-32C are patched to match, so the fuzzer reaches the per-type body checks instead of
/// stopping at the checksum. A message that decodes must re-encode to frames that decode to the same message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let headerSize = WireProtocol.headerSize
    guard bytes.count > headerSize else {
        _ = try? WireCodec.decode([bytes, [], []])
        return 0
    }
    var header = Array(bytes[0..<headerSize])
    let fieldsLength = min(Int(bytes[headerSize]) % 64, bytes.count - headerSize - 1)
    let fields = Array(bytes[(headerSize + 1)..<(headerSize + 1 + fieldsLength)])
    let body = Array(bytes[(headerSize + 1 + fieldsLength)...])
    let length = UInt32(fields.count + body.count)
    withUnsafeBytes(of: length.littleEndian) { header.replaceSubrange(40..<44, with: $0) }
    let prefix = CRC32C.checksum(fields, continuing: CRC32C.checksum(Array(header[0..<44])))
    let crc = CRC32C.combine(prefix, CRC32C.checksum(body), lengthB: body.count)
    withUnsafeBytes(of: crc.littleEndian) { header.replaceSubrange(44..<48, with: $0) }
    guard let message = try? WireCodec.decode([header, fields, body]) else { return 0 }
    let again = try? WireCodec.decode(WireCodec.encode(message))
    if again != message { fatalError("wire round trip changed the message: \(message) → \(String(describing: again))") }
    return 0
}
