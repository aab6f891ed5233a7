import BatchRuntime
import Foundation

extension AnalysisSettings {
    /// `--compare-with`: the folder must already hold modules (checked before the run starts, exit 2 otherwise);
    /// returns its absolute path, which is what run.json keeps.
    public static func checkComparedFolder(_ path: String) throws -> String {
        _ = try ComparedModules.load(path: path)
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

extension ReportWriter {
    /// The "Compared with another run" section when the run was started with `--compare-with`: the agreement
    /// figures of `modscope compare` and the matched modules as a table. Empty when not asked for; a short note
    /// when the other folder can no longer be read (the report is still written).
    static func comparisonSection(runFolder: URL, manifest: RunManifest?) -> String {
        guard let manifest, manifest.job.kind == AttributionJobKind.name,
            let other = try? AttributionJobKind.decode(manifest.job).analysis.compareWith
        else { return "" }
        let comparison: ModuleComparison
        let description: String?
        do {
            let compared = try ComparedModules.load(path: other)
            description = compared.description
            comparison = try ModuleComparison(try ComparedModules.load(path: runFolder.path), compared)
        } catch {
            let message = (error as? InputError)?.message ?? "\(error)"
            return "<h2>Compared with another run</h2>\n<p class=\"muted\">\(escape(other)) could not be compared: \(escape(message))</p>\n"
        }
        var html = "<h2 id=\"comparison\">Compared with another run</h2>\n"
        html += "<p class=\"muted\">This run's modules (A) against those of <code>\(escape(other))</code>"
            + (description.map { " (\(escape($0)))" } ?? "") + " (B), on the same \(comparison.samples) samples.</p>\n<div>"
        html += "<div class=\"metric\">sample ARI<span>\(format(comparison.sampleARI, 3))</span></div>"
        html += "<div class=\"metric\">sample NMI<span>\(format(comparison.sampleNMI, 3))</span></div>"
        html += "<div class=\"metric\">neuron ARI<span>\(format(comparison.neuronARI, 3))</span></div>"
        html += "<div class=\"metric\">mean matched Jaccard<span>\(format(comparison.meanMatchedJaccard, 3))</span></div></div>\n"
        html += comparison.sharedLayers.isEmpty
            ? "<p class=\"muted\">The runs share no layer: neurons are not compared and modules are matched on their samples.</p>\n"
            : "<p class=\"muted\">Neurons compared over: \(escape(comparison.sharedLayers.joined(separator: ", "))).</p>\n"
        html += "<table class=\"comparison\"><tr><th>A</th><th>B</th><th>Jaccard</th><th>samples</th><th>neurons</th></tr>\n"
        for m in comparison.matched {
            html += "<tr><td>\(m.a)</td><td>\(m.b)</td><td>\(format(m.jaccard))</td><td>\(format(m.sampleJaccard))</td><td>\(format(m.neuronJaccard))</td></tr>\n"
        }
        html += "</table>\n"
        if !comparison.unmatchedA.isEmpty || !comparison.unmatchedB.isEmpty {
            html += "<p class=\"muted\">Unmatched: A \(comparison.unmatchedA.map(String.init).joined(separator: ", ")); B \(comparison.unmatchedB.map(String.init).joined(separator: ", ")).</p>\n"
        }
        return html
    }
}
