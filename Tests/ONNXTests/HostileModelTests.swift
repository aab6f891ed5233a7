import Autodiff
import Foundation
import Testing
import TensorCore
import TestSupport

@testable import ONNX

/// Hostile and invalid model files: each is an error naming what is wrong, where, and what to do — at load
/// time for structural problems, at run time (a `GraphError` with cause `.model`, exit 2) for shapes and
/// values — never a trap.
@Suite struct HostileModelTests {
    func loadError(_ model: HostileModel, baseDirectory: URL? = nil) -> String {
        do {
            _ = try model.load(baseDirectory: baseDirectory)
            return "no error"
        } catch let error as ONNXError {
            return error.message
        } catch {
            return "unexpected \(error)"
        }
    }

    /// Runs the model's default output on `input` (shape (1, n)); returns the output or the graph error.
    func run(_ model: HostileModel, input: [Float] = [1, 2, 3, 4]) throws -> Result<Tensor, GraphError> {
        let loaded = try model.load()
        let plan = try loaded.plan(targets: [try loaded.defaultOutput()])
        do {
            let execution = try plan.forward(feeds: ["x": .float(Tensor(shape: [1, input.count], storage: input))])
            return .success(try execution.tensor(try loaded.defaultOutput()))
        } catch let error as GraphError {
            return .failure(error)
        }
    }

    func runError(_ model: HostileModel) throws -> GraphError? {
        guard case .failure(let error) = try run(model) else { return nil }
        return error
    }

    static let huge: Int64 = 1 << 40

    @Test func initializerDimsBeyondAddressableAreALoadError() {
        var model = HostileModel()
        model.initializer(HostileModel.tensor("w", dims: [Self.huge, Self.huge], floats: [1]))
        model.node("Add", ["x", "w"], ["y"])
        #expect(loadError(model).contains("tensor 'w' has shape [1099511627776, 1099511627776], too many elements to address"))
        var empty = HostileModel()
        empty.initializer(HostileModel.tensor("w", dims: [0, Self.huge, Self.huge]))
        empty.node("Add", ["x", "w"], ["y"])
        #expect(loadError(empty).contains("too many elements to address"))
    }

    @Test func initializerWithNegativeDimsOrTooFewValuesIsALoadError() {
        var negative = HostileModel()
        negative.initializer(HostileModel.tensor("w", dims: [-1, 4], floats: [1, 2, 3, 4]))
        negative.node("Add", ["x", "w"], ["y"])
        #expect(loadError(negative).contains("tensor 'w' has a negative dimension"))
        var short = HostileModel()
        var tensor = HostileModel.tensor("w", dims: [1 << 20, 4])
        tensor.rawData = Data(count: 16)
        short.initializer(tensor)
        short.node("Add", ["x", "w"], ["y"])
        #expect(loadError(short).contains("tensor 'w' holds 16 bytes but its shape [1048576, 4] needs 16777216"))
    }

    @Test func duplicateNodeNamesAreALoadError() {
        var model = HostileModel()
        model.node("Relu", ["x"], ["a"], name: "same")
        model.node("Relu", ["a"], ["y"], name: "same")
        let text = loadError(model)
        #expect(text.contains("'hostile.onnx' is not a valid ONNX graph: two nodes are named 'same'"))
        #expect(text.contains("re-export the model"))
    }

    @Test func aSyntheticNameNeverCollidesWithARealOne() throws {
        var model = HostileModel()
        model.node("Relu", ["x"], ["a"], name: "Relu_1")
        model.node("Relu", ["a"], ["y"])
        let loaded = try model.load()
        #expect(Set(loaded.graph.nodes.map(\.name)).count == 2)
    }

