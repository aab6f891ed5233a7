import Autodiff
import Foundation
import Testing
import TensorCore
@testable import ONNX

/// Forward values against onnxruntime and gradients against torch autograd, for every exporter flavour.
@Suite struct ReferenceParityTests {
    static let fixtures = try! EngineFixtures.load()
    static let modelNames = fixtures.models.map(\.name)

    @Test(arguments: modelNames)
    func forwardAndGradientsMatchReferences(name: String) throws {
        let fixture = try #require(Self.fixtures.models.first { $0.name == name })
        let model = try ONNXModel.load(path: EngineFixtures.path(fixture.file))
        for testCase in fixture.cases {
            let input = try EngineFixtures.tensor(testCase.input)
            #expect(input.shape[0] == testCase.batch)
            let plan = try model.plan(targets: [fixture.output] + Array(testCase.tensors.keys))
            let execution = try plan.forward(feeds: [fixture.input: .float(input)])
            for (tensorName, file) in testCase.tensors {
                let reference = try EngineFixtures.tensor(file)
                var ours = try execution.tensor(tensorName)
                // The fixture script stores 0-d scalars as shape (1,).
                if ours.shape == [] && reference.shape == [1] { ours = ours.reshaped([1]) }
                #expect(ours.shape == reference.shape, "\(name) b\(testCase.batch) \(tensorName): shape")
                guard ours.shape == reference.shape else { continue }
                let error = normalizedError(ours, reference)
                #expect(error <= 1e-5, "\(name) b\(testCase.batch) forward \(tensorName): error \(error)")
            }
            let seed = try EngineFixtures.tensor(testCase.seed)
            let wrt = Array(testCase.gradients.keys)
            let gradients = try execution.gradients(seeds: [fixture.output: seed], withRespectTo: wrt)
            for (tensorName, file) in testCase.gradients {
                let reference = try EngineFixtures.tensor(file)
                let ours = try #require(gradients[tensorName])
                let error = normalizedError(ours, reference)
                #expect(error <= 1e-4, "\(name) b\(testCase.batch) gradient \(tensorName): error \(error)")
            }
        }
    }
}
