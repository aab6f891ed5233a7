import BatchRuntime
import Foundation

/// Writes RUN/report.html from evaluation.json: a self-contained summary table of the modules.
public enum ReportWriter {
    public static func write(runFolder: URL) throws {
        let evaluationURL = runFolder.appendingPathComponent("evaluation.json")
        guard let data = try? Data(contentsOf: evaluationURL) else {
            throw InputError("\(runFolder.path) has no evaluation.json; run `modscope evaluate \(runFolder.path)` first")
        }
        let evaluation = try JSONDecoder().decode(Evaluation.self, from: data)
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var rows = ""
        for module in evaluation.modules {
            rows += "<tr><td>\(module.id)</td><td>\(module.sampleCount)</td><td>\(module.neuronCount)</td>"
                + "<td>\(module.stability.map { String(format: "%.2f", $0) } ?? "–")</td>"
                + "<td>\(module.labels.map { "\($0.majority) (\(String(format: "%.0f%%", $0.purity * 100)))" } ?? "–")</td></tr>\n"
        }
        let html = """
            <!doctype html><html><head><meta charset="utf-8"><title>ModScope report</title></head><body>
            <h1>ModScope report</h1><p>Layer \(escape(evaluation.layer)), method \(escape(evaluation.method)), \
            \(evaluation.samples) samples × \(evaluation.neurons) neurons, k = \(evaluation.k).</p>
            <table><tr><th>module</th><th>samples</th><th>neurons</th><th>stability</th><th>majority label</th></tr>
            \(rows)</table></body></html>
            """
        try AtomicFile.write(Data(html.utf8), to: runFolder.appendingPathComponent("report.html"))
    }
}
