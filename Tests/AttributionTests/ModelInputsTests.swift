import Testing
@testable import Attribution
@testable import Autodiff

/// Packing several graph inputs into one float row per sample, and back into graph feeds.
@Suite struct ModelInputsTests {
    let inputs = ModelInputs(slots: [
        .init(name: "ids", shape: [3], isInteger: true), .init(name: "x", shape: [2], isInteger: false),
    ])

    @Test func feedsUnpackEachInputAndTileStepMajor() throws {
        let packed: [Float] = [1, 2, 3, 0.5, 0.25, 4, 5, 6, -1, -2]  // two samples
        let feeds = inputs.feeds(packed, rows: 2, tiles: 2)
        guard case .int(let ids)? = feeds["ids"], case .float(let x)? = feeds["x"] else {
            Issue.record("wrong feed types")
            return
        }
        #expect(ids.shape == [4, 3])
        #expect(ids.storage == [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6])
        #expect(x.shape == [4, 2])
        #expect(x.storage == [0.5, 0.25, -1, -2, 0.5, 0.25, -1, -2])
    }

    @Test func integerSlotsRefuseValuesThatAreNotSmallIntegers() {
        #expect(inputs.firstInvalidInteger(in: [1, 2, 3, 0.5, 0.25], rows: 1) == nil)
        for bad: Float in [1.5, 1e30, .nan, .infinity, 16_777_216] {
            let found = inputs.firstInvalidInteger(in: [1, 2, 3, 0, 0, 7, bad, 9, 0, 0], rows: 2)
            #expect(found?.sample == 1 && found?.input == "ids", "\(bad)")
        }
        // Float slots may hold anything finite or not (checked elsewhere).
        #expect(inputs.firstInvalidInteger(in: [1, 2, 3, 1.5, 1e30], rows: 1) == nil)
    }
}
