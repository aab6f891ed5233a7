import ArrayFiles
import Foundation

/// The report's pictures, as PNG bytes.
enum ReportImages {
    /// A viridis-like perceptual colormap (dark purple → teal → yellow), 9 anchors linearly interpolated.
    static let anchors: [(Double, Double, Double)] = [
        (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141), (39, 173, 129), (92, 200, 99),
        (170, 220, 50), (253, 231, 37),
    ]

    static func color(_ t: Double) -> (UInt8, UInt8, UInt8) {
        let x = min(max(t, 0), 1) * Double(anchors.count - 1)
        let i = min(Int(x), anchors.count - 2)
        let f = x - Double(i)
        let (a, b) = (anchors[i], anchors[i + 1])
        return (UInt8(a.0 + (b.0 - a.0) * f), UInt8(a.1 + (b.1 - a.1) * f), UInt8(a.2 + (b.2 - a.2) * f))
    }

    /// A horizontal colour bar for the legend.
    static func colorbar(width: Int = 240, height: Int = 12) throws -> Data {
        var pixels = [UInt8]()
        for _ in 0..<height {
            for x in 0..<width {
                let (r, g, b) = color(Double(x) / Double(width - 1))
                pixels += [r, g, b]
            }
        }
        return try PNGEncoder.encode(width: width, height: height, pixels: pixels, colorType: .rgb)
    }

    /// |matrix| with rows grouped by module (row labels), columns by module (column labels), unassigned (−1)
    /// last; each pixel is the mean |value| of the cells it covers, coloured on a scale clipped at the 99th
    /// percentile of the cell means. White lines separate modules. Reads the matrix in blocks of rows.
    /// A module's stretch of the heatmap along one axis, in pixels (`label` −1 = in no module).
    struct Band: Equatable {
        var label: Int
        var pixels: Range<Int>
    }

    static func heatmap(
        matrix: NPYReader, rowLabels: [Int], columnLabels: [Int], maxWidth: Int = 640, maxHeight: Int = 560
    ) throws -> (png: Data, width: Int, height: Int) {
        let map = try labelledHeatmap(matrix: matrix, rowLabels: rowLabels, columnLabels: columnLabels, maxWidth: maxWidth, maxHeight: maxHeight)
        return (map.png, map.width, map.height)
    }

