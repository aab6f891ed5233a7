import Testing
@testable import BatchRuntime

@Suite struct RuntimeErrorTests {
    @Test func descriptionIsTheMessage() {
        #expect(RuntimeError("what went wrong").description == "what went wrong")
    }
}
