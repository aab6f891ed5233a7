import Testing
@testable import ZeroMQTransport

@Suite struct ZeroMQErrorTests {
    @Test func descriptionNamesTheOperation() {
        #expect(ZeroMQError("zmq_bind", code: 98).description.hasPrefix("zmq_bind failed: "))
    }
}
