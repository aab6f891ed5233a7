import ArrayFiles
import BatchRuntime
import Biclustering
import Foundation
import ONNX
import ZeroMQTransport

/// The stages after the attribution matrix: biclustering → evaluation → report, each resumable.
///
/// A stage is done when run.json records it as finished, its output exists and the SHA-256 of its inputs
/// (`inputs(of:)`) is the one recorded when it finished; `run`, `coordinator` and `resume` skip done stages, so
/// a run stopped during biclustering resumes there without touching the matrix, and a stage whose input
/// changed (a matrix recomputed by resume, a new biclustering) is redone.
/// `evaluate` and `report` redo their stage (and what follows) on request.
public struct AnalysisPipeline {
    public enum Stage: String, CaseIterable, Sendable {
        case bicluster, evaluate, report
    }

    public let folder: RunFolder
    public var quiet = false
    /// Local worker processes for the evaluation's ablation job (0: computed in this process).
    public var ablationWorkers = 0
    /// External workers kept connected after the matrix (`coordinator`, `resume`): the ablation job runs on them.
    public var heldWorkers: CoordinatorEndpoint?

    public init(folder: RunFolder, quiet: Bool = false, ablationWorkers: Int = 0) {
        self.folder = folder
        self.quiet = quiet
        self.ablationWorkers = ablationWorkers
    }

    var biclusterURL: URL { folder.url.appendingPathComponent("bicluster") }
    var evaluationURL: URL { folder.url.appendingPathComponent("evaluation.json") }
    var reportURL: URL { folder.url.appendingPathComponent("report.html") }

    func output(of stage: Stage) -> URL {
        switch stage {
        case .bicluster: return biclusterURL.appendingPathComponent("modules.json")
        case .evaluate: return evaluationURL
        case .report: return reportURL
        }
    }

    /// The run-folder files `stage` reads; their digest (`inputDigest`) is recorded with the stage, and a
    /// stage whose inputs changed since is not done (resume redoes it and, through their inputs, what follows).
    func inputs(of stage: Stage) -> [URL] {
        let bicluster = Self.biclusterFiles.map { biclusterURL.appendingPathComponent($0) }
        switch stage {
        case .bicluster: return [folder.matrixURL]
        case .evaluate: return bicluster
        case .report: return [folder.matrixURL] + bicluster + [evaluationURL]
        }
    }

    /// What the biclustering stage writes into bicluster/ (and the later stages read).
    static let biclusterFiles = ["modules.json", "row_labels.npy", "col_labels.npy", "stability.json"]

    /// SHA-256 over "name:sha256(file)\n" for every input of `stage` ("name:-" for a missing file). The matrix's
    /// own digest (the only large input, unchanged while the analysis runs) is computed once per `run`.
    func inputDigest(of stage: Stage, matrixDigest: inout String?) throws -> String {
        var text = ""
        for url in inputs(of: stage) {
            let digest: String
            if url == folder.matrixURL {
                if matrixDigest == nil { matrixDigest = try SHA256.hex(fileAt: url.path) }
                digest = matrixDigest!
            } else {
                digest = FileManager.default.fileExists(atPath: url.path) ? try SHA256.hex(fileAt: url.path) : "-"
            }
            text += "\(url.lastPathComponent):\(digest)\n"
        }
        return SHA256.hex(Data(text.utf8))
    }

    /// Finished, its output exists, and it was computed from the inputs that are there now.
    func isDone(_ stage: Stage, manifest: RunManifest, inputDigest: String) -> Bool {
        guard let timing = manifest.stages?[stage.rawValue], timing.finished != nil else { return false }
        return timing.inputSHA256 == inputDigest && FileManager.default.fileExists(atPath: output(of: stage).path)
    }

    func log(_ line: String) {
        if !quiet { StandardError.write("\(line)\n") }
    }

