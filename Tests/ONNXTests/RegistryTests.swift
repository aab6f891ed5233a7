import Autodiff
import Foundation
import Testing
import TensorCore
@testable import ONNX

/// The operator registry is the one place an op's facts live: these tests pin its invariants.
@Suite struct RegistryTests {
    @Test func entriesOfOneOpHaveDisjointOpsetRanges() {
        let grouped = Dictionary(grouping: OperatorRegistry.entries, by: \.qualifiedName)
        for (name, entries) in grouped {
            for (i, a) in entries.enumerated() {
                for b in entries[(i + 1)...] {
                    #expect(!a.opsets.overlaps(b.opsets), "\(name) has overlapping entries \(a.opsets) and \(b.opsets)")
                }
            }
        }
    }

    @Test func supportedListIsDerivedFromTheEntries() {
        let names = Set(OperatorRegistry.entries.map(\.qualifiedName))
        #expect(OperatorRegistry.supported == names.sorted())
        #expect(OperatorRegistry.supportedList().contains("Gemm, GlobalAveragePool"))
        #expect(OperatorRegistry.supported.contains("ai.onnx.ml.Scaler"))
    }

    @Test func everyEntryOpsetRangeIsInsideTheLoadersRange() {
        for entry in OperatorRegistry.entries where entry.domain.isEmpty {
            #expect(OperatorRegistry.defaultOpsets.lowerBound <= entry.opsets.lowerBound, "\(entry.name)")
            #expect(entry.opsets.upperBound <= OperatorRegistry.defaultOpsets.upperBound, "\(entry.name)")
        }
    }

    /// Loaded nodes carry their entry's traits (not the operator type's defaults).
    @Test func loadedNodesCarryTheRegistryTraits() throws {
        let model = try ONNXModel.load(path: EngineFixtures.path("models/cnn_legacy.onnx"))
        #expect(!model.graph.nodes.isEmpty)
        for node in model.graph.nodes {
            let entry = OperatorRegistry.entries(domain: node.domain, name: node.opType).first
            #expect(entry != nil, "\(node.opType)")
            #expect(node.traits == entry?.traits, "\(node.opType)")
        }
    }

    static func node(
        _ opType: String, domain: String = "", inputs: [String] = ["x"], attributes: [Onnx_AttributeProto] = []
    ) -> Onnx_NodeProto {
        var node = Onnx_NodeProto()
        node.name = "n0"
        node.opType = opType
        node.domain = domain
        node.input = inputs
        node.output = ["y"]
        node.attribute = attributes
        return node
    }

    static func failureMessage(_ node: Onnx_NodeProto, opset: Int) throws -> String? {
        switch try OperatorRegistry.make(node, opset: opset, mlOpset: nil, decoder: TensorDecoder(baseDirectory: nil)) {
        case .success: return nil
        case .failure(let error): return error.message
        }
    }

    @Test func unknownOperatorNamesNodeOpOpsetAndWhatToDo() throws {
        let text = try #require(try Self.failureMessage(Self.node("Det"), opset: 17))
        #expect(text.hasPrefix("operator Det (opset 17) in node 'n0' is not supported; supported operators: "))
        #expect(text.contains("re-export the model without it"))
        let custom = try #require(try Self.failureMessage(Self.node("FusedGelu", domain: "com.microsoft"), opset: 17))
        #expect(custom.hasPrefix("operator com.microsoft.FusedGelu (opset 17) in node 'n0' is not supported"))
    }

    @Test func refusedAttributesAreNamed() throws {
        var mode = Onnx_AttributeProto()
        mode.name = "mode"
        mode.type = .string
        mode.s = Data("reflect".utf8)
        let text = try #require(try Self.failureMessage(Self.node("Pad", inputs: ["x", "pads"], attributes: [mode]), opset: 17))
        #expect(text == "operator Pad (opset 17) in node 'n0' (mode 'reflect'; only constant padding) is not supported; re-export the model without it, or pick an --output tensor that does not depend on it")
    }

    /// Found by the ONNX fuzzer: a ScatterND node with no inputs trapped (index out of range) in its forward
    /// pass. Every registered op's required inputs come from the ONNX schemas (InputArity), checked at load.
    @Test func aNodeMissingRequiredInputsIsRefusedAtLoad() throws {
        for (op, inputs) in [("ScatterND", []), ("ScatterND", ["x", "i"]), ("Gemm", ["a"]), ("Slice", ["x"]), ("Conv", ["x", ""])] {
            #expect(throws: ONNXError.self, "\(op) with inputs \(inputs)") {
                _ = try Self.failureMessage(Self.node(op, inputs: inputs), opset: 17)
            }
        }
        let error = try #require(throws: ONNXError.self) { try Self.failureMessage(Self.node("Where", inputs: ["c", "x"]), opset: 17) }
        #expect(error.message.contains("node 'n0' (Where, opset 17)") && error.message.contains("requires 3 named inputs"))
        #expect(try Self.failureMessage(Self.node("Slice", inputs: ["x"]), opset: 9) == nil, "opset 9's Slice takes attributes")
        #expect(InputArity.required("Constant", opset: 17) == 0)
    }

    /// Every registry entry has a schema arity, so no op escapes the check.
    @Test func everyRegisteredOpHasItsRequiredInputCount() {
        for entry in OperatorRegistry.entries {
            #expect(InputArity.requiredInputs[entry.qualifiedName] != nil, "\(entry.qualifiedName): rerun scripts/make_input_arity.py")
        }
    }
}
