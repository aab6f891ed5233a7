import Foundation

/// A 2-D `.npy` matrix opened read-only for biclustering: little-endian float32 in C order is memory-mapped
/// (never copied; pages are read as the blocks pass over them); float64 is converted once to float32.
/// Anything else (other dtypes, Fortran order, rank ≠ 2) is rejected with a `BiclusteringError`.
public final class MappedNPYFile: @unchecked Sendable {
    public let path: String
    public let rows: Int
    public let cols: Int
    private let mapping: UnsafeMutableRawPointer?
    private let mappingLength: Int
    private let converted: OwnedBuffer?
    private let dataPointer: UnsafePointer<Float>

    /// A view of the matrix, valid while this object lives (the view keeps it alive).
    public var view: MatrixView { MatrixView(rows: rows, cols: cols, base: dataPointer, owner: self) }

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw BiclusteringError("--matrix \(path): cannot open the file (\(String(cString: strerror(errno)))).")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw BiclusteringError("--matrix \(path): cannot stat the file.") }
        let size = Int(info.st_size)
        guard size >= 10 else { throw BiclusteringError("--matrix \(path): not a .npy file (too short).") }
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            throw BiclusteringError("--matrix \(path): cannot memory-map the file.")
        }
        let bytes = map.assumingMemoryBound(to: UInt8.self)
        func fail(_ message: String) -> BiclusteringError {
            munmap(map, size)
            return BiclusteringError("--matrix \(path): \(message)")
        }
        guard bytes[0] == 0x93, String(decoding: UnsafeBufferPointer(start: bytes + 1, count: 5), as: UTF8.self) == "NUMPY" else {
            throw fail("not a .npy file (bad magic); save it with numpy.save.")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            guard size >= 12 else { throw fail("truncated header.") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        let dataOffset = headerStart + headerLength
        guard dataOffset <= size else { throw fail("truncated header.") }
        let header = String(decoding: UnsafeBufferPointer(start: bytes + headerStart, count: headerLength), as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let range = header.range(of: "'\(key)':") else { return nil }
            return String(header[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let q1 = descrField.firstIndex(of: "'") else { throw fail("header has no dtype.") }
        let afterQuote = descrField[descrField.index(after: q1)...]
        let descr = String(afterQuote.prefix { $0 != "'" })
        if let fortran = field("fortran_order"), fortran.hasPrefix("True") {
            throw fail("Fortran-order arrays are not supported; save a C-order array (numpy.ascontiguousarray).")
        }
        guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("),
              let closeIndex = shapeField.firstIndex(of: ")") else { throw fail("header has no shape.") }
        let dims = shapeField[shapeField.index(after: open)..<closeIndex].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.compactMap { Int($0) }
        guard dims.count == 2 else {
            throw fail("the matrix must have rank 2 (samples × neurons) but has shape (\(dims.map(String.init).joined(separator: ", "))).")
        }
        let count = dims[0] * dims[1]
        let itemSize: Int
        switch descr {
        case "<f4", "|f4": itemSize = 4
        case "<f8": itemSize = 8
        default:
            throw fail("dtype \(descr) is not supported; use float32 (<f4) or float64 (<f8).")
        }
        guard dataOffset + count * itemSize <= size else { throw fail("file is shorter than its shape says.") }
        rows = dims[0]
        cols = dims[1]
        if itemSize == 4 && dataOffset % 4 == 0 {
            mapping = map
            mappingLength = size
            converted = nil
            dataPointer = UnsafePointer((map + dataOffset).assumingMemoryBound(to: Float.self))
        } else {
            let buffer = OwnedBuffer(uninitializedCount: count)
            let raw = UnsafeRawPointer(map + dataOffset)
            for e in 0..<count {
                if itemSize == 8 {
                    buffer.pointer[e] = Float(raw.loadUnaligned(fromByteOffset: e * 8, as: Double.self))
                } else {
                    buffer.pointer[e] = raw.loadUnaligned(fromByteOffset: e * 4, as: Float.self)
                }
            }
            munmap(map, size)
            mapping = nil
            mappingLength = 0
            converted = buffer
            dataPointer = UnsafePointer(buffer.pointer)
        }
    }

    deinit { if let mapping { munmap(mapping, mappingLength) } }
}

/// Writes a 1-D or 2-D `.npy` (format 1.0, little-endian) atomically: temporary file, then rename.
enum NPYOutput {
    static func write(int32 values: [Int32], shape: [Int], to url: URL) throws {
        try write(bytes: values.withUnsafeBytes { Data($0) }, descr: "<i4", shape: shape, to: url)
    }

    static func write(float32 values: [Float], shape: [Int], to url: URL) throws {
        try write(bytes: values.withUnsafeBytes { Data($0) }, descr: "<f4", shape: shape, to: url)
    }

    private static func write(bytes: Data, descr: String, shape: [Int], to url: URL) throws {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(Data(header.utf8))
        data.append(bytes)
        try data.write(to: url, options: .atomic)
    }
}
