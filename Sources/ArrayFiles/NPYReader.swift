import Foundation

/// A read-only NumPy `.npy` array, memory-mapped: opening reads only the header, and `floatRows(_:)` touches
/// only the pages of the rows it returns, so files larger than RAM are fine.
///
/// Supported: format versions 1.0, 2.0 and 3.0; dtypes `float16/32/64`, `int8–64`, `uint8–64` and `bool`, in
/// either byte order (big-endian files are converted on read); C order and Fortran order (`fortran_order:
/// True` is read transposed, so results are always in C order, only slower because reads are strided).
///
/// Rows: the first axis indexes rows (samples). Shape `(N, d1, ..., dk)` has `rowCount == N`,
/// `rowShape == [d1, ..., dk]` and `elementsPerRow == d1·…·dk`. A 1-D array `(N,)` is `N` rows of one element
/// (`rowShape == []`); a 0-d array `()` is one row of one element.
///
/// Thread safety: immutable after `init`; every method may be called from any thread concurrently.
public final class NPYReader: SampleTable {
    /// The file path (for a `.npz` member: `archive.npz[key]`), as used in error messages.
    public let path: String
    /// The array shape as saved.
    public let shape: [Int]
    /// The element type stored in the file (before conversion).
    public let scalarType: NPYScalarType
    /// True when the file stores big-endian elements (converted transparently).
    public let isBigEndian: Bool
    /// True when the file was saved in Fortran (column-major) order; reads still return C order.
    public let isFortranOrder: Bool
    /// `shape[0]`, or 1 for a 0-d array.
    public let rowCount: Int
    /// The shape of one row: `shape` without its first axis (`[]` for 0-d and 1-D arrays).
    public let rowShape: [Int]
    /// The product of `rowShape` (1 for 0-d and 1-D arrays).
    public let elementsPerRow: Int
    /// The number of elements in the array (`rowCount × elementsPerRow`).
    public let elementCount: Int

    private let storage: ByteStorage
    /// Byte offset of the first element inside `storage` (for a plain `.npy` file: the header length).
    let dataStart: Int
    private let needsByteSwap: Bool

    /// Opens and memory-maps the `.npy` file at `path` and checks its header against its size.
    /// - Throws: `ArrayFileError` naming the file and the fix when it is missing, not a `.npy` file, truncated,
    ///   of an unsupported dtype (object, text, structured, complex), or its size does not match its shape.
    public convenience init(path: String) throws {
        try self.init(storage: try ByteStorage.map(path: path), start: 0, length: nil, name: path)
    }

    /// Reads the `.npy` bytes `storage[start ..< start + length]` (to the end of `storage` when `length` is nil).
    init(storage: ByteStorage, start: Int, length: Int?, name: String) throws {
        let length = length ?? (storage.count - start)
        precondition(start >= 0 && length >= 0 && start + length <= storage.count)
        let bytes = UnsafeRawBufferPointer(start: storage.base.map { $0 + start }, count: length)
        let header = try NPYHeader.parse(bytes, file: name)
        let count = ArrayFiles.elementCount(of: header.shape)!
        let dataBytes = count.multipliedReportingOverflow(by: header.scalarType.byteCount)
        let available = length - header.dataOffset
        guard !dataBytes.overflow, dataBytes.partialValue <= available else {
            throw ArrayFileError(
                "\(name) is truncated: its header says shape \(shapeDescription(header.shape)) \(header.scalarType.numpyName) = \(dataBytes.partialValue) bytes of data, but only \(available) bytes follow; the file was not fully written — save it again with np.save")
        }
        guard dataBytes.partialValue == available else {
            throw ArrayFileError(
                "\(name) has \(available - dataBytes.partialValue) bytes more than its header's shape \(shapeDescription(header.shape)) \(header.scalarType.numpyName) allows; the file is damaged — save it again with np.save")
        }
        self.path = name
        self.shape = header.shape
        self.scalarType = header.scalarType
        self.isBigEndian = header.isBigEndian
        self.isFortranOrder = header.fortranOrder && header.shape.count > 1
        self.rowCount = header.shape.first ?? 1
        self.rowShape = Array(header.shape.dropFirst())
        self.elementsPerRow = ArrayFiles.elementCount(of: rowShape)!
        self.elementCount = count
        self.storage = storage
        self.dataStart = start + header.dataOffset
        self.needsByteSwap = header.scalarType.byteCount > 1 && header.isBigEndian == hostIsLittleEndian
    }

