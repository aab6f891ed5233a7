import ArgumentParser
import Foundation
import ONNX

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model's inputs, outputs, nodes with shapes, attributable layers and unsupported operators.",
        discussion: """
            Every tensor marked * can be passed as --layer to `attribute`, `run` and `coordinator`. Shapes are for a \
            batch of one sample. Nodes behind an unsupported operator are listed with that operator; they only matter \
            if the output you explain depends on them.
            """)

    @Argument(help: "The ONNX model file (external data next to it is read too).")
    var model: String

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        try reportingErrors {
            let loaded = try ONNXModel.load(path: model)
            let inspection = ModelInspection(model: loaded)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(inspection), as: UTF8.self))
            } else {
                print(inspection.text)
            }
        }
    }
}