    /// `heatmap` plus where each module's rows and columns are, for axis labels.
    static func labelledHeatmap(
        matrix: NPYReader, rowLabels: [Int], columnLabels: [Int], maxWidth: Int = 640, maxHeight: Int = 560
    ) throws -> (png: Data, width: Int, height: Int, rowBands: [Band], columnBands: [Band]) {
        let (n, m) = (matrix.shape[0], matrix.elementsPerRow)
        func order(_ labels: [Int]) -> [Int] {
            labels.indices.sorted { a, b in
                let (la, lb) = (labels[a] < 0 ? Int.max : labels[a], labels[b] < 0 ? Int.max : labels[b])
                return la != lb ? la < lb : a < b
            }
        }
        let rowOrder = order(rowLabels), columnOrder = order(columnLabels)
        var rowPosition = [Int](repeating: 0, count: n)
        for (position, row) in rowOrder.enumerated() { rowPosition[row] = position }
        // Pixel grid: at most maxHeight rows, columns widened to at least 4 px when few.
        let height = min(n, maxHeight)
        let columnScale = m <= maxWidth / 4 ? max(1, min(12, maxWidth / max(m, 1))) : 1
        let width = min(m, maxWidth) * columnScale
        let cellColumns = min(m, maxWidth)
        var sums = [Double](repeating: 0, count: height * cellColumns)
        var counts = [Double](repeating: 0, count: height * cellColumns)
        let columnCell = (0..<m).map { position in position * cellColumns / m }
        var columnPosition = [Int](repeating: 0, count: m)
        for (position, column) in columnOrder.enumerated() { columnPosition[column] = position }
        let block = max(1, (1 << 22) / max(m, 1))
        for start in stride(from: 0, to: n, by: block) {
            let range = start..<min(start + block, n)
            let values = try matrix.floatRows(range)
            for row in range {
                let y = rowPosition[row] * height / n
                let base = (row - start) * m
                for column in 0..<m {
                    let cell = y * cellColumns + columnCell[columnPosition[column]]
                    sums[cell] += Double(abs(values[base + column]))
                    counts[cell] += 1
                }
            }
        }
        let means = zip(sums, counts).map { $1 > 0 ? $0 / $1 : 0 }
        let sorted = means.sorted()
        let scale = max(sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))], 1e-30)
        // Boundaries between modules, in pixel coordinates.
        let sortedRowLabels = rowOrder.map { rowLabels[$0] }, sortedColumnLabels = columnOrder.map { columnLabels[$0] }
        var horizontal = Set<Int>(), vertical = Set<Int>()
        for i in 1..<max(n, 1) where sortedRowLabels[i] != sortedRowLabels[i - 1] { horizontal.insert(i * height / n) }
        for j in 1..<max(m, 1) where sortedColumnLabels[j] != sortedColumnLabels[j - 1] { vertical.insert(j * cellColumns / m * columnScale) }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let offset = (y * width + x) * 3
                if horizontal.contains(y) || vertical.contains(x) {
                    pixels[offset] = 255; pixels[offset + 1] = 255; pixels[offset + 2] = 255
                    continue
                }
                let (r, g, b) = color(means[y * cellColumns + x / columnScale] / scale)
                pixels[offset] = r; pixels[offset + 1] = g; pixels[offset + 2] = b
            }
        }
        func bands(_ sortedLabels: [Int], pixel: (Int) -> Int, end: Int) -> [Band] {
            var result: [Band] = []
            var start = 0
            for i in 1...sortedLabels.count where i == sortedLabels.count || sortedLabels[i] != sortedLabels[i - 1] {
                let to = i == sortedLabels.count ? end : pixel(i)
                result.append(Band(label: sortedLabels[start], pixels: pixel(start)..<max(pixel(start), to)))
                start = i
            }
            return result
        }
        let rowBands = n == 0 ? [] : bands(sortedRowLabels, pixel: { $0 * height / n }, end: height)
        let columnBands = m == 0 ? [] : bands(sortedColumnLabels, pixel: { $0 * cellColumns / m * columnScale }, end: width)
        return (try PNGEncoder.encode(width: width, height: height, pixels: pixels, colorType: .rgb), width, height, rowBands, columnBands)
    }

    /// A signed sample-shaped map ([H, W], or [3, H, W] summed over channels) on a diverging scale: red where
    /// positive, blue where negative, white at 0, symmetric around 0 (clipped at the largest |value|); enlarged
    /// like `image`.
    static func signedImage(_ values: [Float], shape: [Int], target: Int = 84) throws -> Data? {
        let (channels, h, w) = shape.count == 3 ? (shape[0], shape[1], shape[2]) : (1, shape[0], shape[1])
        guard channels == 1 || channels == 3, values.count == channels * h * w, h > 0, w > 0 else { return nil }
        var map = [Float](repeating: 0, count: h * w)
        for c in 0..<channels { for i in 0..<(h * w) { map[i] += values[c * h * w + i] } }
        let limit = max(map.map(abs).max() ?? 0, 1e-30)
        let scale = max(1, target / max(h, w))
        let (width, height) = (w * scale, h * scale)
        var pixels = [UInt8]()
        pixels.reserveCapacity(width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let t = max(-1, min(1, map[(y / scale) * w + x / scale] / limit))
                let fade = UInt8((1 - abs(t)) * 255)
                pixels += t >= 0 ? [255, fade, fade] : [fade, fade, 255]
            }
        }
        return try PNGEncoder.encode(width: width, height: height, pixels: pixels, colorType: .rgb)
    }

    /// A sample-shaped image: [H, W] grayscale (ink dark on white) or [3, H, W] colour, min–max normalised and
    /// enlarged with nearest-neighbour sampling to about `target` pixels on the long side.
    static func image(_ values: [Float], shape: [Int], target: Int = 112) throws -> Data? {
        let (channels, h, w) = shape.count == 3 ? (shape[0], shape[1], shape[2]) : (1, shape[0], shape[1])
        guard channels == 1 || channels == 3, values.count == channels * h * w, h > 0, w > 0 else { return nil }
        let low = values.min() ?? 0, high = values.max() ?? 1
        let span = high > low ? high - low : 1
        let scale = max(1, target / max(h, w))
        let (width, height) = (w * scale, h * scale)
        var pixels = [UInt8]()
        pixels.reserveCapacity(width * height * channels)
        for y in 0..<height {
            for x in 0..<width {
                let (sy, sx) = (y / scale, x / scale)
                for c in 0..<channels {
                    let t = (values[(c * h + sy) * w + sx] - low) / span
                    pixels.append(UInt8((channels == 1 ? 1 - t : t) * 255))
                }
            }
        }
        return try PNGEncoder.encode(width: width, height: height, pixels: pixels, colorType: channels == 1 ? .grayscale : .rgb)
    }
}
