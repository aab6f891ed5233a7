import ArrayFiles
import Foundation

/// A 2-D `.npy` matrix opened read-only for biclustering. The header is read and checked by ArrayFiles'
/// `NPYReader`; little-endian float32 in C order is then memory-mapped and used in place (never copied: pages
/// are read as the blocks pass over them). Other float files (float16/float64, big-endian, Fortran order) are
/// converted once to a float32 copy in memory. Integer or bool dtypes and rank ≠ 2 are rejected.
public final class MappedNPYFile: @unchecked Sendable {
    public let path: String
    public let rows: Int
    public let cols: Int
    private let mapping: UnsafeMutableRawPointer?
    private let mappingLength: Int
    private let converted: OwnedBuffer?
    private let dataPointer: UnsafePointer<Float>

    /// A view of the matrix, valid while this object lives (the view keeps it alive).
    public var view: MatrixView { MatrixView(rows: rows, cols: cols, base: dataPointer, owner: self) }

    /// - Throws: `BiclusteringError` naming `--matrix`, the file and what to change.
    public init(path: String) throws {
        self.path = path
        let reader: NPYReader
        do {
            reader = try NPYReader(path: path)
        } catch let error as ArrayFileError {
            throw BiclusteringError("--matrix: \(error.message)")
        }
        guard reader.shape.count == 2 else {
            throw BiclusteringError(
                "--matrix \(path): the matrix must have rank 2 (samples × neurons) but has shape (\(reader.shape.map(String.init).joined(separator: ", "))).")
        }
        guard reader.scalarType.isFloatingPoint else {
            throw BiclusteringError(
                "--matrix \(path): dtype \(reader.scalarType.numpyName) is not supported; save the matrix as float32 (or float16/float64).")
        }
        rows = reader.shape[0]
        cols = reader.shape[1]
        let count = rows * cols
        if reader.scalarType == .float32 && !reader.isBigEndian && !reader.isFortranOrder {
            // NPYReader checked that exactly count × 4 data bytes follow the header: they end the file.
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw BiclusteringError("--matrix \(path): cannot open the file (\(String(cString: strerror(errno)))).") }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw BiclusteringError("--matrix \(path): cannot read the file size.") }
            let size = Int(info.st_size)
            let offset = size - count * 4
            if count == 0 {
                mapping = nil
                mappingLength = 0
                let buffer = OwnedBuffer(uninitializedCount: 0)
                converted = buffer
                dataPointer = UnsafePointer(buffer.pointer)
                return
            }
            guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else {
                throw BiclusteringError("--matrix \(path): cannot memory-map the file.")
            }
            if offset % 4 == 0 {
                mapping = map
                mappingLength = size
                converted = nil
                dataPointer = UnsafePointer((map + offset).assumingMemoryBound(to: Float.self))
                return
            }
            munmap(map, size)
        }
        do {
            let buffer = OwnedBuffer(try reader.readAllFloats())
            mapping = nil
            mappingLength = 0
            converted = buffer
            dataPointer = UnsafePointer(buffer.pointer)
        } catch let error as ArrayFileError {
            throw BiclusteringError("--matrix: \(error.message)")
        }
    }

    deinit { if let mapping { munmap(mapping, mappingLength) } }
}
