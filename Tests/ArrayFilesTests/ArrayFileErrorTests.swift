import Testing
@testable import ArrayFiles

@Suite struct ArrayFileErrorTests {
    @Test func descriptionIsTheMessage() {
        #expect(ArrayFileError("what went wrong").description == "what went wrong")
    }
}
