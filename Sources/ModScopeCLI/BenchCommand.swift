import ArgumentParser
import Foundation
import ModScope
import TensorCore

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure ModScope's throughput on this machine (figures for docs/performance.md).",
        subcommands: [EngineBench.self])

    struct EngineBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "engine",
            abstract: "Forward + backward of an MLP or resnet18 through the graph engine, against raw cblas_sgemm GFLOP/s.")

        @Option(help: "The network: mlp (Gemm-Relu layers, see --layers) or resnet18 (torchvision's topology, --side).")
        var network = "mlp"
        @Option(help: "Layer sizes of the MLP, comma-separated.")
        var layers = "784,1024,1024,10"
        @Option(help: "Input height and width of resnet18, pixels (16–512).")
        var side = 64
        @Option(help: "Samples per batch (default 512 for the MLP, 32 for resnet18).")
        var batch: Int?
        @Option(help: "Timed iterations (default 20 for the MLP, 5 for resnet18).")
        var repetitions: Int?
        @Option(help: "OpenBLAS threads.")
        var threads = 2

        func run() throws {
            try reportingErrors {
                try FlagLimits.check("--threads", threads, in: FlagLimits.threads)
                let selected: EngineBenchmark.Network
                let title: String
                switch network {
                case "mlp":
                    let sizes = layers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                    guard sizes.count >= 2, sizes.allSatisfy({ (1...65_536).contains($0) }) else {
                        throw ValidationError("--layers must list at least two sizes of 1–65536, e.g. 784,1024,1024,10")
                    }
                    selected = .mlp(sizes)
                    title = "MLP \(layers)"
                case "resnet18":
                    guard (16...512).contains(side) else { throw ValidationError("--side must be 16–512 pixels (got \(side))") }
                    selected = .resnet18(side: side)
                    title = "resnet18 \(side)×\(side)"
                default:
                    throw ValidationError("--network must be mlp or resnet18 (got '\(network)')")
                }
                let isMLP = network == "mlp"
                let batch = self.batch ?? (isMLP ? 512 : 32)
                let repetitions = self.repetitions ?? (isMLP ? 20 : 5)
                guard (1...100_000).contains(batch) else { throw ValidationError("--batch must be 1–100000 (got \(batch))") }
                guard (1...10_000).contains(repetitions) else {
                    throw ValidationError("--repetitions must be 1–10000 (got \(repetitions))")
                }
                BLAS.setThreadCount(threads)
                let result = try EngineBenchmark(network: selected, batch: batch, repetitions: repetitions).run()
                print("\(title), batch \(batch), \(threads) BLAS threads")
                print(String(format: "  cblas_sgemm:               %7.1f GFLOP/s", result.sgemmGFLOPs))
                print(String(format: "  engine forward+backward:   %7.1f GFLOP/s  (%.2f ms per batch, %.0f%% of sgemm)",
                    result.engineGFLOPs, result.secondsPerIteration * 1000, result.fraction * 100))
            }
        }
    }
}
