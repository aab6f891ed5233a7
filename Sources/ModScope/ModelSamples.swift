import ArrayFiles
import Attribution
import Autodiff
import Foundation
import ONNX

/// The `--data` samples for a model's graph inputs, packed one row per sample (`ModelInputs`) and checked
/// against the model: shapes, a dynamic batch axis, integer inputs given as integers within Float32's exact
/// range and inside the embedding tables they index.
///
/// A model with one float input reads `.npy`, `.csv` or one `.npz` member as before. A model with several
/// inputs, or integer ones, reads an `.npz` with exactly one array per input, keyed by the input names
/// (`modscope inspect` lists them); a lone integer input may also come as `.npy`.
struct ModelSamples {
    let table: any SampleTable
    let inputs: ModelInputs

    static func open(model: ONNXModel, path: String, key: String?, flag: String = "--data") throws -> ModelSamples {
        let graphInputs = model.graph.inputs
        if graphInputs.count == 1 {
            let input = graphInputs[0]
            let table = try openSampleTable(path: path, key: key)
            try check(table, against: input, model: model, name: "\(flag) '\(path)'")
            return ModelSamples(table: table, inputs: ModelInputs(slots: [slot(input, table)]))
        }
        if let key {
            throw InputError(
                "--data-key '\(key)' picks one array, but the model has \(graphInputs.count) inputs (\(describe(graphInputs))) read from one .npz keyed by their names; drop --data-key")
        }
        guard path.lowercased().hasSuffix(".npz") else {
            throw InputError(
                "the model has \(graphInputs.count) inputs (\(describe(graphInputs))), so \(flag) must be an .npz with one array per input, keyed by these names: np.savez(path, \(graphInputs.map { "\($0.name)=…" }.joined(separator: ", ")))")
        }
        let archive = try NPZArchive(path: path)
        let names = Set(graphInputs.map(\.name))
        let missing = graphInputs.map(\.name).filter { !archive.keys.contains($0) }
        let extra = archive.keys.filter { !names.contains($0) }
        guard missing.isEmpty, extra.isEmpty else {
            var problems: [String] = []
            if !missing.isEmpty { problems.append("it lacks \(missing.map { "'\($0)'" }.joined(separator: ", "))") }
            if !extra.isEmpty { problems.append("'\(extra.joined(separator: "', '"))' \(extra.count == 1 ? "is not an input" : "are not inputs") of the model") }
            throw InputError(
                "\(flag) '\(path)' must hold one array per model input (\(describe(graphInputs))), but \(problems.joined(separator: " and ")); save it with exactly these keys")
        }
        var parts: [ConcatenatedSampleTable.Part] = []
        for input in graphInputs {
            let reader = try archive.reader(forKey: input.name)
            try check(reader, against: input, model: model, name: "\(flag) '\(path)'[\(input.name)]")
            parts.append(.init(name: input.name, table: reader))
        }
        let table = try ConcatenatedSampleTable(parts: parts, source: "\(flag) '\(path)'")
        return ModelSamples(table: table, inputs: ModelInputs(slots: zip(graphInputs, parts).map { slot($0, $1.table) }))
    }

    /// The coordinator side of a persisted job: the packed table for `spec`'s inputs (older one-input specs
    /// read the data file as before).
    static func table(for spec: AttributionSpec, modelPath: String, dataPath: String, dataKey: String?) throws -> any SampleTable {
        guard spec.inputs != nil else { return try openSampleTable(path: dataPath, key: dataKey) }
        return try open(model: try ONNXModel.load(path: modelPath), path: dataPath, key: dataKey).table
    }

    private static func slot(_ input: Graph.Input, _ table: any SampleTable) -> ModelInputs.Slot {
        ModelInputs.Slot(name: input.name, shape: table.rowShape, isInteger: !input.isFloat)
    }

    private static func describe(_ inputs: [Graph.Input]) -> String {
        inputs.map { "\($0.name): \($0.isFloat ? "float" : "integer")" }.joined(separator: ", ")
    }

    /// Shape and dtype of one input's array; for an integer input every value, against Float32's exact range
    /// and the rows of the embedding tables it indexes.
    private static func check(_ table: any SampleTable, against input: Graph.Input, model: ONNXModel, name: String) throws {
        do { try model.validate(input: input, sampleShape: table.rowShape) } catch let error as ONNXError {
            throw InputError("\(name): \(error.message)")
        }
        guard !input.isFloat else { return }
        guard let reader = table as? NPYReader, !reader.scalarType.isFloatingPoint else {
            throw InputError(
                "\(name) holds floating-point values, but model input '\(input.name)' is an integer input (token ids, masks); save it as int64, e.g. np.asarray(ids, dtype=np.int64)")
        }
        let values = try reader.integerValues()
        let limit = ModelInputs.exactIntegerLimit
        let bound = model.embeddingLookups.filter { $0.input == input.name }.min { $0.rows < $1.rows }
        for (index, value) in values.enumerated() {
            let sample = index / max(reader.elementsPerRow, 1), element = index % max(reader.elementsPerRow, 1)
            if let bound, value < 0 || value >= bound.rows {
                throw InputError(
                    "\(name) sample \(sample), element \(element) holds id \(value), outside the embedding table '\(bound.table)' (\(bound.rows) rows: ids 0–\(bound.rows - 1)); use token ids of the model's vocabulary")
            }
            if value <= -limit || value >= limit {
                throw InputError("\(name) sample \(sample), element \(element) holds \(value); integer inputs must stay below 2^24 in magnitude")
            }
        }
    }
}
