/// A read-only, row-major float32 matrix that the biclustering reads block by block and never copies.
///
/// It wraps either memory owned by the caller (an array, a memory-mapped `.npy` file) or memory owned by an
/// object that `owner` keeps alive. Invariant: `base` points to `rows * cols` readable floats for the lifetime
/// of the view (and of every copy of it).
public struct MatrixView: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let base: UnsafePointer<Float>
    /// Keeps the memory behind `base` alive (an `OwnedBuffer`, a `MappedNPYFile`, …); nil when the caller does.
    public let owner: AnyObject?

    /// A view of caller-owned memory. The caller keeps the memory alive and unchanged while the view is in use.
    public init(rows: Int, cols: Int, base: UnsafePointer<Float>, owner: AnyObject? = nil) {
        precondition(rows >= 0 && cols >= 0, "MatrixView: negative shape \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        self.base = base
        self.owner = owner
    }

    /// A view that owns a copy of `values` (row-major, `rows * cols` elements). Meant for small matrices and
    /// tests; large matrices should be memory-mapped with `MappedNPYFile`.
    public init(copying values: [Float], rows: Int, cols: Int) {
        precondition(values.count == rows * cols, "MatrixView: \(values.count) values for shape \(rows)×\(cols)")
        let buffer = OwnedBuffer(values)
        self.init(rows: rows, cols: cols, base: UnsafePointer(buffer.pointer), owner: buffer)
    }

    /// Element (i, j).
    @inlinable public subscript(i: Int, j: Int) -> Float { base[i * cols + j] }
}

/// Heap memory that lives as long as the object: the owner behind `MatrixView(copying:)`.
public final class OwnedBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(1, values.count))
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.initialize(from: base, count: values.count) }
        }
    }

    public init(uninitializedCount count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(1, count))
    }

    deinit { pointer.deallocate() }
}
