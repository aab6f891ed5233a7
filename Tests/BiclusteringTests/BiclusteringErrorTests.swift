import Testing
@testable import Biclustering

@Suite struct BiclusteringErrorTests {
    @Test func descriptionIsTheMessage() {
        #expect(BiclusteringError("what went wrong").description == "what went wrong")
    }
}
