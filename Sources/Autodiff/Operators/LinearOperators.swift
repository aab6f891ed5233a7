import TensorCore

/// ONNX Gemm: `Y = α·op(A)·op(B) + β·C`, C broadcast one way to (M, N). One cblas_sgemm per call.
/// VJP: with A′ = op(A), B′ = op(B): dA′ = α·g·B′ᵀ, dB′ = α·A′ᵀ·g (transposed back when trans* = 1), dC = β·unb(g).
public struct GemmOperator: Operator {
    public var defaultTraits: OperatorTraits { .linear }
    public var alpha: Float, beta: Float, transposeA: Bool, transposeB: Bool
    public init(alpha: Float = 1, beta: Float = 1, transposeA: Bool = false, transposeB: Bool = false) {
        self.alpha = alpha
        self.beta = beta
        self.transposeA = transposeA
        self.transposeB = transposeB
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let a = try inputs.float(0), b = try inputs.float(1)
        guard a.rank == 2, b.rank == 2 else { throw GraphError("Gemm needs 2-D A and B, got \(a.shape) and \(b.shape)") }
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (kb, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k == kb else { throw GraphError("Gemm inner dimensions differ: A is \(a.shape), B is \(b.shape)") }
        _ = try TensorLimits.checkedElementCount([m, n], what: "Gemm output")
        var y: Tensor
        var blasBeta: Float = 0
        if let c = try inputs.optionalFloat(2), beta != 0 {
            guard Broadcasting.shape(c.shape, [m, n]) == [m, n] else {
                throw GraphError("Gemm C of shape \(c.shape) does not broadcast to \([m, n])")
            }
            y = c.broadcast(to: [m, n])
            if beta != 1 { y = y.map { $0 * beta } }
            blasBeta = 1
        } else {
            y = Tensor(zeros: [m, n])
        }
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                y.storage.withUnsafeMutableBufferPointer { py in
                    BLAS.gemm(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                        a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                        beta: blasBeta, c: py.baseAddress!, ldc: n)
                }
            }
        }
        return [.float(y)]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let a = try context.floatInput(0), b = try context.floatInput(1)
        let g = try context.outputGradient()
        let (m, n) = (g.shape[0], g.shape[1])
        let k = transposeA ? a.shape[0] : a.shape[1]
        var result: [Tensor?] = [nil, nil, nil]
        if context.needsGradient[0] {
            var da = Tensor(zeros: a.shape)
            g.storage.withUnsafeBufferPointer { pg in
                b.storage.withUnsafeBufferPointer { pb in
                    da.storage.withUnsafeMutableBufferPointer { pd in
                        if !transposeA {  // dA (m×k) = α g · op(B)ᵀ
                            BLAS.gemm(
                                transposeA: false, transposeB: !transposeB, m: m, n: k, k: n, alpha: alpha,
                                a: pg.baseAddress!, lda: n, b: pb.baseAddress!, ldb: b.shape[1],
                                c: pd.baseAddress!, ldc: k)
                        } else {  // dA (k×m) = α op(B) · gᵀ
                            BLAS.gemm(
                                transposeA: transposeB, transposeB: true, m: k, n: m, k: n, alpha: alpha,
                                a: pb.baseAddress!, lda: b.shape[1], b: pg.baseAddress!, ldb: n,
                                c: pd.baseAddress!, ldc: m)
                        }
                    }
                }
            }
            result[0] = da
        }
        if context.needsGradient[1] {
            var db = Tensor(zeros: b.shape)
            g.storage.withUnsafeBufferPointer { pg in
                a.storage.withUnsafeBufferPointer { pa in
                    db.storage.withUnsafeMutableBufferPointer { pd in
                        if !transposeB {  // dB (k×n) = α op(A)ᵀ · g
                            BLAS.gemm(
                                transposeA: !transposeA, transposeB: false, m: k, n: n, k: m, alpha: alpha,
                                a: pa.baseAddress!, lda: a.shape[1], b: pg.baseAddress!, ldb: n,
                                c: pd.baseAddress!, ldc: n)
                        } else {  // dB (n×k) = α gᵀ · op(A)
                            BLAS.gemm(
                                transposeA: true, transposeB: transposeA, m: n, n: k, k: m, alpha: alpha,
                                a: pg.baseAddress!, lda: n, b: pa.baseAddress!, ldb: a.shape[1],
                                c: pd.baseAddress!, ldc: k)
                        }
                    }
                }
            }
            result[1] = db
        }
        if context.needsGradient.count > 2, context.needsGradient[2], let c = try context.inputs.optionalFloat(2) {
            let reduced = Broadcasting.reduceSum(g, toShape: c.shape)
            result[2] = beta == 1 ? reduced : reduced.map { $0 * beta }
        }
        return result
    }
}

