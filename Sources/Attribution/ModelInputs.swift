import Autodiff
import TensorCore

/// The graph inputs one sample carries, and how they are packed into one row of Float32 values.
///
/// A packed sample is the concatenation of every input's elements, in `slots` order (C order within each).
/// Integer inputs (token ids, attention masks, token type ids) travel as Float32 values, which is exact for
/// |value| < 2^24 (`exactIntegerLimit`; callers check the range before packing). A single-input float model has
/// one slot whose shape is the sample shape, so its packed rows are the data rows unchanged.
///
/// Invariant: slot names are distinct and every shape has positive dimensions.
public struct ModelInputs: Codable, Sendable, Equatable {
    public struct Slot: Codable, Sendable, Equatable {
        /// The graph input's name.
        public var name: String
        /// Shape of one sample (batch axis excluded).
        public var shape: [Int]
        /// INT64 in the graph (fed as `Value.int`); false: FLOAT.
        public var isInteger: Bool

        public init(name: String, shape: [Int], isInteger: Bool) {
            self.name = name
            self.shape = shape
            self.isInteger = isInteger
        }

        public var count: Int { shape.reduce(1, *) }
    }

    public var slots: [Slot]

    /// Integers up to this magnitude are exact in Float32 (2^24): the bound on packed integer values.
    public static let exactIntegerLimit = 1 << 24

    public init(slots: [Slot]) { self.slots = slots }

    /// One float input of the given per-sample shape.
    public static func single(_ name: String, shape: [Int]) -> ModelInputs {
        ModelInputs(slots: [Slot(name: name, shape: shape, isInteger: false)])
    }

    /// Values per packed sample.
    public var elementsPerSample: Int { slots.reduce(0) { $0 + $1.count } }

    /// The shape of a packed sample: the slot's shape for one slot, else the flat element count.
    public var packedShape: [Int] { slots.count == 1 ? slots[0].shape : [elementsPerSample] }

    public func slot(named name: String) -> Slot? { slots.first { $0.name == name } }

    /// The first (sample, input) whose integer slot holds a value that is not an integer below 2^24 in
    /// magnitude (such a value cannot come from checked data, only from a damaged message), or nil.
    public func firstInvalidInteger(in packed: [Float], rows: Int) -> (sample: Int, input: String)? {
        let limit = Float(Self.exactIntegerLimit)
        var offset = 0
        for slot in slots {
            defer { offset += slot.count }
            guard slot.isInteger else { continue }
            for i in 0..<rows {
                let start = i * elementsPerSample + offset
                for value in packed[start..<(start + slot.count)] where !(value.magnitude < limit && value.rounded() == value) {
                    return (i, slot.name)
                }
            }
        }
        return nil
    }

    /// Graph feeds for `rows` packed samples (`packed` holds rows × elementsPerSample values), each input
    /// repeated `tiles` times step-major (row k·rows + i is sample i), the layout of the path methods' batches.
    public func feeds(_ packed: [Float], rows: Int, tiles: Int = 1) -> [String: Value] {
        precondition(packed.count == rows * elementsPerSample, "packed samples do not match the inputs")
        var feeds = [String: Value]()
        var offset = 0
        for slot in slots {
            let n = slot.count
            var floats = [Float]()
            floats.reserveCapacity(rows * n * tiles)
            for i in 0..<rows {
                let start = i * elementsPerSample + offset
                floats.append(contentsOf: packed[start..<(start + n)])
            }
            let one = floats
            for _ in 1..<max(tiles, 1) { floats.append(contentsOf: one) }
            let shape = [rows * max(tiles, 1)] + slot.shape
            feeds[slot.name] = slot.isInteger
                ? .int(IntTensor(shape: shape, storage: floats.map { Int64($0) }))
                : .float(Tensor(shape: shape, storage: floats))
            offset += n
        }
        return feeds
    }
}
