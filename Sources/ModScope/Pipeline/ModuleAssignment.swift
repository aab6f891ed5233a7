import ArrayFiles
import Biclustering
import Foundation

/// The modules of a biclustering as written in DIR/ (modules.json, row_labels.npy): what evaluation needs.
public struct ModuleAssignment: Sendable {
    public var k: Int
    public var modules: [BiclusterModule]
    /// Module id per sample; −1 = in no module.
    public var rowLabels: [Int32]

    public init(k: Int, modules: [BiclusterModule], rowLabels: [Int32]) {
        self.k = k
        self.modules = modules
        self.rowLabels = rowLabels
    }

    public init(_ result: BiclusterResult) {
        self.init(k: result.k, modules: result.modules, rowLabels: result.rowLabels)
    }

    /// Reads DIR/modules.json and DIR/row_labels.npy.
    public static func read(from directory: URL) throws -> ModuleAssignment {
        struct ModulesFile: Decodable { var k: Int; var modules: [BiclusterModule] }
        let modulesURL = directory.appendingPathComponent("modules.json")
        guard let data = try? Data(contentsOf: modulesURL) else {
            throw InputError("\(modulesURL.path) is missing; run the biclustering first (`modscope resume` or `modscope bicluster`)")
        }
        let file: ModulesFile
        do { file = try JSONDecoder().decode(ModulesFile.self, from: data) } catch {
            throw InputError("\(modulesURL.path) is not a modules.json written by ModScope (\(error))")
        }
        let labels = try NPYReader(path: directory.appendingPathComponent("row_labels.npy").path).integerValues()
        return ModuleAssignment(k: file.k, modules: file.modules, rowLabels: labels.map { Int32($0) })
    }
}