    @Test func aTensorProducedTwiceIsALoadError() {
        var model = HostileModel()
        model.node("Relu", ["x"], ["y"], name: "first")
        model.node("Sigmoid", ["x"], ["y"], name: "second")
        #expect(loadError(model).contains("tensor 'y' is produced twice (by node 'first' (Relu) and by node 'second' (Sigmoid))"))
        var overInput = HostileModel()
        overInput.node("Relu", ["x"], ["x"], name: "loop")
        overInput.node("Relu", ["x"], ["y"])
        #expect(loadError(overInput).contains("tensor 'x' is produced twice (by graph input and by node 'loop' (Relu))"))
    }

    @Test func aCycleIsALoadError() {
        var model = HostileModel()
        model.node("Add", ["x", "b"], ["a"], name: "one")
        model.node("Relu", ["a"], ["b"], name: "two")
        model.node("Relu", ["a"], ["y"], name: "three")
        let text = loadError(model)
        #expect(text.contains("its nodes form a cycle"))
        #expect(text.contains("node 'one' (Add)") && text.contains("node 'two' (Relu)"))
    }

    @Test func aMissingTensorOrOutputIsALoadError() {
        var model = HostileModel()
        model.node("Add", ["x", "nowhere"], ["y"], name: "sum")
        #expect(loadError(model).contains("node 'sum' (Add) reads tensor 'nowhere', which no node, initializer or graph input produces"))
        var noOutput = HostileModel(output: "z")
        noOutput.node("Relu", ["x"], ["y"])
        #expect(loadError(noOutput).contains("graph output 'z' is not produced by any node"))
    }

    @Test(arguments: [
        ("strides", [0, 1] as [Int64], "strides=[0, 1], but each value must be between 1"),
        ("kernel_shape", [0, 0], "kernel_shape=[0, 0]"),
        ("pads", [-1, 0, 0, 0], "pads=[-1, 0, 0, 0], but each value must be between 0"),
        ("dilations", [1, Int64.max], "dilations=[1, 9223372036854775807]"),
    ])
    func convAndPoolAttributesOutOfRangeAreALoadError(attribute: String, values: [Int64], expected: String) {
        for op in ["Conv", "MaxPool"] {
            var model = HostileModel()
            model.initializer(HostileModel.tensor("w", dims: [1, 1, 1, 1], floats: [1]))
            var attributes = [HostileModel.ints(attribute, values)]
            if op == "MaxPool" && attribute != "kernel_shape" { attributes.append(HostileModel.ints("kernel_shape", [1, 1])) }
            model.node(op, op == "Conv" ? ["x", "w"] : ["x"], ["y"], name: "c", attributes: attributes)
            let text = loadError(model)
            #expect(text.contains("node 'c' (\(op)) has \(expected)"), "\(op): \(text)")
        }
    }

    @Test func castToAnOutOfRangeTypeIsALoadError() {
        var model = HostileModel()
        model.node("Cast", ["x"], ["y"], name: "cast", attributes: [HostileModel.int("to", Self.huge)])
        #expect(loadError(model).contains("node 'cast' (Cast) casts to type 1099511627776"))
    }

