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
            abstract: "Forward + backward of an MLP through the graph engine, against raw cblas_sgemm GFLOP/s.")

        @Option(help: "Layer sizes of the MLP, comma-separated.")
        var layers = "784,1024,1024,10"
        @Option(help: "Rows per batch.")
        var batch = 512
        @Option(help: "Timed iterations.")
        var repetitions = 20
        @Option(help: "OpenBLAS threads.")
        var threads = 2

        func run() throws {
            try reportingErrors {
                BLAS.setThreadCount(threads)
                let sizes = layers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 }) else {
                    throw ValidationError("--layers must list at least two positive sizes, e.g. 784,1024,1024,10")
                }
                let result = try EngineBenchmark(layerSizes: sizes, batch: batch, repetitions: repetitions).run()
                print("MLP \(layers), batch \(batch), \(threads) BLAS threads")
                print(String(format: "  cblas_sgemm:               %7.1f GFLOP/s", result.sgemmGFLOPs))
                print(String(format: "  engine forward+backward:   %7.1f GFLOP/s  (%.2f ms per batch, %.0f%% of sgemm)",
                    result.engineGFLOPs, result.secondsPerIteration * 1000, result.fraction * 100))
            }
        }
    }
}
