import Foundation
import TensorCore
import Autodiff

/// libFuzzer entry: the ONNX loader on untrusted model bytes (protobuf decoding, validation, initializer
/// decoding, operator construction), then a plan for the default output and, for a small fixed-size float
/// input, one forward pass on zeros.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    // A valid model may broadcast to 2^31 elements; under ASan at -Onone that alone outlasts the 2 s per-input
    // limit, so the fuzzer caps tensors at 4 MiB (a larger shape must still be refused cleanly, never trap).
    TensorLimits.limitTensorBytes(to: 4 << 20)
    guard let model = try? ONNXModel.load(data: bytes), let output = try? model.defaultOutput(),
        let plan = try? model.plan(targets: [output]), let input = try? model.input
    else { return 0 }
    let sample = input.dimensions.dropFirst().map { $0 ?? 0 }
    guard sample.allSatisfy({ $0 > 0 }), sample.reduce(1, { $0 * min($1, 1 << 12) }) <= 1 << 12 else { return 0 }
    _ = try? plan.forward(feeds: [input.name: .float(Tensor(zeros: [1] + sample))])
    return 0
}
