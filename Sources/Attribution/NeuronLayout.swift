/// Which elements of a per-sample layer tensor one matrix column (a "neuron") stands for.
///
/// Column k covers the elements (o·kept + k)·inner + i for o in 0..<outer, i in 0..<inner (row-major, batch
/// excluded). `unit` granularity is (1, count, 1): one element per column. `channel` granularity keeps the
/// leading axis of a (C, H, W, …) layer and sums over the rest (outer 1, inner H·W·…), and for a (T, D) sequence
/// layer keeps D and sums over the T positions (outer T, inner 1). A rank-1 layer is unit either way.
public struct NeuronLayout: Sendable, Equatable {
    public var outer: Int, kept: Int, inner: Int

    public init(outer: Int, kept: Int, inner: Int) { (self.outer, self.kept, self.inner) = (outer, kept, inner) }

    /// One column per element.
    public static func unit(_ layerShape: [Int]) -> NeuronLayout {
        NeuronLayout(outer: 1, kept: layerShape.reduce(1, *), inner: 1)
    }

    /// One column per channel (see the type's comment).
    public static func channel(_ layerShape: [Int]) -> NeuronLayout {
        switch layerShape.count {
        case 0: return NeuronLayout(outer: 1, kept: 1, inner: 1)
        case 1: return NeuronLayout(outer: 1, kept: layerShape[0], inner: 1)
        case 2: return NeuronLayout(outer: layerShape[0], kept: layerShape[1], inner: 1)
        default: return NeuronLayout(outer: 1, kept: layerShape[0], inner: layerShape.dropFirst().reduce(1, *))
        }
    }

    /// The layout whose column count is `columns`: unit when it equals the layer's size, else channel.
    /// Nil when neither matches (a matrix that does not belong to this layer).
    public static func matching(columns: Int, layerShape: [Int]) -> NeuronLayout? {
        if columns == layerShape.reduce(1, *) { return unit(layerShape) }
        let channel = channel(layerShape)
        return channel.kept == columns ? channel : nil
    }

    /// Elements per sample.
    public var count: Int { outer * kept * inner }

    /// The per-sample element offsets column `neuron` covers.
    public func elements(of neuron: Int) -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(outer * inner)
        for o in 0..<outer {
            let base = (o * kept + neuron) * inner
            for i in 0..<inner { result.append(base + i) }
        }
        return result
    }

    /// Sums each sample's elements into its columns: `rows` samples of `count` values → rows × kept.
    ///
    /// The sums are accumulated in Float64 and rounded once: a channel's elements often nearly cancel, and a
    /// Float32 running sum over H·W (or T) elements would add up to H·W roundings (torch's pairwise sum, the
    /// reference's, adds about log₂(H·W)).
    public func fold(_ values: [Float], rows: Int) -> [Float] {
        var result = [Double](repeating: 0, count: rows * kept)
        for n in 0..<rows {
            for o in 0..<outer {
                for k in 0..<kept {
                    let base = n * count + (o * kept + k) * inner
                    var sum: Double = 0
                    for p in 0..<inner { sum += Double(values[base + p]) }
                    result[n * kept + k] += sum
                }
            }
        }
        return result.map { Float($0) }
    }

    /// Sets `neurons`' elements of each of `rows` samples in `values` to their value in `reference` (one
    /// sample): the ablation of those columns.
    public func replace(_ neurons: [Int], in values: inout [Float], rows: Int, from reference: [Float]) {
        let offsets = neurons.flatMap(elements(of:))
        for r in 0..<rows {
            for e in offsets { values[r * count + e] = reference[e] }
        }
    }
}
