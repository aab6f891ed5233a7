import TensorCore

/// Input accessors shared by operators; errors name what was expected.
extension Array where Element == Value? {
    func float(_ index: Int, _ what: String = "input") throws -> Tensor {
        guard index < count, let value = self[index] else { throw GraphError("missing required \(what) \(index)") }
        guard case .float(let tensor) = value else { throw GraphError("\(what) \(index) must be a float tensor") }
        return tensor
    }

    func optionalFloat(_ index: Int) throws -> Tensor? {
        guard index < count, let value = self[index] else { return nil }
        guard case .float(let tensor) = value else { throw GraphError("input \(index) must be a float tensor") }
        return tensor
    }

    /// Integer values of an INT64 input (shapes, axes, pads), or nil when the optional input is absent.
    func integers(_ index: Int) throws -> [Int]? {
        guard index < count, let value = self[index] else { return nil }
        switch value {
        case .int(let tensor): return tensor.storage.map { Int($0) }
        case .float(let tensor):
            // Float values used as integers (shapes, axes, pads) must be integral and in range: Int(x) traps.
            return try tensor.storage.map { value in
                guard value.isFinite, value.rounded() == value, abs(value) < 0x1p62 else {
                    throw GraphError("input \(index) holds \(value), which is not a usable integer")
                }
                return Int(value)
            }
        }
    }
}

/// Normalises a possibly negative axis against `rank`.
func normalizedAxis(_ axis: Int, rank: Int) throws -> Int {
    let resolved = axis < 0 ? axis + rank : axis
    guard resolved >= 0 && resolved < Swift.max(rank, 1) else {
        throw GraphError("axis \(axis) is out of range for a tensor of rank \(rank)")
    }
    return resolved
}

/// Applies `body` to the float or integer case of a value with the same layout transform.
func mapLayout(_ value: Value, float: (Tensor) throws -> Tensor, int: (IntTensor) throws -> IntTensor) rethrows -> Value {
    switch value {
    case .float(let tensor): return .float(try float(tensor))
    case .int(let tensor): return .int(try int(tensor))
    }
}
