/// The element type of a NumPy array that ArrayFiles can read (the kind and size of its `descr`, byte order
/// aside). Readers convert every type to `Float` (`bool` gives 0 or 1) and the integer types to `Int`.
public enum NPYScalarType: String, Sendable, CaseIterable {
    /// One NumPy dtype each: `bool` (`|b1`), signed and unsigned integers of 8–64 bits, IEEE floats of 16–64 bits.
    case bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float16, float32, float64

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .bool, .int8, .uint8: 1
        case .int16, .uint16, .float16: 2
        case .int32, .uint32, .float32: 4
        case .int64, .uint64, .float64: 8
        }
    }

    /// True for `float16`, `float32` and `float64`.
    public var isFloatingPoint: Bool {
        self == .float16 || self == .float32 || self == .float64
    }

    /// The NumPy type name (`float32`, `int64`, `bool`, ...).
    public var numpyName: String { rawValue }
}

/// The parsed header of a `.npy` file (format versions 1.0, 2.0 and 3.0).
///
/// Invariants: `shape` has no negative dimension, and the product of its non-zero dimensions times the element
/// size fits in `Int` (so every sub-product — row sizes, strides, byte counts — does too, even for an empty
/// array such as `(0, 2^40, 2^40)`); `dataOffset` is the byte offset of the first element from the start of
/// the `.npy` bytes.
struct NPYHeader: Equatable {
    var scalarType: NPYScalarType
    /// True when the file stores multi-byte elements big-endian (`>` in `descr`, or `=` on a big-endian host).
    var isBigEndian: Bool
    var fortranOrder: Bool
    var shape: [Int]
    var dataOffset: Int
    /// The `descr` string as written in the file, e.g. `<f4`.
    var descr: String

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Bytes of element data the header declares: the shape's product × the element size (fits by the
    /// invariant; `nil` only if it did not).
    var dataByteCount: Int? {
        elementCount(of: shape + [scalarType.byteCount])
    }

