import Testing
@testable import TensorCore

@Suite struct TensorTests {
    @Test func stridesAreRowMajor() {
        #expect(Tensor.strides(of: [2, 3, 4]) == [12, 4, 1])
        #expect(Tensor.strides(of: []) == [])
    }

    @Test func rowsAndConcatenationRoundTrip() {
        let tensor = Tensor(shape: [3, 2], storage: [1, 2, 3, 4, 5, 6])
        let joined = Tensor.concatenateRows([tensor.rows(0..<1), tensor.rows(1..<3)])
        #expect(joined == tensor)
        #expect(tensor.rows(1..<2).storage == [3, 4])
    }

    @Test func gemmMatchesHandComputedProduct() {
        // [1 2; 3 4] · [5 6; 7 8]ᵀ = [17 23; 39 53]
        let a: [Float] = [1, 2, 3, 4]
        let b: [Float] = [5, 6, 7, 8]
        var c = [Float](repeating: -1, count: 4)
        BLAS.gemm(transposeA: false, transposeB: true, m: 2, n: 2, k: 2, a: a, lda: 2, b: b, ldb: 2, c: &c, ldc: 2)
        #expect(c == [17, 23, 39, 53])
    }
}
