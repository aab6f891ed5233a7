import ArrayFiles
import BatchRuntime
import CZlib
import Foundation
import Testing
@testable import ModScope

/// Decodes the PNGs the encoder writes (signature, chunk CRCs, IHDR, inflated scanlines).
enum PNGDecoder {
    struct Image { var width: Int; var height: Int; var channels: Int; var pixels: [UInt8] }

    static func decode(_ data: Data) throws -> Image {
        let bytes = [UInt8](data)
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var offset = 8
        var width = 0, height = 0, channels = 0
        var compressed = [UInt8]()
        func be(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
        while offset < bytes.count {
            let length = be(offset)
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let body = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            let typed = Array(bytes[(offset + 4)..<(offset + 8 + length)])
            let crc = typed.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt(typed.count)) }
            #expect(UInt32(be(offset + 8 + length)) == UInt32(crc), "CRC of \(type)")
            switch type {
            case "IHDR":
                width = Int(body[0]) << 24 | Int(body[1]) << 16 | Int(body[2]) << 8 | Int(body[3])
                height = Int(body[4]) << 24 | Int(body[5]) << 16 | Int(body[6]) << 8 | Int(body[7])
                #expect(body[8] == 8)
                channels = body[9] == 2 ? 3 : 1
            case "IDAT": compressed += body
            default: break
            }
            offset += 12 + length
        }
        var raw = [UInt8](repeating: 0, count: height * (width * channels + 1))
        var size = uLongf(raw.count)
        let status = uncompress(&raw, &size, compressed, uLong(compressed.count))
        #expect(status == Z_OK && Int(size) == raw.count)
        var pixels = [UInt8]()
        let stride = width * channels + 1
        for row in 0..<height {
            let start = row * stride
            #expect(raw[start] == 0, "filter type 0")
            pixels.append(contentsOf: raw[(start + 1)..<(start + stride)])
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }
}

@Suite struct ReportTests {
    @Test func pngRoundTripsThroughZlib() throws {
        let pixels: [UInt8] = (0..<(5 * 3 * 3)).map { UInt8($0 * 5) }
        let image = try PNGDecoder.decode(PNGEncoder.encode(width: 5, height: 3, pixels: pixels, colorType: .rgb))
        #expect(image.width == 5 && image.height == 3 && image.channels == 3)
        #expect(image.pixels == pixels)
        let gray = try PNGDecoder.decode(PNGEncoder.encode(width: 2, height: 2, pixels: [0, 64, 128, 255], colorType: .grayscale))
        #expect(gray.pixels == [0, 64, 128, 255])
    }

    @Test func heatmapGroupsRowsAndColumnsByModule() throws {
        // 4 × 2 matrix: rows 0 and 2 belong to module 1 (9 in column 1), rows 1 and 3 to module 0 (9 in column 0).
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-heatmap-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("m.npy").path
        let values: [Float] = [0, 9, 9, 0, 0, 9, 9, 0]
        try NPYWriter.write(values, shape: [4, 2], to: path)
        let (png, width, height) = try ReportImages.heatmap(matrix: NPYReader(path: path), rowLabels: [1, 0, 1, 0], columnLabels: [0, 1])
        let image = try PNGDecoder.decode(png)
        #expect(image.width == width && image.height == height && height == 4)
        // After reordering, rows 1 and 3 (module 0) come first: their bright cell is column 0, the left half.
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(image.pixels[((y * width + x) * 3)..<((y * width + x) * 3 + 3)]) }
        let bright = ReportImages.color(1), dark = ReportImages.color(0)
        #expect(pixel(0, 0) == [bright.0, bright.1, bright.2])
        #expect(pixel(width - 1, 0) == [dark.0, dark.1, dark.2])
        #expect(pixel(width - 1, 3) == [bright.0, bright.1, bright.2])
        // The bands say where each module's rows and columns are, for the axis labels.
        let map = try ReportImages.labelledHeatmap(matrix: NPYReader(path: path), rowLabels: [1, 0, 1, 0], columnLabels: [0, -1])
        #expect(map.rowBands == [.init(label: 0, pixels: 0..<2), .init(label: 1, pixels: 2..<4)])
        #expect(map.columnBands.map(\.label) == [0, -1])
        #expect(map.columnBands.first?.pixels.lowerBound == 0 && map.columnBands.last?.pixels.upperBound == map.width)
        let svg = ReportWriter.heatmapSVG(map, samples: 4, neurons: 2)
        #expect(svg.hasPrefix("<svg") && svg.contains("samples (4) by module") && svg.contains("neurons (2) by module"))
    }

    @Test func reportIsSelfContainedAndEscapesRunStrings() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("modscope-report-\(getpid())")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("bicluster"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try NPYWriter.write((0..<(6 * 4)).map { Float($0 % 5) }, shape: [6, 4], to: folder.appendingPathComponent("matrix.npy").path)
        try NPYWriter.write([0, 0, 1, 1, -1, 1] as [Int32], shape: [6], to: folder.appendingPathComponent("bicluster/row_labels.npy").path)
        try NPYWriter.write([0, 1, 1, -1] as [Int32], shape: [4], to: folder.appendingPathComponent("bicluster/col_labels.npy").path)
        let ablation = Evaluation.Ablation(
            own: .init(outputDrop: 3, accuracyDrop: 0.5), others: .init(outputDrop: 0.1, accuracyDrop: 0),
            random: .init(outputDropMean: 0.4, outputDropSD: 0.2, accuracyDropMean: 0.05, accuracyDropSD: 0.01, sets: 10))
        let modules = (0..<2).map { id in
            Evaluation.Module(
                id: id, samples: [2 * id, 2 * id + 1], neurons: [id], sampleCount: 2, neuronCount: 1, sampleFraction: 1 / 3,
                neuronFraction: 0.25, densityRatio: 2.5, stability: 0.9, degenerate: nil,
                labels: .init(histogram: ["\(id)": 2], purity: 1, majority: id), ablation: ablation,
                meanInput: (0..<4).map { Float($0) })
        }
        let evaluation = Evaluation(
            layer: "<script>alert(1)</script>", method: "conductance", output: "out", samples: 6, neurons: 4, k: 2,
            labelsAvailable: true, labelNMI: 0.8, labelARI: 0.7, inputShape: [4], imageShape: [2, 2],
            ablationSamplesPerSet: 2000, unassigned: .init(samples: 1, neurons: 1), modules: modules)
        try JSONEncoder().encode(evaluation).write(to: folder.appendingPathComponent("evaluation.json"))
        try ReportWriter.write(runFolder: folder)
        let html = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(!html.contains("<script>alert(1)</script>"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!html.contains("http://") && !html.contains("https://"), "no external resources")
        #expect(html.contains("Module 0") && html.contains("Module 1"))
        // Every embedded image is a valid PNG: heatmap, colour bar, two mean inputs.
        let uris = html.components(separatedBy: "data:image/png;base64,").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        #expect(uris.count == 4)
        for uri in uris { _ = try PNGDecoder.decode(try #require(Data(base64Encoded: uri))) }
    }
}
