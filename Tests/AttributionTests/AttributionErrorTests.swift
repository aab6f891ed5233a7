import Testing
@testable import Attribution

@Suite struct AttributionErrorTests {
    @Test func descriptionIsTheMessage() {
        #expect(AttributionError("what went wrong").description == "what went wrong")
    }
}
