import Biclustering
import Foundation

/// Settings of the analysis after the matrix (biclustering and evaluation), persisted with the job so
/// `resume`, `evaluate` and `report` need nothing but the run folder.
public struct AnalysisSettings: Codable, Sendable, Equatable {
    /// A module count (2 or more) or "auto".
    public var k = "auto"
    public var kRange = "2..20"
    public var transform = "abs"
    public var algorithm = "spectral-coclustering"
    public var embedding = "k-1"
    public var normalization = "bistochastic"
    public var restarts = 20
    public var nInit = 10
    /// k-means initialisations in each subsampled restart (more restarts need fewer each).
    public var restartNInit = 3
    public var seed: UInt64 = 0
    /// The image layout of one sample for the report ([H, W] or [C, H, W]); nil = inferred from the input shape.
    public var imageShape: [Int]?
    /// Another run folder (absolute path) whose modules the report compares with this run's (`--compare-with`).
    public var compareWith: String?
    /// A vocabulary (absolute path; one token per line, line i = id i, as BERT's vocab.txt) for the report's
    /// token lists with `--granularity token` (`--vocab`).
    public var vocab: String?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case k, kRange, transform, algorithm, embedding, normalization, restarts, nInit, restartNInit, seed, imageShape, compareWith, vocab
    }

    /// Older run folders lack fields added since: they take their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        k = try c.decodeIfPresent(String.self, forKey: .k) ?? k
        kRange = try c.decodeIfPresent(String.self, forKey: .kRange) ?? kRange
        transform = try c.decodeIfPresent(String.self, forKey: .transform) ?? transform
        algorithm = try c.decodeIfPresent(String.self, forKey: .algorithm) ?? algorithm
        embedding = try c.decodeIfPresent(String.self, forKey: .embedding) ?? embedding
        normalization = try c.decodeIfPresent(String.self, forKey: .normalization) ?? normalization
        restarts = try c.decodeIfPresent(Int.self, forKey: .restarts) ?? restarts
        nInit = try c.decodeIfPresent(Int.self, forKey: .nInit) ?? nInit
        restartNInit = try c.decodeIfPresent(Int.self, forKey: .restartNInit) ?? restartNInit
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
        imageShape = try c.decodeIfPresent([Int].self, forKey: .imageShape)
        compareWith = try c.decodeIfPresent(String.self, forKey: .compareWith)
        vocab = try c.decodeIfPresent(String.self, forKey: .vocab)
    }

    /// The biclustering configuration; a message naming the flag and the allowed values for anything invalid.
    public func biclusterConfig() throws -> BiclusterConfig {
        var config = BiclusterConfig()
        func parse<T: RawRepresentable & CaseIterable>(_ value: String, _ name: String) throws -> T where T.RawValue == String {
            guard let parsed = T(rawValue: value) else {
                throw BiclusteringError("--\(name) \(value) is not one of: \(T.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            return parsed
        }
        config.transform = try parse(transform, "transform")
        config.algorithm = try parse(algorithm, "algorithm")
        config.embedding = try parse(embedding, "embedding")
        config.checkerboardNormalization = try parse(normalization, "normalization")
        config.restarts = restarts
        config.initializations = nInit
        config.restartInitializations = restartNInit
        config.seed = seed
        if k == "auto" {
            let parts = kRange.components(separatedBy: "..")
            guard parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]), low <= high else {
                throw BiclusteringError("--k-range \(kRange) is not of the form LOW..HIGH with LOW ≤ HIGH (e.g. 2..20).")
            }
            config.k = .auto(low...high)
        } else if let value = Int(k) {
            config.k = .fixed(value)
        } else {
            throw BiclusteringError("--k \(k) is neither a whole number ≥ 2 nor 'auto'.")
        }
        return config
    }

    /// Largest image side `--image-shape` accepts, pixels: the report draws every module's mean input at
    /// this size at most, and three sides of it multiply without overflow.
    public static let maximumImageSide = 65_536

    /// Parses `--image-shape` given as 8x8 or 3x32x32 (C = 1 or 3).
    public static func parseImageShape(_ text: String) throws -> [Int] {
        let parts = text.lowercased().split(separator: "x").map { Int($0) }
        guard (2...3).contains(parts.count), parts.allSatisfy({ (1...maximumImageSide).contains($0 ?? 0) }),
            parts.count == 2 || [1, 3].contains(parts[0]!)
        else {
            throw InputError(
                "--image-shape '\(text)' is not H×W or C×H×W (C = 1 or 3) with sizes of 1–\(maximumImageSide), e.g. 8x8 or 3x32x32")
        }
        return parts.map { $0! }
    }

    /// Refuses an `--image-shape` whose pixel count is not the sample's element count, before any work starts.
    public func checkImageShape(sampleShape: [Int]) throws {
        guard let imageShape else { return }
        let pixels = imageShape.reduce(1, *), elements = sampleShape.reduce(1, *)
        guard pixels == elements else {
            throw InputError(
                "--image-shape \(imageShape.map(String.init).joined(separator: "x")) has \(pixels) values but one sample has \(elements) (shape \(sampleShape)); give the sample's own layout or leave the flag out")
        }
    }
}
