import Testing
import TensorCore
@testable import Autodiff

@Suite struct ValueTests {
    @Test func shapeOfEachCase() {
        #expect(Value.float(Tensor(zeros: [2, 3])).shape == [2, 3])
        #expect(Value.int(IntTensor([1, 2])).shape == [2])
    }
}
