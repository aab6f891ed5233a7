import Testing
@testable import ONNX

@Suite struct ONNXErrorTests {
    @Test func descriptionIsTheMessage() {
        #expect(ONNXError("bad model").description == "bad model")
    }
}