    /// Slice with INT64_MIN / INT64_MAX starts, ends and steps is clamped as the ONNX spec says.
    @Test(arguments: [
        (Int64.min, Int64.max, Int64(1), [Float(1), 2, 3, 4]),
        (Int64.max, Int64.min, Int64.min, [4]),
        (Int64.min, Int64.max, Int64.max, [1]),
        (Int64.max, Int64.max, Int64(1), []),
    ])
    func sliceWithExtremeBoundsIsClamped(start: Int64, end: Int64, step: Int64, expected: [Float]) throws {
        var model = HostileModel()
        model.initializer(HostileModel.tensor("starts", dims: [1], ints: [start]))
        model.initializer(HostileModel.tensor("ends", dims: [1], ints: [end]))
        model.initializer(HostileModel.tensor("axes", dims: [1], ints: [1]))
        model.initializer(HostileModel.tensor("steps", dims: [1], ints: [step]))
        model.node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])
        let output = try run(model).get()
        #expect(output.storage == expected)
    }

    @Test func hugeConstantOfShapeAndPadAreRunTimeModelErrors() throws {
        var constant = HostileModel()
        constant.initializer(HostileModel.tensor("shape", dims: [2], ints: [Self.huge, Self.huge]))
        constant.node("ConstantOfShape", ["shape"], ["c"], name: "fill")
        constant.node("Add", ["x", "c"], ["y"])
        let error = try #require(try runError(constant))
        #expect(error.cause == .model)
        #expect(error.message.contains("node 'fill' (ConstantOfShape): ConstantOfShape output would have shape [1099511627776, 1099511627776]"))
        #expect(error.message.contains("onnx.checker.check_model"))

        var big = HostileModel()
        big.initializer(HostileModel.tensor("shape", dims: [2], ints: [1 << 20, 1 << 20]))
        big.node("ConstantOfShape", ["shape"], ["y"], name: "fill")
        #expect(try runError(big)?.message.contains("more than the limit of \(TensorLimits.maximumElementCount) per tensor") == true)

        var pad = HostileModel()
        pad.initializer(HostileModel.tensor("pads", dims: [4], ints: [0, 0, Self.huge, Self.huge]))
        pad.node("Pad", ["x", "pads"], ["y"], name: "pad")
        let padError = try #require(try runError(pad))
        #expect(padError.message.contains("node 'pad' (Pad): Pad output would have shape [1099511627777, 1099511627780]"))
        var overflow = HostileModel()
        overflow.initializer(HostileModel.tensor("pads", dims: [4], ints: [0, 0, Int64.max, Int64.max]))
        overflow.node("Pad", ["x", "pads"], ["y"], name: "pad")
        #expect(try runError(overflow)?.message.contains("Pad pads") == true)
    }

    /// Invalid graphs fail at run time with cause `.model` (exit 2) and the advice to check the model.
    @Test func invalidGraphsAreModelErrorsWithAdvice() throws {
        var cases: [(String, HostileModel)] = []
        var gemm = HostileModel()
        gemm.initializer(HostileModel.tensor("w", dims: [5, 3], floats: [Float](repeating: 1, count: 15)))
        gemm.node("Gemm", ["x", "w"], ["y"], name: "n")
        cases.append(("Gemm inner dimensions differ", gemm))
        var concat = HostileModel()
        concat.node("Concat", ["x", "x"], ["y"], name: "n", attributes: [HostileModel.int("axis", 7)])
        cases.append(("axis 7 is out of range", concat))
        var reshape = HostileModel()
        reshape.initializer(HostileModel.tensor("s", dims: [2], ints: [3, 3]))
        reshape.node("Reshape", ["x", "s"], ["y"], name: "n")
        cases.append(("cannot reshape a tensor of shape [1, 4]", reshape))
        var reshapeHuge = HostileModel()
        reshapeHuge.initializer(HostileModel.tensor("s", dims: [3], ints: [0, Self.huge, Self.huge]))
        reshapeHuge.node("Reshape", ["x", "s"], ["y"], name: "n")
        cases.append(("too many elements to address", reshapeHuge))
        var gather = HostileModel()
        gather.initializer(HostileModel.tensor("i", dims: [1], ints: [9]))
        gather.node("Gather", ["x", "i"], ["y"], name: "n", attributes: [HostileModel.int("axis", 1)])
        cases.append(("Gather index 9 out of range", gather))
        var transpose = HostileModel()
        transpose.node("Transpose", ["x"], ["y"], name: "n", attributes: [HostileModel.ints("perm", [0, 0])])
        cases.append(("Transpose perm [0, 0] is invalid", transpose))
        var cast = HostileModel()
        cast.initializer(HostileModel.tensor("nan", dims: [1], floats: [.nan]))
        cast.node("Cast", ["nan"], ["i"], attributes: [HostileModel.int("to", 7)])
        cast.node("Reshape", ["x", "i"], ["y"], name: "n")
        cases.append(("Cast to an integer type got nan", cast))
        var overflow = HostileModel()
        overflow.initializer(HostileModel.tensor("big", dims: [1], ints: [Int64.max]))
        overflow.node("Add", ["big", "big"], ["s"], name: "sum")
        overflow.node("Reshape", ["x", "s"], ["y"], name: "n")
        cases.append(("INT64 add of 9223372036854775807 and 9223372036854775807 overflows", overflow))
        for (expected, model) in cases {
            let error = try #require(try runError(model), "\(expected)")
            #expect(error.cause == .model)
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(error.message.contains("then repair or re-export it"))
        }
    }
}

