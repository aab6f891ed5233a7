import Testing
@testable import Attribution

/// Which elements a matrix column stands for, at each granularity and layer rank.
@Suite struct NeuronLayoutTests {
    /// A (T, D) = (3, 2) layer: channel keeps D and sums over T; unit keeps all six elements.
    @Test func sequenceChannelSumsOverPositions() {
        let layout = NeuronLayout.channel([3, 2])
        #expect(layout == NeuronLayout(outer: 3, kept: 2, inner: 1))
        #expect(layout.elements(of: 0) == [0, 2, 4])
        #expect(layout.elements(of: 1) == [1, 3, 5])
        // Two samples, values t·10 + d (+100 for the second sample).
        let values: [Float] = [0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121]
        #expect(layout.fold(values, rows: 2) == [30, 33, 330, 333])
        #expect(NeuronLayout.unit([3, 2]).fold(values, rows: 2) == values)
    }

    /// A (C, H, W) = (2, 2, 2) layer: channel sums each channel's H·W block.
    @Test func imageChannelSumsOverSpace() {
        let layout = NeuronLayout.channel([2, 2, 2])
        #expect(layout == NeuronLayout(outer: 1, kept: 2, inner: 4))
        #expect(layout.elements(of: 1) == [4, 5, 6, 7])
        #expect(layout.fold((0..<8).map(Float.init), rows: 1) == [6, 22])
    }

    /// The fold rounds once: a Float32 running sum of 1e8 + 1 − 1e8 + 1 gives 1 (1e8 + 1 rounds to 1e8).
    @Test func foldAccumulatesInDoublePrecision() {
        let values: [Float] = [1e8, 1, -1e8, 1]
        #expect(NeuronLayout(outer: 1, kept: 1, inner: 4).fold(values, rows: 1) == [2])
    }

    @Test func matchingTellsUnitFromChannelByColumnCount() {
        #expect(NeuronLayout.matching(columns: 6, layerShape: [3, 2]) == .unit([3, 2]))
        #expect(NeuronLayout.matching(columns: 2, layerShape: [3, 2]) == .channel([3, 2]))
        #expect(NeuronLayout.matching(columns: 5, layerShape: [3, 2]) == nil)
        #expect(NeuronLayout.channel([7]) == .unit([7]))
    }

    /// Ablating a (T, D) channel column sets that feature at every position, in every row, to the reference.
    @Test func replacingASequenceChannelCoversEveryPosition() {
        let layout = NeuronLayout.channel([3, 2])
        var values: [Float] = Array(repeating: 5, count: 12)
        layout.replace([1], in: &values, rows: 2, from: [0, -1, 0, -2, 0, -3])
        #expect(values == [5, -1, 5, -2, 5, -3, 5, -1, 5, -2, 5, -3])
    }
}
