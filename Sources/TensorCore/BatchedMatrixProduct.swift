/// Batched matrix products with NumPy batch broadcasting, one `cblas_sgemm` per batch slice (or a single GEMM
/// for the whole batch where the layout allows it). No operand is materialised at its broadcast size.
///
/// Operands are `[batch…, rows, columns]` tensors; `op(A)` is m×k, `op(B)` is k×n. The full batch shape is the
/// broadcast of both operands' batch shapes. The output batch shape may be smaller than the full one (each of
/// its dimensions equals the full one or is 1, aligned at the trailing end): then the slices that map onto one
/// output slice are summed — the adjoint of broadcasting, which the MatMul and Einsum VJPs need. Slices are
/// visited in row-major order of the full batch, so the sum order (and every bit of the result) is fixed.
public enum BatchedMatrixProduct {
    /// The sizes of one product: `op(A)` is m×k and `op(B)` is k×n.
    public struct Dimensions: Sendable, Equatable {
        public var m: Int, k: Int, n: Int
    }

    /// m, k, n of `op(A)·op(B)`, or nil when the inner dimensions differ or an operand has rank < 2.
    public static func dimensions(_ a: [Int], transposeA: Bool, _ b: [Int], transposeB: Bool) -> Dimensions? {
        guard a.count >= 2, b.count >= 2 else { return nil }
        let (ar, ac) = (a[a.count - 2], a[a.count - 1]), (br, bc) = (b[b.count - 2], b[b.count - 1])
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (kb, n) = transposeB ? (bc, br) : (br, bc)
        return k == kb ? Dimensions(m: m, k: k, n: n) : nil
    }

    /// `C[batch] = Σ op(A[batch]) · op(B[batch])` with broadcast batches, C of shape `outputBatch + [m, n]`
    /// (`outputBatch` defaults to the full broadcast batch).
    /// - Precondition: inner dimensions agree, batch shapes broadcast, `outputBatch` reduces the full batch.
    public static func product(
        _ a: Tensor, transposeA: Bool = false, _ b: Tensor, transposeB: Bool = false, outputBatch: [Int]? = nil
    ) -> Tensor {
        guard let d = dimensions(a.shape, transposeA: transposeA, b.shape, transposeB: transposeB) else {
            preconditionFailure("batched product: \(a.shape) × \(b.shape) do not multiply")
        }
        let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        guard let full = Broadcasting.shape(aBatch, bBatch) else {
            preconditionFailure("batched product: batch shapes \(aBatch) and \(bBatch) do not broadcast")
        }
        let cBatch = outputBatch ?? full
        precondition(Broadcasting.shape(cBatch, full) == full, "batched product: \(cBatch) does not reduce \(full)")
        var c = [Float](repeating: 0, count: cBatch.reduce(1, *) * d.m * d.n)
        let (lda, ldb) = (a.shape[a.shape.count - 1], b.shape[b.shape.count - 1])
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    let (ap, bp, cp) = (pa.baseAddress!, pb.baseAddress!, pc.baseAddress!)
                    let batches = full.reduce(1, *)
                    let aCount = aBatch.reduce(1, *), bCount = bBatch.reduce(1, *), cCount = cBatch.reduce(1, *)
                    if !transposeA && bCount == 1 && aCount == batches && cCount == batches {
                        // B is shared and A's slices are contiguous rows: one GEMM with batches·m rows.
                        BLAS.gemm(
                            transposeA: false, transposeB: transposeB, m: batches * d.m, n: d.n, k: d.k,
                            a: ap, lda: lda, b: bp, ldb: ldb, c: cp, ldc: d.n)
                        return
                    }
                    if transposeA && !transposeB && aCount == batches && bCount == batches && cCount == 1 {
                        // Σ_b A_bᵀ·B_b = [A_1; …; A_B]ᵀ·[B_1; …; B_B]: one GEMM with batches·k inner terms.
                        BLAS.gemm(
                            transposeA: true, transposeB: false, m: d.m, n: d.n, k: batches * d.k,
                            a: ap, lda: lda, b: bp, ldb: ldb, c: cp, ldc: d.n)
                        return
                    }
                    let aStride = d.m * d.k, bStride = d.k * d.n, cStride = d.m * d.n
                    let offsets = batchOffsets(full: full, operands: [aBatch, bBatch, cBatch])
                    for slice in 0..<batches {
                        let (ia, ib, ic) = (offsets[0][slice], offsets[1][slice], offsets[2][slice])
                        BLAS.gemm(
                            transposeA: transposeA, transposeB: transposeB, m: d.m, n: d.n, k: d.k,
                            a: ap + ia * aStride, lda: lda, b: bp + ib * bStride, ldb: ldb,
                            beta: 1, c: cp + ic * cStride, ldc: d.n)
                    }
                }
            }
        }
        return Tensor(shape: cBatch + [d.m, d.n], storage: c)
    }

    /// For each slice of the full batch (row-major), the slice index within each operand's batch.
    static func batchOffsets(full: [Int], operands: [[Int]]) -> [[Int]] {
        operands.map { Broadcasting.offsets(outShape: full, strides: Broadcasting.stridesBroadcast($0, to: full)) }
    }
}
