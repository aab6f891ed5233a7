import Foundation
import Synchronization

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
    /// A process-wide cap on one tensor's bytes below the machine's memory (nil = physical memory): set by a
    /// memory-limited caller such as the fuzz targets, whose per-input time budget a legitimate 2^31-element
    /// tensor would exceed.
    private static let byteBudget = Mutex<UInt64?>(nil)

    /// The bytes one tensor may take: the cap set with `limitTensorBytes(to:)`, else the machine's memory.
    public static var tensorByteBudget: UInt64 {
        byteBudget.withLock { $0 } ?? ProcessInfo.processInfo.physicalMemory
    }

    /// Caps every later tensor at `bytes` (nil restores the machine's memory as the cap).
    public static func limitTensorBytes(to bytes: UInt64?) { byteBudget.withLock { $0 = bytes } }

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
        let memory = tensorByteBudget
        guard UInt64(count) * UInt64(estimatedBytesPerElement) <= memory else {
            throw GraphError(
                "\(what) would have shape \(shape) = \(count * estimatedBytesPerElement) bytes, more than the \(memory) bytes one tensor may take on this machine")
        }
        return count
    }
}