    /// Parses the header at the start of `bytes`; `file` names the file in error messages.
    static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws -> NPYHeader {
        guard bytes.count >= 10 else {
            if bytes.isEmpty { throw ArrayFileError("\(file) is empty; save the array again with np.save") }
            throw ArrayFileError("\(file) is truncated (\(bytes.count) bytes, shorter than a .npy header); save it again with np.save")
        }
        guard Array(bytes[0..<6]) == magic else {
            throw ArrayFileError(
                "\(file) is not a NumPy .npy file (it does not start with \\x93NUMPY); save the array with np.save(path, x)")
        }
        let major = bytes[6]
        let minor = bytes[7]
        let headerLength: Int
        let prefix: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            prefix = 10
        case 2, 3:
            guard bytes.count >= 12 else {
                throw ArrayFileError("\(file) is truncated inside its header; save it again with np.save")
            }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            prefix = 12
        default:
            throw ArrayFileError(
                "\(file) uses .npy format version \(major).\(minor), which is not supported (1.0, 2.0 and 3.0 are); save it with np.save from NumPy ≥ 1.9")
        }
        guard minor == 0 else {
            throw ArrayFileError("\(file) uses .npy format version \(major).\(minor), which is not supported (1.0, 2.0 and 3.0 are); save it again with np.save")
        }
        guard bytes.count >= prefix + headerLength else {
            throw ArrayFileError(
                "\(file) is truncated inside its header (needs \(prefix + headerLength) bytes, has \(bytes.count)); save it again with np.save")
        }
        let text = Array(bytes[prefix..<(prefix + headerLength)])
        var parser = PyLiteralParser(bytes: text, file: file)
        let literal = try parser.parseHeader()
        guard case .dict(let entries) = literal else {
            throw ArrayFileError("\(file) has a .npy header that is not a dictionary; save the array again with np.save")
        }
        func value(_ key: String) throws -> PyLiteral {
            guard let found = entries.first(where: { $0.0 == key }) else {
                throw ArrayFileError("\(file) has a .npy header without '\(key)'; save the array again with np.save")
            }
            return found.1
        }
        let descrValue = try value("descr")
        guard case .string(let descr) = descrValue else {
            throw ArrayFileError(
                "\(file) holds a structured array (fields, not plain numbers); save one numeric field with np.save(path, np.ascontiguousarray(x['field'], dtype=np.float32))")
        }
        let (scalarType, isBigEndian) = try parseDescr(descr, file: file)
        guard case .bool(let fortranOrder) = try value("fortran_order") else {
            throw ArrayFileError("\(file) has a .npy header whose 'fortran_order' is not True/False; save the array again with np.save")
        }
        guard case .tuple(let dims) = try value("shape") else {
            throw ArrayFileError("\(file) has a .npy header whose 'shape' is not a tuple; save the array again with np.save")
        }
        var shape: [Int] = []
        for dim in dims {
            guard case .int(let n) = dim, n >= 0 else {
                throw ArrayFileError("\(file) has a .npy header with an invalid shape; save the array again with np.save")
            }
            shape.append(n)
        }
        guard elementCount(of: shape.filter { $0 != 0 } + [scalarType.byteCount]) != nil else {
            throw ArrayFileError(
                "\(file) declares shape \(shapeDescription(shape)), too many elements to address; the header is damaged — save the array again with np.save")
        }
        return NPYHeader(
            scalarType: scalarType, isBigEndian: isBigEndian, fortranOrder: fortranOrder, shape: shape,
            dataOffset: prefix + headerLength, descr: descr)
    }

    /// Maps a NumPy `descr` such as `<f4`, `>i8` or `|b1` to a scalar type and byte order, or throws a sentence
    /// saying how to save the array as numbers.
    static func parseDescr(_ descr: String, file: String) throws -> (NPYScalarType, isBigEndian: Bool) {
        var chars = Substring(descr)
        var bigEndian = !hostIsLittleEndian
        if let first = chars.first, "<>|=".contains(first) {
            if first == ">" { bigEndian = true }
            if first == "<" { bigEndian = false }
            chars = chars.dropFirst()
        }
        let kind = chars.first ?? " "
        let size = Int(chars.dropFirst())
        let fix = "save a numeric array with np.save(path, x.astype(np.float32))"
        switch (kind, size) {
        case ("f", 2): return (.float16, bigEndian)
        case ("f", 4): return (.float32, bigEndian)
        case ("f", 8): return (.float64, bigEndian)
        case ("i", 1): return (.int8, bigEndian)
        case ("i", 2): return (.int16, bigEndian)
        case ("i", 4): return (.int32, bigEndian)
        case ("i", 8): return (.int64, bigEndian)
        case ("u", 1): return (.uint8, bigEndian)
        case ("u", 2): return (.uint16, bigEndian)
        case ("u", 4): return (.uint32, bigEndian)
        case ("u", 8): return (.uint64, bigEndian)
        case ("b", 1), ("?", nil), ("?", 1): return (.bool, bigEndian)
        case ("O", _):
            throw ArrayFileError("\(file) was saved with dtype object; \(fix)")
        case ("U", _), ("S", _), ("a", _):
            throw ArrayFileError("\(file) holds text (dtype \(descr)), not numbers; \(fix)")
        case ("c", _):
            throw ArrayFileError("\(file) holds complex numbers (dtype \(descr)); save the real part with np.save(path, x.real.astype(np.float32))")
        case ("M", _), ("m", _):
            throw ArrayFileError("\(file) holds dates or durations (dtype \(descr)); \(fix)")
        case ("V", _):
            throw ArrayFileError("\(file) holds raw or structured records (dtype \(descr)); \(fix)")
        default:
            throw ArrayFileError(
                "\(file) has dtype \(descr), which is not supported (float16/32/64, int8–64, uint8–64 and bool are); \(fix)")
        }
    }

    /// A NumPy format 1.0 header for a C-order array, padded with spaces so that the data starts at a multiple
    /// of 64 bytes, exactly as `np.save` writes it.
    static func encodeVersion1(descr: String, shape: [Int]) -> [UInt8] {
        let dictionary = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeDescription(shape)), }"
        let unpadded = 10 + dictionary.utf8.count + 1  // magic, version, length, text, "\n"
        let padding = (64 - unpadded % 64) % 64
        let text = dictionary + String(repeating: " ", count: padding) + "\n"
        let length = text.utf8.count
        precondition(length <= Int(UInt16.max), "a .npy v1.0 header is at most 65535 bytes")
        return magic + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(text.utf8)
    }
}

