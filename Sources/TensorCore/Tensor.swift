/// A dense, row-major `Float` tensor with value semantics (copy-on-write through `Array`).
///
/// The first dimension is the batch by convention for activations; parameters have no batch dimension.
/// Invariant: `storage.count == shape.reduce(1, *)`; a rank-0 tensor (scalar) has `shape == []` and one element.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var storage: [Float]

    /// Creates a tensor from a shape and its elements in row-major (C) order.
    /// - Precondition: `storage.count` equals the product of `shape`.
    public init(shape: [Int], storage: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative dimension")
        precondition(
            storage.count == shape.reduce(1, *),
            "Tensor storage has \(storage.count) elements but shape \(shape) needs \(shape.reduce(1, *))")
        self.shape = shape
        self.storage = storage
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, storage: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// A tensor filled with one value.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, storage: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A rank-0 tensor.
    public init(scalar: Float) { self.init(shape: [], storage: [scalar]) }

    /// A tensor whose elements are written by `body` into uninitialised memory (every element must be written).
    public init(shape: [Int], unsafeUninitialized body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        let count = shape.reduce(1, *)
        let storage = try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            try body(buffer)
            initialized = count
        }
        self.init(shape: shape, storage: storage)
    }

    public var rank: Int { shape.count }
    public var count: Int { storage.count }

    /// Row-major strides in elements.
    public var strides: [Int] { Tensor.strides(of: shape) }

    public static func strides(of shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= shape[axis]
        }
        return strides
    }

    /// The same elements viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: newShape, storage: storage)
    }

    /// Rows `range` of the leading dimension.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "row range out of bounds")
        let rowSize = shape.dropFirst().reduce(1, *)
        var newShape = shape
        newShape[0] = range.count
        return Tensor(shape: newShape, storage: Array(storage[(range.lowerBound * rowSize)..<(range.upperBound * rowSize)]))
    }

    /// Concatenates tensors along the leading dimension; all trailing dimensions must match.
    public static func concatenateRows(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "concatenateRows needs at least one tensor")
        let tail = Array(parts[0].shape.dropFirst())
        var total = 0
        var storage = [Float]()
        storage.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for part in parts {
            precondition(Array(part.shape.dropFirst()) == tail, "concatenateRows: trailing shapes differ")
            total += part.shape[0]
            storage.append(contentsOf: part.storage)
        }
        return Tensor(shape: [total] + tail, storage: storage)
    }

    /// Largest absolute element (0 for an empty tensor).
    public var maxAbsolute: Float { storage.reduce(0) { Swift.max($0, abs($1)) } }

    /// True when every element is finite.
    public var isFinite: Bool { storage.allSatisfy { $0.isFinite } }
}

/// A dense row-major tensor of 64-bit integers: ONNX INT64/INT32 tensors (shapes, axes, indices) that the
/// importer evaluates so dynamic reshapes work at any batch size.
public struct IntTensor: Sendable, Equatable {
    public var shape: [Int]
    public var storage: [Int64]

    public init(shape: [Int], storage: [Int64]) {
        precondition(storage.count == shape.reduce(1, *), "IntTensor storage/shape mismatch")
        self.shape = shape
        self.storage = storage
    }

    /// A 1-D tensor.
    public init(_ values: [Int64]) { self.init(shape: [values.count], storage: values) }

    public var count: Int { storage.count }
}
