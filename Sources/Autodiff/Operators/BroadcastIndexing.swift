import TensorCore

/// Multidirectional (numpy) broadcasting by index maps, for operators over any element type and any number
/// of inputs (Max/Min, Where, comparisons): `sources[k][o]` is the element of input k read at output o.
struct BroadcastIndexing {
    let shape: [Int]
    let sources: [[Int]]

    init(_ shapes: [[Int]]) throws {
        var out: [Int] = []
        for shape in shapes {
            guard let merged = Broadcasting.shape(out, shape) else {
                throw GraphError("shapes \(shapes.map { "\($0)" }.joined(separator: ", ")) do not broadcast")
            }
            out = merged
        }
        shape = out
        sources = shapes.map { Self.indices($0, to: out) }
    }

    var count: Int { shape.reduce(1, *) }

    /// Source index of every output element; dimensions of size 1 (or missing on the left) repeat.
    static func indices(_ source: [Int], to out: [Int]) -> [Int] {
        let total = out.reduce(1, *)
        if source == out { return Array(0..<total) }
        let aligned = [Int](repeating: 1, count: out.count - source.count) + source
        var strides = [Int](repeating: 0, count: out.count)
        var step = 1
        for axis in Swift.stride(from: out.count - 1, through: 0, by: -1) {
            strides[axis] = aligned[axis] == 1 ? 0 : step
            step *= aligned[axis]
        }
        var result = [Int](repeating: 0, count: total)
        var counter = [Int](repeating: 0, count: out.count)
        var offset = 0
        for o in 0..<total {
            result[o] = offset
            var axis = out.count - 1
            while axis >= 0 {
                counter[axis] += 1
                offset += strides[axis]
                if counter[axis] < out[axis] { break }
                offset -= strides[axis] * counter[axis]
                counter[axis] = 0
                axis -= 1
            }
        }
        return result
    }

    /// Sums a gradient over the output back onto input k's shape (the adjoint of broadcasting).
    func reduce(_ gradient: [Float], onto k: Int, shape inputShape: [Int]) -> Tensor {
        var result = [Float](repeating: 0, count: inputShape.reduce(1, *))
        for (o, source) in sources[k].enumerated() { result[source] += gradient[o] }
        return Tensor(shape: inputShape, storage: result)
    }
}

/// A float or integer input read as Double (comparisons, Where, Max/Min on mixed inputs).
func numericValues(_ value: Value) -> [Double] {
    switch value {
    case .float(let tensor): return tensor.storage.map { Double($0) }
    case .int(let tensor): return tensor.storage.map { Double($0) }
    }
}

extension Array where Element == Value? {
    /// The value at `index`, which must be present.
    func required(_ index: Int, _ what: String = "input") throws -> Value {
        guard index < count, let value = self[index] else { throw GraphError("missing required \(what) \(index)") }
        return value
    }
}
