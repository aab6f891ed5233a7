import Autodiff
import Foundation
import Testing
import TensorCore
@testable import ONNX

/// The shape, index, reduction and kernel operators against onnxruntime: one tiny model per op and attribute
/// variant, made by scripts/make_shape_op_fixtures.py (Fixtures/ops/manifest.json holds inputs and outputs).
/// Float outputs must agree to 1e-5 of their largest magnitude, integer outputs exactly.
@Suite struct ShapeOperatorParityTests {
    struct Array: Decodable {
        var dtype: String
        var shape: [Int]
        var data: [Double]

        var value: Value {
            dtype == "int64"
                ? .int(IntTensor(shape: shape, storage: data.map { Int64($0) }))
                : .float(Tensor(shape: shape, storage: data.map { Float($0) }))
        }
    }

    struct Run: Decodable {
        var inputs: [String: Array]
        var outputs: [String: Array]
    }

    struct Case: Decodable, CustomTestStringConvertible {
        var name: String
        var file: String
        var runs: [Run]
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        let url = EngineFixtures.folder.appendingPathComponent("ops/manifest.json")
        struct Manifest: Decodable { var cases: [Case] }
        return (try? JSONDecoder().decode(Manifest.self, from: Data(contentsOf: url)).cases) ?? []
    }()

    @Test func theManifestIsPresent() {
        #expect(Self.cases.count >= 60)
    }

    @Test(arguments: cases)
    func matchesOnnxRuntime(_ fixture: Case) throws {
        let model = try ONNXModel.load(path: EngineFixtures.path(fixture.file))
        for run in fixture.runs {
            let names = run.outputs.keys.sorted()
            let execution = try model.plan(targets: names).forward(feeds: run.inputs.mapValues(\.value))
            for name in names {
                let expected = run.outputs[name]!.value
                let actual = try #require(execution.values[name], "\(fixture.name): no value for \(name)")
                #expect(actual.shape == expected.shape, "\(fixture.name) \(name)")
                switch (actual, expected) {
                case (.float(let a), .float(let e)) where a.shape == e.shape:
                    #expect(normalizedError(a, e) <= 1e-5, "\(fixture.name) \(name): error \(normalizedError(a, e))")
                case (.int(let a), .int(let e)):
                    #expect(a == e, "\(fixture.name) \(name)")
                default:
                    Issue.record("\(fixture.name) \(name): \(actual) vs \(expected)")
                }
            }
        }
    }
}
