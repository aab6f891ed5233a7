import ArrayFiles
import Attribution
import Biclustering
import Foundation
import SwiftProtobuf
import Testing
@testable import ModScope
@testable import ONNX

/// A network built so that a known neuron group serves a known class: the pipeline must find that group as a
/// module of that class's samples, and silencing it must hurt those samples far more than random groups.
@Suite struct AblationTests {
    /// x (N, 4) → Gemm(16) → Relu → Gemm(2). Hidden 0–3 read x0 + x1 and feed logit 0 (class 0); hidden 4–7
    /// read x2 + x3 and feed logit 1; hidden 8–15 read everything but feed nothing.
    static func model() throws -> Data {
        var w1 = [Float](repeating: 0, count: 16 * 4), w2 = [Float](repeating: 0, count: 2 * 16)
        let gains: [Float] = [1.0, 0.9, 1.1, 0.8]
        for unit in 0..<4 {
            w1[unit * 4 + 0] = gains[unit]; w1[unit * 4 + 1] = gains[unit]
            w1[(unit + 4) * 4 + 2] = gains[unit]; w1[(unit + 4) * 4 + 3] = gains[unit]
            w2[0 * 16 + unit] = 1; w2[1 * 16 + unit + 4] = 1
        }
        for unit in 8..<16 { for input in 0..<4 { w1[unit * 4 + input] = 0.3 } }
        func tensor(_ name: String, _ dims: [Int64], _ values: [Float]) -> Onnx_TensorProto {
            var t = Onnx_TensorProto()
            t.name = name
            t.dims = dims
            t.dataType = 1
            t.floatData = values
            return t
        }
        func node(_ op: String, _ inputs: [String], _ output: String, transB: Bool = false) -> Onnx_NodeProto {
            var n = Onnx_NodeProto()
            n.opType = op
            n.name = output + "_node"
            n.input = inputs
            n.output = [output]
            if transB {
                var a = Onnx_AttributeProto()
                a.name = "transB"
                a.type = .int
                a.i = 1
                n.attribute = [a]
            }
            return n
        }
        func valueInfo(_ name: String, _ width: Int64) -> Onnx_ValueInfoProto {
            var v = Onnx_ValueInfoProto()
            v.name = name
            var type = Onnx_TypeProto.Tensor()
            type.elemType = 1
            var batch = Onnx_TensorShapeProto.Dimension()
            batch.dimParam = "N"
            var features = Onnx_TensorShapeProto.Dimension()
            features.dimValue = width
            type.shape.dim = [batch, features]
            v.type.tensorType = type
            return v
        }
        var model = Onnx_ModelProto()
        model.irVersion = 8
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 17
        model.opsetImport = [opset]
        model.graph.name = "two_modules"
        model.graph.node = [
            node("Gemm", ["x", "w1", "b1"], "hidden", transB: true), node("Relu", ["hidden"], "relu"),
            node("Gemm", ["relu", "w2", "b2"], "logits", transB: true),
        ]
        model.graph.initializer = [
            tensor("w1", [16, 4], w1), tensor("b1", [16], .init(repeating: 0, count: 16)),
            tensor("w2", [2, 16], w2), tensor("b2", [2], [0, 0]),
        ]
        model.graph.input = [valueInfo("x", 4)]
        model.graph.output = [valueInfo("logits", 2)]
        return try model.serializedData()
    }

    @Test func theModuleServingAClassIsFoundAndAblatingItHurtsThatClassMost() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-ablation-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let modelPath = folder.appendingPathComponent("model.onnx").path
        try Self.model().write(to: URL(fileURLWithPath: modelPath))
        // 48 samples per class; class 0 lights inputs 0–1, class 1 inputs 2–3.
        var generator = SplitMix(seed: 11)
        var values = [Float](), labels = [Int32]()
        for index in 0..<96 {
            let label = index % 2
            for input in 0..<4 {
                let on = (input < 2) == (label == 0)
                values.append((on ? 1 : 0) + Float(generator.next() % 1000) / 5000)
            }
            labels.append(Int32(label))
        }
        let dataPath = folder.appendingPathComponent("data.npy").path, labelsPath = folder.appendingPathComponent("labels.npy").path
        try NPYWriter.write(values, shape: [96, 4], to: dataPath)
        try NPYWriter.write(labels, shape: [96], to: labelsPath)

        let request = AttributionRequest(
            modelPath: modelPath, dataPath: dataPath, labelsPath: labelsPath, layer: "relu",
            configuration: AttributionConfiguration(method: .conductance))
        let matrixPath = folder.appendingPathComponent("matrix.npy").path
        var runner = AttributeCommandRunner(request: request, outputPath: matrixPath, deltaPath: nil, batchSize: 64, threads: 1, quiet: true)
        let spec = try runner.run()
        var settings = AnalysisSettings()
        settings.k = "2"
        settings.restarts = 5
        let matrix = try MappedNPYFile(path: matrixPath)
        let result = try Biclusterer(config: settings.biclusterConfig()).fit(matrix.view)
        let (_, model, table, readLabels) = try request.prepare()
        let evaluation = try ModuleEvaluator(spec: spec, model: model, table: table, labels: readLabels, imageShape: nil)
            .evaluate(result: ModuleAssignment(result))

        let classZero = try #require(evaluation.modules.first { $0.labels?.majority == 0 })
        #expect(classZero.neurons == [0, 1, 2, 3])
        #expect(classZero.labels?.purity == 1)
        #expect(classZero.samples == Array(stride(from: 0, to: 96, by: 2)))
        let ablation = try #require(classZero.ablation)
        // Own samples lose their whole logit; the other class loses nothing; random groups of 4 of the 16
        // neurons hit the class-0 group only partly.
        #expect(ablation.own.outputDrop > 3)
        #expect(abs(ablation.others.outputDrop) < 1e-4)
        #expect(ablation.own.outputDrop > 3 * ablation.random.outputDropMean)
        #expect(ablation.own.accuracyDrop == 1)
        #expect(evaluation.labelNMI! > 0.99)
        // What drives the class-0 module: its summed activation is 3.8·(x0 + x1) (gains 1.0 + 0.9 + 1.1 + 0.8, all
        // units active), so gradient × input, averaged over its samples, is 3.8·mean(x0), 3.8·mean(x1), 0, 0.
        let map = try #require(classZero.meanInputAttribution)
        let own = classZero.samples
        for feature in 0..<4 {
            let expected = feature < 2 ? 3.8 * own.map { Double(values[$0 * 4 + feature]) }.reduce(0, +) / Double(own.count) : 0
            #expect(abs(Double(map[feature]) - expected) < 1e-5 * max(1, abs(expected)), "feature \(feature): \(map[feature]) vs \(expected)")
        }
    }
}
