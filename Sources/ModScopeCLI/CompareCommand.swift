import ArgumentParser
import Foundation
import ModScope

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "How far two runs' (or bicluster folders') modules agree: ARI/NMI of sample and neuron partitions, matched modules.",
        discussion: """
            A and B are run folders (`modscope run --out`) or bicluster folders (`modscope bicluster --out`) on the \
            same samples, e.g. two attribution methods or two layers. Neurons are compared over the layers both \
            runs have; modules are matched one to one by the Hungarian algorithm on their Jaccard index \
            (docs/user-guide.md, "Comparing runs").
            Example:
              modscope compare runs/conductance runs/deeplift --json
            """)

    @Argument(help: "The first run or bicluster folder.") var first: String
    @Argument(help: "The second run or bicluster folder.") var second: String

    @Flag(help: "Print JSON (keys sample_ari, sample_nmi, neuron_ari, neuron_nmi, matched, …) instead of a table.")
    var json = false

    func run() throws {
        try reportingErrors {
            let (a, b) = (try ComparedModules.load(path: first), try ComparedModules.load(path: second))
            let comparison = try ModuleComparison(a, b)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(comparison), as: UTF8.self))
            } else {
                print(comparison.text(descriptions: (a.description, b.description)))
            }
        }
    }
}