    /// Runs every stage not yet done, starting no earlier than `from` (stages from `from` on are redone).
    ///
    /// Refuses (`RuntimeUsageError`, exit 2) a run whose attribution matrix is incomplete or whose committed
    /// bytes do not match the journal (`RunIntegrity.requireCompleteMatrix`): no stage ever reads a partial matrix.
    public func run(from first: Stage? = nil) throws {
        guard FileManager.default.fileExists(atPath: folder.manifestURL.path) else {
            throw InputError("\(folder.url.path) is not a run folder (no run.json); pass the --out folder of `modscope run` or `coordinator`")
        }
        let manifest = try folder.loadManifest()
        guard manifest.job.kind == AttributionJobKind.name else { return }
        let parameters = try AttributionJobKind.decode(manifest.job)
        try RunIntegrity.requireCompleteMatrix(in: folder, forStage: (first ?? .bicluster).rawValue)
        var matrixDigest: String?
        for stage in Stage.allCases {
            let forced = first.map { Stage.allCases.firstIndex(of: stage)! >= Stage.allCases.firstIndex(of: $0)! } ?? false
            let digest = try inputDigest(of: stage, matrixDigest: &matrixDigest)
            let current = try folder.loadManifest()
            if !forced && isDone(stage, manifest: current, inputDigest: digest) {
                log("\(stage.rawValue): already done, skipped")
                continue
            }
            try timed(stage, inputDigest: digest) { try perform(stage, parameters) }
        }
        log("report: \(reportURL.path)")
    }

    private func timed(_ stage: Stage, inputDigest: String, _ body: () throws -> Void) throws {
        let started = Date()
        try folder.updateManifest { manifest in
            var stages = manifest.stages ?? [:]
            stages[stage.rawValue] = StageTiming(started: started)
            manifest.stages = stages
        }
        try body()
        let finished = Date()
        try folder.updateManifest { manifest in
            manifest.stages?[stage.rawValue] = StageTiming(
                started: started, finished: finished, seconds: finished.timeIntervalSince(started), inputSHA256: inputDigest)
        }
    }

    private func perform(_ stage: Stage, _ parameters: AttributionJobParameters) throws {
        switch stage {
        case .bicluster:
            log("bicluster: \(parameters.analysis.k == "auto" ? "choosing k in \(parameters.analysis.kRange)" : "k = \(parameters.analysis.k)"), \(parameters.analysis.restarts) restarts")
            let matrix = try MappedNPYFile(path: folder.matrixURL.path)
            var config = try parameters.analysis.biclusterConfig()
            let progress = StageProgress(label: "bicluster", total: config.restarts, unit: "restarts", quiet: quiet)
            config.onRestartFinished = { _, _ in progress.advance(by: 1) }
            let result = try fitTokenAware(matrix, config: config, parameters: parameters)
            progress.finish()
            try result.write(to: biclusterURL)
            log("bicluster: k = \(result.k), \(result.modules.filter { $0.degenerate == nil }.count) modules (\(result.selection.message))")
        case .evaluate:
            let result = try loadBiclusterResult()
            let model = try ONNXModel.load(path: parameters.modelPath)
            let table = try ModelSamples.table(
                for: parameters.spec, modelPath: parameters.modelPath, dataPath: parameters.dataPath, dataKey: parameters.dataKey)
            let labels = try parameters.labelsPath.map { try readLabels(path: $0) }
            let progress = StageProgress(label: "evaluate", total: result.modules.count, unit: "modules", quiet: quiet)
            if parameters.spec.rowsPerSample != nil {
                let vocabulary = try parameters.analysis.vocab.map { try TokenVocabulary(path: $0) }
                let evaluation = try TokenModuleEvaluator(
                    spec: parameters.spec, model: model, table: table, labels: labels, vocabulary: vocabulary, seed: parameters.analysis.seed
                ).evaluate(result: result, progress: progress)
                progress.finish()
                try writeEvaluation(evaluation)
                return
            }
            let backend: (any AblationBackend)? = ablationWorkers > 0 || heldWorkers != nil
                ? WorkerAblation(parameters: parameters, folder: folder, workers: ablationWorkers, held: heldWorkers, quiet: quiet) : nil
            let evaluation = try ModuleEvaluator(
                spec: parameters.spec, model: model, table: table, labels: labels, imageShape: parameters.analysis.imageShape
            ).evaluate(result: result, ablation: backend, progress: progress)
            progress.finish()
            try writeEvaluation(evaluation)
            if let nmi = evaluation.labelNMI { log(String(format: "evaluate: label NMI %.3f, ARI %.3f", nmi, evaluation.labelARI ?? 0)) }
        case .report:
            try ReportWriter.write(runFolder: folder.url)
        }
    }