/// A Python literal as found in a `.npy` header.
indirect enum PyLiteral: Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([PyLiteral])
    case list([PyLiteral])
    case dict([(String, PyLiteral)])

    static func == (lhs: PyLiteral, rhs: PyLiteral) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.none, .none): true
        case (.tuple(let a), .tuple(let b)), (.list(let a), .list(let b)): a == b
        case (.dict(let a), .dict(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}

/// A recursive-descent parser for the small subset of Python literals that `.npy` headers use: dicts, tuples,
/// lists, strings, integers (an old `L` suffix is accepted), `True`, `False` and `None`.
struct PyLiteralParser {
    let bytes: [UInt8]
    let file: String
    var position = 0

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    mutating func parseHeader() throws -> PyLiteral {
        let value = try parseValue(depth: 0)
        skipSpace()
        guard position == bytes.count else { throw damaged() }
        return value
    }

    private func damaged() -> ArrayFileError {
        ArrayFileError("\(file) has a damaged .npy header that cannot be parsed; save the array again with np.save")
    }

    private mutating func skipSpace() {
        while position < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[position]) { position += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws {
        skipSpace()
        guard position < bytes.count, bytes[position] == byte else { throw damaged() }
        position += 1
    }

    private mutating func peek() -> UInt8? {
        skipSpace()
        return position < bytes.count ? bytes[position] : nil
    }

    private mutating func parseValue(depth: Int) throws -> PyLiteral {
        guard depth < 32, let byte = peek() else { throw damaged() }
        switch byte {
        case UInt8(ascii: "{"):
            position += 1
            var entries: [(String, PyLiteral)] = []
            while peek() != UInt8(ascii: "}") {
                guard case .string(let key) = try parseValue(depth: depth + 1) else { throw damaged() }
                try expect(UInt8(ascii: ":"))
                entries.append((key, try parseValue(depth: depth + 1)))
                if peek() == UInt8(ascii: ",") { position += 1 } else { break }
            }
            try expect(UInt8(ascii: "}"))
            return .dict(entries)
        case UInt8(ascii: "("), UInt8(ascii: "["):
            let close = byte == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "]")
            position += 1
            var items: [PyLiteral] = []
            while peek() != close {
                items.append(try parseValue(depth: depth + 1))
                if peek() == UInt8(ascii: ",") { position += 1 } else { break }
            }
            try expect(close)
            return byte == UInt8(ascii: "(") ? .tuple(items) : .list(items)
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            position += 1
            let start = position
            while position < bytes.count, bytes[position] != byte { position += 1 }
            guard position < bytes.count else { throw damaged() }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            position += 1
            return .string(text)
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
            let start = position
            position += 1
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
            guard let value = Int(String(decoding: bytes[start..<position], as: UTF8.self)) else { throw damaged() }
            if position < bytes.count, bytes[position] == UInt8(ascii: "L") { position += 1 }
            return .int(value)
        default:
            for (word, literal) in [("True", PyLiteral.bool(true)), ("False", .bool(false)), ("None", .none)] {
                let utf8 = Array(word.utf8)
                if bytes.count - position >= utf8.count, Array(bytes[position..<(position + utf8.count)]) == utf8 {
                    position += utf8.count
                    return literal
                }
            }
            throw damaged()
        }
    }
}
