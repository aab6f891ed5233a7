import Foundation

/// Size checks for tensors whose shape comes from the model (ConstantOfShape, Pad, Reshape targets, Conv and
/// pooling outputs, Gemm/MatMul products, broadcasts): the shape is checked before anything is allocated, so
/// a model asking for 2^40 elements is a `GraphError` naming the operator, never a trap or an out-of-memory
/// kill.
///
/// Invariant of every checked shape: no negative dimension, and the product of its non-zero dimensions fits
/// in `Int` (so strides and sub-products of an empty shape such as [0, 2^40, 2^40] cannot overflow either).
public enum TensorLimits {
    /// The most elements one tensor may have: 2^31 (8 GiB of float32), above any layer activation ModScope
    /// batches (its batches are sized to a few hundred MiB).
    public static let maximumElementCount = 1 << 31
    /// Bytes per element used for the memory estimate (float32; INT64 tensors are small shape vectors).
    static let estimatedBytesPerElement = 4

    /// The element count of `shape` after the checks above, and against the machine's physical memory.
    /// - Parameter what: names the tensor in the error (`"ConstantOfShape output"`).
    public static func checkedElementCount(_ shape: [Int], what: String) throws -> Int {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw GraphError("\(what) would have shape \(shape), with a negative dimension")
        }
        var nonZero = 1
        for dimension in shape where dimension != 0 {
            let (product, overflow) = nonZero.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw GraphError("\(what) would have shape \(shape), too many elements to address")
            }
            nonZero = product
        }
        let count = shape.contains(0) ? 0 : nonZero
        guard count <= maximumElementCount else {
            throw GraphError(
                "\(what) would have shape \(shape) = \(count) elements, more than the limit of \(maximumElementCount) per tensor")
        }
        let memory = ProcessInfo.processInfo.physicalMemory
        guard UInt64(count) * UInt64(estimatedBytesPerElement) <= memory else {
            throw GraphError(
                "\(what) would have shape \(shape) = \(count * estimatedBytesPerElement) bytes, more than this machine's \(memory) bytes of memory")
        }
        return count
    }
}
