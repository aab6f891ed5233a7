/// A matrix with k planted co-clusters, of the same form as sklearn's `make_biclusters(shape, k, noise,
/// minval=10, maxval=100)`: each row and each column joins one of k groups uniformly at random (multinomial
/// group sizes), block b = (rows of group b) × (columns of group b) holds a constant drawn from U(10, 100), the
/// rest is 0, and N(0, noise²) is added everywhere. Used by tests and benchmarks in place of a stored fixture.
public struct PlantedBiclusters: Sendable {
    public var values: [Float]
    public var rows: Int
    public var cols: Int
    public var rowLabels: [Int32]
    public var colLabels: [Int32]

    public init(rows: Int, cols: Int, clusters k: Int, noise: Double, minValue: Double = 10, maxValue: Double = 100,
                seed: UInt64) {
        precondition(k >= 1 && rows >= k && cols >= k)
        var rng = RandomSource(seed: seed, stream: 0x504C_414E)
        let constants = (0..<k).map { _ in minValue + (maxValue - minValue) * rng.uniform() }
        rowLabels = (0..<rows).map { _ in Int32(rng.next() % UInt64(k)) }
        colLabels = (0..<cols).map { _ in Int32(rng.next() % UInt64(k)) }
        var values = [Float](repeating: 0, count: rows * cols)
        for i in 0..<rows {
            for j in 0..<cols {
                var v = noise > 0 ? noise * rng.normal() : 0
                if rowLabels[i] == colLabels[j] { v += constants[Int(rowLabels[i])] }
                values[i * cols + j] = Float(v)
            }
        }
        self.values = values
        self.rows = rows
        self.cols = cols
    }

    /// The planted biclusters as a `BiclusterSet` (co-clustering layout).
    public var truth: BiclusterSet {
        BiclusterSet(coclusterRows: rowLabels, cols: colLabels, k: Int((rowLabels.max() ?? 0) + 1))
    }

    public var view: MatrixView { MatrixView(copying: values, rows: rows, cols: cols) }
}
