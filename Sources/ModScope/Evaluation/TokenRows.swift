import ArrayFiles
import Attribution
import Foundation
import ONNX

/// The (sample, position) rows of a `--granularity token` matrix: row n·T + t is position t of sample n. Knows
/// which rows are real tokens (attention mask 1) and which token id each row holds.
///
/// The attention mask is the integer input whose name contains "mask" (Hugging Face's `attention_mask`) and has
/// T values per sample; without one every row counts as a token. The token ids are the integer input that the
/// word embedding looks up (`ONNXModel.embeddingLookups`).
struct TokenRows {
    let samples: Int
    let positions: Int
    /// Per row: 1 = a token, 0 = padding (mask 0): never part of a module.
    let mask: [Bool]
    /// Per row: the token id, when the model has a word-embedding lookup.
    let ids: [Int]?

    init(spec: AttributionSpec, model: ONNXModel, table: any SampleTable) throws {
        let t = spec.matrixRowsPerSample
        samples = spec.rowCount
        positions = t
        let inputs = spec.modelInputs
        let maskSlot = inputs.slots.first { $0.isInteger && $0.name.lowercased().contains("mask") && $0.count == t }
        let idInput = model.embeddingLookups.max { $0.rows < $1.rows }?.input
        let idSlot = inputs.slots.first { $0.name == idInput && $0.count == t }
        var mask = [Bool](repeating: true, count: samples * t)
        var ids: [Int]? = idSlot == nil ? nil : [Int](repeating: 0, count: samples * t)
        let offsets = Dictionary(uniqueKeysWithValues: inputs.slots.enumerated().map { index, slot in
            (slot.name, inputs.slots.prefix(index).reduce(0) { $0 + $1.count })
        })
        let width = inputs.elementsPerSample
        for start in stride(from: 0, to: samples, by: 1024) {
            let range = start..<min(start + 1024, samples)
            let packed = try table.floatRows(range)
            for (i, n) in range.enumerated() {
                for p in 0..<t {
                    if let maskSlot { mask[n * t + p] = packed[i * width + offsets[maskSlot.name]! + p] != 0 }
                    if let idSlot { ids?[n * t + p] = Int(packed[i * width + offsets[idSlot.name]! + p]) }
                }
            }
        }
        self.mask = mask
        self.ids = ids
    }

    /// Rows that are tokens, increasing.
    var tokenRows: [Int] { mask.indices.filter { mask[$0] } }
}

/// Token strings by id, from a vocabulary file (one token per line; line i is id i).
public struct TokenVocabulary {
    let tokens: [String]

    /// The largest vocabulary file read (BERT's is 230 kB; the largest public ones are a few MB).
    static let maximumBytes = 64 << 20

    init(path: String) throws {
        let size = fileSize(path)
        guard size <= Self.maximumBytes else {
            throw InputError("--vocab '\(path)' has \(size) bytes, more than the \(Self.maximumBytes >> 20) MiB a vocabulary may have; pass the vocab.txt of the tokenizer")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw InputError("--vocab '\(path)' cannot be read as UTF-8 text; pass a vocab.txt with one token per line")
        }
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        tokens = lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    }

    /// The token of `id`, or "#id" when the vocabulary is shorter.
    func text(_ id: Int) -> String { id >= 0 && id < tokens.count ? tokens[id] : "#\(id)" }

    /// `--vocab` checked to be a readable file, made absolute (run folders store it).
    public static func checkedPath(_ path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw InputError("--vocab '\(path)' is not a file; pass the tokenizer's vocab.txt (one token per line)")
        }
        _ = try TokenVocabulary(path: path)
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
