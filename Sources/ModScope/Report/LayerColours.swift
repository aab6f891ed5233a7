import Foundation

/// Neurons coloured by layer in the report of a several-layer run (`--layer a --layer b`).
extension ReportWriter {
    /// One colour per layer, in `--layer` order (cycled past eight layers); colour-blind-safe (Okabe & Ito 2008).
    static let layerPalette = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000"]

    static func layerColour(_ index: Int) -> String { layerPalette[index % layerPalette.count] }

    /// A strip under the heatmap, aligned with its columns (neurons in heatmap order: by module, then index),
    /// coloured by each neuron's layer, and its legend. Empty for one layer.
    /// - Parameters: `mapWidth` is the heatmap image's width in pixels; `left` its offset inside its SVG.
    static func layerStrip(layers: [LayerColumns]?, columnLabels: [Int], mapWidth: Int, left: Int) -> String {
        guard let layers, layers.count > 1, !columnLabels.isEmpty else { return "" }
        let m = columnLabels.count
        let order = columnLabels.indices.sorted { a, b in
            let (la, lb) = (columnLabels[a] < 0 ? Int.max : columnLabels[a], columnLabels[b] < 0 ? Int.max : columnLabels[b])
            return la != lb ? la < lb : a < b
        }
        let layerOf = { (column: Int) in layers.firstIndex { $0.range.contains(column) } ?? 0 }
        let stripHeight = 10
        var svg = "<svg class=\"layer-strip\" width=\"\(left + mapWidth)\" height=\"\(stripHeight + 2)\" role=\"img\" aria-label=\"layer of each neuron\">"
        var start = 0
        while start < m {
            let layer = layerOf(order[start])
            var end = start + 1
            while end < m && layerOf(order[end]) == layer { end += 1 }
            let x0 = left + start * mapWidth / m, x1 = left + end * mapWidth / m
            svg += "<rect x=\"\(x0)\" y=\"1\" width=\"\(max(1, x1 - x0))\" height=\"\(stripHeight)\" fill=\"\(layerColour(layer))\"></rect>"
            start = end
        }
        svg += "</svg>"
        let legend = layers.enumerated().map { index, columns in
            "<span style=\"color:\(layerColour(index))\">■</span> \(escape(columns.layer)) (\(columns.count))"
        }.joined(separator: " &nbsp; ")
        return "<div>\(svg)</div><div class=\"legend muted\">neuron layers: \(legend)</div>\n"
    }

    /// A module's neurons grouped by layer, each group in its layer's colour (numbers are positions within the
    /// layer); the plain list for one layer.
    static func neuronList(_ neurons: [Int], layers: [LayerColumns]?, limit: Int) -> String {
        guard let layers, layers.count > 1 else {
            return neurons.prefix(limit).map(String.init).joined(separator: ", ") + (neurons.count > limit ? ", …" : "")
        }
        return layers.enumerated().compactMap { index, columns -> String? in
            let local = neurons.filter { columns.range.contains($0) }.map { $0 - columns.start }
            guard !local.isEmpty else { return nil }
            let shown = local.prefix(limit).map(String.init).joined(separator: ", ") + (local.count > limit ? ", …" : "")
            return "<span style=\"color:\(layerColour(index))\" title=\"\(escape(columns.layer))\"><b>\(escape(columns.layer))</b> (\(local.count)): \(shown)</span>"
        }.joined(separator: "<br>")
    }
}