/// ONNX MatMul with NumPy semantics: 1-D operands are promoted (and the added axis removed), batch dimensions
/// broadcast — (B, H, T, D)×(B, H, D, T), (B, T, D)×(D, E), (T, D)×(B, D, E) — through
/// `BatchedMatrixProduct`: one GEMM per batch slice without materialising broadcast operands, or a single GEMM
/// when B (forward, dA) or the reduced output (dB of a shared B) lets the batch fold into rows.
/// VJP: dA = Σ_broadcast g·Bᵀ, dB = Σ_broadcast Aᵀ·g.
public struct MatMulOperator: Operator {
    public var defaultTraits: OperatorTraits { .bilinear }
    public init() {}

    struct Layout {
        var aShape: [Int], bShape: [Int]  // promoted to ≥ 2-D
        var batch: [Int]
        var m: Int, k: Int, n: Int
        var outShape: [Int]  // with promoted axes removed
    }

    static func layout(_ a: [Int], _ b: [Int]) throws -> Layout {
        guard !a.isEmpty, !b.isEmpty else { throw GraphError("MatMul operands must have rank ≥ 1") }
        let pa = a.count == 1 ? [1, a[0]] : a
        let pb = b.count == 1 ? [b[0], 1] : b
        let (m, k) = (pa[pa.count - 2], pa[pa.count - 1])
        let (kb, n) = (pb[pb.count - 2], pb[pb.count - 1])
        guard k == kb else { throw GraphError("MatMul inner dimensions differ: \(a) × \(b)") }
        guard let batch = Broadcasting.shape(Array(pa.dropLast(2)), Array(pb.dropLast(2))) else {
            throw GraphError("MatMul batch dimensions do not broadcast: \(a) × \(b)")
        }
        var out = batch
        if a.count > 1 { out.append(m) }
        if b.count > 1 { out.append(n) }
        _ = try TensorLimits.checkedElementCount(batch + [m, n], what: "MatMul output")
        return Layout(aShape: pa, bShape: pb, batch: batch, m: m, k: k, n: n, outShape: out)
    }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        let a = try inputs.float(0), b = try inputs.float(1)
        let l = try MatMulOperator.layout(a.shape, b.shape)
        let c = BatchedMatrixProduct.product(a.reshaped(l.aShape), b.reshaped(l.bShape))
        return [.float(c.reshaped(l.outShape))]
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let a = try context.floatInput(0), b = try context.floatInput(1)
        let l = try MatMulOperator.layout(a.shape, b.shape)
        let g = try context.outputGradient().reshaped(l.batch + [l.m, l.n])
        var result: [Tensor?] = [nil, nil]
        if context.needsGradient[0] {
            let da = BatchedMatrixProduct.product(g, b.reshaped(l.bShape), transposeB: true, outputBatch: Array(l.aShape.dropLast(2)))
            result[0] = da.reshaped(a.shape)
        }
        if context.needsGradient[1] {
            let db = BatchedMatrixProduct.product(a.reshaped(l.aShape), transposeA: true, g, outputBatch: Array(l.bShape.dropLast(2)))
            result[1] = db.reshaped(b.shape)
        }
        return result
    }
}