    private func writeEvaluation(_ evaluation: Evaluation) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(evaluation), to: evaluationURL)
    }

    /// Biclusters the matrix; with token rows only the real tokens (attention mask 1) take part, and padding
    /// rows are left in no module (label −1).
    private func fitTokenAware(_ matrix: MappedNPYFile, config: BiclusterConfig, parameters: AttributionJobParameters) throws -> BiclusterResult {
        let spec = parameters.spec
        guard spec.rowsPerSample != nil else { return try Biclusterer(config: config).fit(matrix.view) }
        let model = try ONNXModel.load(path: parameters.modelPath)
        let table = try ModelSamples.open(model: model, path: parameters.dataPath, key: parameters.dataKey).table
        let kept = try TokenRows(spec: spec, model: model, table: table).tokenRows
        let view = matrix.view
        try Biclusterer(config: config).validate(rows: kept.count, cols: view.cols)
        var values = [Float]()
        values.reserveCapacity(kept.count * view.cols)
        for row in kept { values.append(contentsOf: UnsafeBufferPointer(start: view.base + row * view.cols, count: view.cols)) }
        log("bicluster: \(kept.count) of \(view.rows) token rows (the others are padding: attention mask 0)")
        let fitted = try Biclusterer(config: config).fit(MatrixView(copying: values, rows: kept.count, cols: view.cols))
        return fitted.placed(rows: kept, totalRows: view.rows)
    }

    /// A short plain-text summary of the modules from evaluation.json (printed at the end of a run).
    public func summary() throws -> String {
        let evaluation = try JSONDecoder().decode(Evaluation.self, from: Data(contentsOf: evaluationURL))
        let rows = evaluation.tokenPositions == nil ? "samples" : "token rows"
        var lines = ["\(evaluation.modules.count) modules at layer \(evaluation.layer) (\(evaluation.method), \(evaluation.samples) \(rows) × \(evaluation.neurons) neurons)"]
        if let nmi = evaluation.labelNMI {
            lines.append(String(format: "label NMI %.3f, ARI %.3f (labels were not used to find the modules)", nmi, evaluation.labelARI ?? 0))
        }
        lines.append("  module  \(evaluation.tokenPositions == nil ? "samples" : "   rows")  neurons  stability  majority label    ablation: own drop / others / random")
        for module in evaluation.modules {
            let label = module.labels.map { String(format: "%d (%.0f%%)", $0.majority, $0.purity * 100) } ?? "–"
            let ablation = module.ablation.map {
                String(format: "%.2f / %.2f / %.2f±%.2f", $0.own.outputDrop, $0.others.outputDrop, $0.random.outputDropMean, $0.random.outputDropSD)
            } ?? "–"
            let stability = module.stability.map { String(format: "%.2f", $0) } ?? "–"
            lines.append(
                String(format: "  %6d  %7d  %7d  ", module.id, module.sampleCount, module.neuronCount)
                    + stability.padding(toLength: 11, withPad: " ", startingAt: 0)
                    + label.padding(toLength: 17, withPad: " ", startingAt: 0) + ablation)
            if let tokens = module.tokens, !tokens.tokens.isEmpty {
                lines.append("          tokens: " + tokens.tokens.prefix(8).map { "\($0.text ?? "#\($0.id)") \($0.count)" }.joined(separator: ", "))
            }
        }
        lines.append("report: \(reportURL.path)")
        return lines.joined(separator: "\n")
    }

    /// The ablation table as an "ablation" job (RUN/ablation/) on the held external workers, or else on local
    /// worker processes.
    struct WorkerAblation: AblationBackend {
        let parameters: AttributionJobParameters
        let folder: RunFolder
        let workers: Int
        let held: CoordinatorEndpoint?
        let quiet: Bool
        func table(for task: AblationTask) throws -> [Float] {
            try AblationJobKind.runOnWorkers(task, parameters: parameters, folder: folder, localWorkers: workers, held: held, quiet: quiet)
        }
    }

    /// The consensus modules as written in bicluster/.
    func loadBiclusterResult() throws -> ModuleAssignment {
        try ModuleAssignment.read(from: biclusterURL)
    }
}
