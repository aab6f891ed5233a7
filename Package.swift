// swift-tools-version:6.0
// ModScope: finds functional modules in trained neural networks (attribution → biclustering → evaluation),
// with a distributed attribution runtime on ZeroMQ. See docs/architecture.md for the module graph.
import PackageDescription

/// Release builds of numeric kernels: bounds checks stay on in Swift code (safety first); hot loops use
/// unsafe buffer pointers explicitly.
let swiftSettings: [SwiftSetting] = []

let package = Package(
    name: "ModScope",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "modscope", targets: ["ModScopeCLI"]),
        .library(name: "ModScope", targets: ["ModScope"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // System libraries (module map + pkg-config + apt provider).
        // OpenBLAS and LAPACKE, loaded at run time by TensorCore (CBLASLoader.h says why); Debian's
        // libopenblas-dev and liblapacke-dev provide them (the Makefile installs them).
        .target(name: "CBLASLoader", linkerSettings: [.linkedLibrary("dl")]),
        .systemLibrary(
            name: "CZeroMQ",
            providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        // Hardware SHA-256 (x86 SHA extensions) and CRC-32C (SSE4.2), detected at run time; BatchRuntime falls back
        // to its portable Swift code elsewhere.
        .target(name: "CChecksumKernels"),

        // NumPy .npy/.npz and CSV readers (memory-mapped, streamed) and .npy writers. Only zlib (npz inflate).
        .target(name: "ArrayFiles", dependencies: ["CZlib"], swiftSettings: swiftSettings),
        // Tensors and kernels: the only target that calls BLAS/LAPACK.
        .target(name: "TensorCore", dependencies: ["CBLASLoader"], swiftSettings: swiftSettings),
        // Computation graph: op table (forward + VJP), executor, reverse mode, backward-rule overrides.
        .target(name: "Autodiff", dependencies: ["TensorCore"], swiftSettings: swiftSettings),
        // ONNX protobuf (generated, committed) and the importer ONNX → Autodiff graph.
        .target(
            name: "ONNX",
            dependencies: ["Autodiff", "TensorCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: swiftSettings),
        // Layer attribution methods (Captum parity), quadrature, targets, data readers.
        .target(name: "Attribution", dependencies: ["Autodiff", "TensorCore", "ArrayFiles"], swiftSettings: swiftSettings),
        // Spectral co-clustering / biclustering, k-means, consensus, k selection.
        .target(name: "Biclustering", dependencies: ["TensorCore", "ArrayFiles"], swiftSettings: swiftSettings),
        // Coordinator/worker state machines, leases, journal, wire messages. No ML imports.
        .target(
            name: "BatchRuntime", dependencies: ["ArrayFiles", "CChecksumKernels", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        // libzmq wrapper and transport: the only target that calls libzmq.
        .target(name: "ZeroMQTransport", dependencies: ["CZeroMQ", "BatchRuntime"], swiftSettings: swiftSettings),
        // The pipeline: jobs, run folder, evaluation, report.
        .target(
            name: "ModScope",
            dependencies: [
                "ArrayFiles", "TensorCore", "Autodiff", "ONNX", "Attribution", "Biclustering", "BatchRuntime",
                "ZeroMQTransport", "CZlib",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        // The command-line tool (ArgumentParser commands only).
        .executableTarget(
            name: "ModScopeCLI",
            dependencies: ["ModScope", "ONNX", "Attribution", "Biclustering", "BatchRuntime", "ZeroMQTransport", "ArrayFiles", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings),

        // Helpers shared by the test targets (hostile model builder); not part of any product.
        .target(
            name: "TestSupport", dependencies: ["ONNX", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Tests/TestSupport"),
        // One test target per module; fixtures live in Tests/<Target>Tests/Fixtures and are found via #filePath.
        .testTarget(name: "ArrayFilesTests", dependencies: ["ArrayFiles"], exclude: ["Fixtures"]),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
        .testTarget(name: "AutodiffTests", dependencies: ["Autodiff", "TensorCore"]),
        .testTarget(
            name: "ONNXTests",
            dependencies: [
                "ONNX", "Autodiff", "TensorCore", "ArrayFiles", "TestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "AttributionTests", dependencies: ["Attribution", "ONNX", "Autodiff", "TensorCore", "ArrayFiles"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "BiclusteringTests", dependencies: ["Biclustering", "TensorCore", "ArrayFiles"], exclude: ["Fixtures"]),
        .testTarget(name: "BatchRuntimeTests", dependencies: ["BatchRuntime", "ArrayFiles"]),
        .testTarget(name: "ZeroMQTransportTests", dependencies: ["ZeroMQTransport", "BatchRuntime"]),
        .testTarget(
            name: "ModScopeTests",
            dependencies: [
                "ModScope", "ONNX", "ArrayFiles", "Biclustering", "Attribution", "BatchRuntime", "CZlib",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ], exclude: ["Fixtures"]),
        .testTarget(
            name: "ModScopeCLITests", dependencies: ["ModScope", "ArrayFiles", "BatchRuntime", "TestSupport"], exclude: ["Fixtures"]),
    ]
)