/// ONNX Add, Sub, Mul, Div with multidirectional broadcasting (also on INT64 shape arithmetic).
/// VJP: Add/Sub dA = unb(g), dB = ±unb(g); Mul dA = unb(g·B), dB = unb(g·A); Div dA = unb(g/B), dB = unb(−g·A/B²).
public struct BinaryOperator: Operator {
    public var defaultTraits: OperatorTraits { operation == .multiply ? .bilinear : .linear }
    public var operation: BinaryOperation
    public init(_ operation: BinaryOperation) { self.operation = operation }

    public func forward(_ inputs: [Value?]) throws -> [Value] {
        if case .int(let a)? = inputs[0], case .int(let b)? = inputs[1] {
            return [.int(try integerForward(a, b))]
        }
        let a = try inputs.float(0), b = try inputs.float(1)
        if let shape = Broadcasting.shape(a.shape, b.shape) {
            _ = try TensorLimits.checkedElementCount(shape, what: "broadcast output")
        }
        guard let y = Tensor.elementwise(a, b, operation) else {
            throw GraphError("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        return [.float(y)]
    }

    private func integerForward(_ a: IntTensor, _ b: IntTensor) throws -> IntTensor {
        guard let shape = Broadcasting.shape(a.shape, b.shape) else {
            throw GraphError("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        // INT64 tensors here are shape vectors: broadcast their element positions (exact in Float below 2^24),
        // never the values themselves, which may be any Int64.
        guard try TensorLimits.checkedElementCount(shape, what: "INT64 broadcast output") < 1 << 24 else {
            throw GraphError("INT64 arithmetic on \(shape) is too large; integer tensors must be shape vectors")
        }
        func broadcastValues(_ t: IntTensor) -> [Int64] {
            Tensor(shape: t.shape, storage: (0..<t.count).map(Float.init)).broadcast(to: shape).storage.map { t.storage[Int($0)] }
        }
        let values: [Int64] = try zip(broadcastValues(a), broadcastValues(b)).map { i, j in
            let result: (partialValue: Int64, overflow: Bool)
            switch operation {
            case .add: result = i.addingReportingOverflow(j)
            case .subtract: result = i.subtractingReportingOverflow(j)
            case .multiply: result = i.multipliedReportingOverflow(by: j)
            case .divide: result = j == 0 ? (0, false) : i.dividedReportingOverflow(by: j)
            }
            guard !result.overflow else { throw GraphError("INT64 \(operation) of \(i) and \(j) overflows") }
            return result.partialValue
        }
        return IntTensor(shape: shape, storage: values)
    }

    public func backward(_ context: BackwardContext) throws -> [Tensor?] {
        let a = try context.floatInput(0), b = try context.floatInput(1)
        let g = try context.outputGradient()
        var result: [Tensor?] = [nil, nil]
        switch operation {
        case .add, .subtract:
            if context.needsGradient[0] { result[0] = Broadcasting.reduceSum(g, toShape: a.shape) }
            if context.needsGradient[1] {
                let reduced = Broadcasting.reduceSum(g, toShape: b.shape)
                result[1] = operation == .add ? reduced : reduced.map { -$0 }
            }
        case .multiply:
            if context.needsGradient[0] { result[0] = Broadcasting.reduceSum(Tensor.elementwise(g, b, .multiply)!, toShape: a.shape) }
            if context.needsGradient[1] { result[1] = Broadcasting.reduceSum(Tensor.elementwise(g, a, .multiply)!, toShape: b.shape) }
        case .divide:
            if context.needsGradient[0] { result[0] = Broadcasting.reduceSum(Tensor.elementwise(g, b, .divide)!, toShape: a.shape) }
            if context.needsGradient[1] {
                let y = try context.floatOutput(0)  // y = a / b, so −g·a/b² = −g·y/b
                let term = Tensor.elementwise(Tensor.elementwise(g, y, .multiply)!, b, .divide)!.map { -$0 }
                result[1] = Broadcasting.reduceSum(term, toShape: b.shape)
            }
        }
        return result
    }
}