/// External data may only come from a regular file inside the model's folder (onnx.checker's rule).
@Suite struct HostileExternalDataTests {
    func model(location: String, length: Int = 16) -> HostileModel {
        var model = HostileModel()
        var tensor = HostileModel.tensor("w", dims: [4])
        tensor.dataLocation = .external
        tensor.externalData = [("location", location), ("length", "\(length)")].map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        model.initializer(tensor)
        model.node("Add", ["x", "w"], ["y"])
        return model
    }

    func error(_ model: HostileModel, in folder: URL) -> String {
        do {
            _ = try model.load(baseDirectory: folder)
            return "no error"
        } catch let error as ONNXError {
            return error.message
        } catch {
            return "unexpected \(error)"
        }
    }

    func withFolders(_ body: (_ model: URL, _ outside: URL) throws -> Void) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-hostile-\(UUID().uuidString)")
        let modelFolder = root.appendingPathComponent("model"), outside = root.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: modelFolder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try Data(count: 16).write(to: outside.appendingPathComponent("secret.bin"))
        try body(modelFolder, outside)
    }

    @Test func dataInsideTheFolderLoads() throws {
        try withFolders { folder, _ in
            try Data(count: 16).write(to: folder.appendingPathComponent("w.bin"))
            _ = try model(location: "w.bin").load(baseDirectory: folder)
        }
    }

    @Test func absoluteAndParentLocationsAreRefused() throws {
        try withFolders { folder, outside in
            let absolute = error(model(location: outside.appendingPathComponent("secret.bin").path), in: folder)
            #expect(absolute.contains("which is an absolute path"))
            #expect(absolute.contains("external data must be a file inside the model's folder"))
            #expect(error(model(location: "../outside/secret.bin"), in: folder).contains("leaves the model's folder with '..'"))
            #expect(error(model(location: "sub/../../outside/secret.bin"), in: folder).contains("'..'"))
        }
    }

    @Test func symbolicLinkOutOfTheFolderIsRefused() throws {
        try withFolders { folder, outside in
            try FileManager.default.createSymbolicLink(
                at: folder.appendingPathComponent("link.bin"), withDestinationURL: outside.appendingPathComponent("secret.bin"))
            try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("dir"), withDestinationURL: outside)
            #expect(error(model(location: "link.bin"), in: folder).contains("outside the model's folder"))
            #expect(error(model(location: "dir/secret.bin"), in: folder).contains("outside the model's folder"))
        }
    }

    /// A FIFO would block a read forever: it is refused by type, before it is opened.
    @Test func nonRegularFilesAreRefusedBeforeAnyRead() throws {
        try withFolders { folder, _ in
            #expect(mkfifo(folder.appendingPathComponent("pipe").path, 0o600) == 0)
            #expect(error(model(location: "pipe"), in: folder).contains("is not a regular file"))
        }
    }

    @Test func lengthOrOffsetThatDoesNotFitIsRefused() throws {
        try withFolders { folder, _ in
            try Data(count: 16).write(to: folder.appendingPathComponent("w.bin"))
            #expect(error(model(location: "w.bin", length: 1 << 40), in: folder).contains("records 1099511627776 bytes of external data but its shape needs 16"))
            var negative = model(location: "w.bin")
            var entry = Onnx_StringStringEntryProto()
            entry.key = "offset"
            entry.value = "-5"
            negative.proto.graph.initializer[0].externalData.append(entry)
            #expect(error(negative, in: folder).contains("offset '-5', which is not a non-negative integer"))
        }
    }
}