    /// Rows `range` converted to `Float`, in C order: `range.count × elementsPerRow` values, row after row.
    /// Integers are converted exactly up to 2^24 and rounded beyond; `float64` is rounded to nearest.
    /// - Throws: `ArrayFileError` when `range` is not inside `0..<rowCount`.
    public func floatRows(_ range: Range<Int>) throws -> [Float] {
        try checkRows(range)
        let count = range.count * elementsPerRow
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            visitRuns(rows: range) { element, runLength, stride, output in
                decodeFloats(from: element, count: runLength, stride: stride, into: buffer.baseAddress! + output)
            }
            initialized = count
        }
    }

    /// The whole array as `Float`, in C order (`elementCount` values). Loads everything into memory: prefer
    /// `floatRows(_:)` in batches for large files.
    public func readAllFloats() throws -> [Float] {
        try floatRows(0..<rowCount)
    }

    /// Every element as `Int`, in C order (for class labels). Integer and bool dtypes convert exactly;
    /// floating-point elements must be integral.
    /// - Throws: `ArrayFileError` naming the first element that is not an integer (or, for `uint64`, too large).
    public func integerValues() throws -> [Int] {
        var values = [Int](repeating: 0, count: elementCount)
        var failure: (index: Int, value: String)?
        values.withUnsafeMutableBufferPointer { buffer in
            visitRuns(rows: 0..<rowCount) { element, runLength, stride, output in
                guard failure == nil else { return }
                if let bad = decodeIntegers(from: element, count: runLength, stride: stride, into: buffer.baseAddress! + output) {
                    failure = (output + bad.offset, bad.value)
                }
            }
        }
        if let failure {
            throw ArrayFileError(
                "\(path) element \(failure.index) is \(failure.value), not an integer; save integer labels with np.save(path, y.astype(np.int64))")
        }
        return values
    }

    // MARK: - Layout

    private func checkRows(_ range: Range<Int>) throws {
        guard range.lowerBound >= 0, range.upperBound <= rowCount else {
            throw ArrayFileError(
                "rows \(range.lowerBound)..<\(range.upperBound) are out of range: \(path) has \(rowCount) rows")
        }
    }

    /// Calls `body(firstElement, runLength, elementStride, outputOffset)` for runs of elements that, laid end to
    /// end, give rows `rows` in C order. C-order files give one contiguous run; Fortran-order files give one
    /// strided run per last-axis line.
    private func visitRuns(rows: Range<Int>, _ body: (Int, Int, Int, Int) -> Void) {
        guard !rows.isEmpty, elementsPerRow > 0 else { return }
        guard isFortranOrder else {
            body(rows.lowerBound * elementsPerRow, rows.count * elementsPerRow, 1, 0)
            return
        }
        // Fortran order: element (i0, ..., ik) lives at i0·s0 + ... + ik·sk with s0 = 1, sj = s(j-1)·d(j-1).
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in 1..<shape.count { strides[axis] = strides[axis - 1] * shape[axis - 1] }
        let last = shape.count - 1
        let lineLength = shape[last]
        let linesPerRow = elementsPerRow / lineLength
        var output = 0
        var counter = [Int](repeating: 0, count: shape.count)  // indices of axes 1 ..< last
        for row in rows {
            var element = row
            for _ in 0..<linesPerRow {
                body(element, lineLength, strides[last], output)
                output += lineLength
                var axis = last - 1
                while axis >= 1 {
                    counter[axis] += 1
                    element += strides[axis]
                    if counter[axis] < shape[axis] { break }
                    element -= strides[axis] * shape[axis]
                    counter[axis] = 0
                    axis -= 1
                }
            }
        }
    }

    // MARK: - Decoding

    @inline(__always)
    private func load<T: FixedWidthInteger>(_: T.Type, _ pointer: UnsafeRawPointer, _ offset: Int) -> T {
        let value = pointer.loadUnaligned(fromByteOffset: offset, as: T.self)
        return needsByteSwap ? value.byteSwapped : value
    }

    /// Converts `count` elements starting at element index `element`, `stride` elements apart, to `Float`.
    private func decodeFloats(from element: Int, count: Int, stride: Int, into output: UnsafeMutablePointer<Float>) {
        let size = scalarType.byteCount
        let source = storage.base! + dataStart + element * size
        let step = stride * size
        switch scalarType {
        case .float32:
            if !needsByteSwap && stride == 1 {
                UnsafeMutableRawPointer(output).copyMemory(from: source, byteCount: count * 4)
            } else {
                for i in 0..<count { output[i] = Float(bitPattern: load(UInt32.self, source, i * step)) }
            }
        case .float64: for i in 0..<count { output[i] = Float(Double(bitPattern: load(UInt64.self, source, i * step))) }
        case .float16: for i in 0..<count { output[i] = floatFromHalf(load(UInt16.self, source, i * step)) }
        case .int8: for i in 0..<count { output[i] = Float(Int8(bitPattern: load(UInt8.self, source, i * step))) }
        case .int16: for i in 0..<count { output[i] = Float(Int16(bitPattern: load(UInt16.self, source, i * step))) }
        case .int32: for i in 0..<count { output[i] = Float(Int32(bitPattern: load(UInt32.self, source, i * step))) }
        case .int64: for i in 0..<count { output[i] = Float(Int64(bitPattern: load(UInt64.self, source, i * step))) }
        case .uint8: for i in 0..<count { output[i] = Float(load(UInt8.self, source, i * step)) }
        case .uint16: for i in 0..<count { output[i] = Float(load(UInt16.self, source, i * step)) }
        case .uint32: for i in 0..<count { output[i] = Float(load(UInt32.self, source, i * step)) }
        case .uint64: for i in 0..<count { output[i] = Float(load(UInt64.self, source, i * step)) }
        case .bool: for i in 0..<count { output[i] = load(UInt8.self, source, i * step) == 0 ? 0 : 1 }
        }
    }

    /// Converts `count` elements to `Int`; returns the offset and text of the first one that is not an integer.
    private func decodeIntegers(
        from element: Int, count: Int, stride: Int, into output: UnsafeMutablePointer<Int>
    ) -> (offset: Int, value: String)? {
        let size = scalarType.byteCount
        let source = storage.base! + dataStart + element * size
        let step = stride * size
        func integral(_ value: Double, _ i: Int) -> (offset: Int, value: String)? {
            guard value.isFinite, value.rounded() == value, value >= -0x1p63, value < 0x1p63 else {
                return (i, "\(value)")
            }
            output[i] = Int(value)
            return nil
        }
        switch scalarType {
        case .float32:
            for i in 0..<count {
                if let bad = integral(Double(Float(bitPattern: load(UInt32.self, source, i * step))), i) { return bad }
            }
        case .float64:
            for i in 0..<count {
                if let bad = integral(Double(bitPattern: load(UInt64.self, source, i * step)), i) { return bad }
            }
        case .float16:
            for i in 0..<count {
                if let bad = integral(Double(floatFromHalf(load(UInt16.self, source, i * step))), i) { return bad }
            }
        case .int8: for i in 0..<count { output[i] = Int(Int8(bitPattern: load(UInt8.self, source, i * step))) }
        case .int16: for i in 0..<count { output[i] = Int(Int16(bitPattern: load(UInt16.self, source, i * step))) }
        case .int32: for i in 0..<count { output[i] = Int(Int32(bitPattern: load(UInt32.self, source, i * step))) }
        case .int64: for i in 0..<count { output[i] = Int(Int64(bitPattern: load(UInt64.self, source, i * step))) }
        case .uint8: for i in 0..<count { output[i] = Int(load(UInt8.self, source, i * step)) }
        case .uint16: for i in 0..<count { output[i] = Int(load(UInt16.self, source, i * step)) }
        case .uint32: for i in 0..<count { output[i] = Int(load(UInt32.self, source, i * step)) }
        case .uint64:
            for i in 0..<count {
                let value = load(UInt64.self, source, i * step)
                guard let exact = Int(exactly: value) else { return (i, "\(value)") }
                output[i] = exact
            }
        case .bool: for i in 0..<count { output[i] = load(UInt8.self, source, i * step) == 0 ? 0 : 1 }
        }
        return nil
    }
}

/// IEEE 754 binary16 → binary32, exact (every half value is a float). Written out rather than using `Float16`,
/// which is unavailable on some platforms.
@inline(__always)
func floatFromHalf(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0x1F {  // infinity or NaN
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {  // zero or subnormal: mantissa · 2^-24
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}
