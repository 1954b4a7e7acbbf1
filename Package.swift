// swift-tools-version:6.0
import PackageDescription

/// adnn — facial-expression recognition on the CPU, in Swift.
///
/// Targets, bottom to top:
/// - `CBLAS`, `CJPEG`, `CPNG`: system libraries (OpenBLAS, libjpeg-turbo, libpng).
/// - `ADNNKernels`: plain functions over raw buffers (the only importer of CBLAS), built `-Ounchecked`.
/// - `ADNN`: `Tensor`, reverse-mode autograd, differentiable ops, modules, models, losses, optimizers.
/// - `ADNNData`: image I/O, dataset readers, transforms, augmentation, loader.
/// - `ADNNTrain`: the application layer: typed run configuration, training runs, evaluation,
///   checkpoints, the image classifier and face cropper, ablation, tuning and their reports,
///   TensorBoard event files.
/// - `CMPI`, `ADNNDistributed`: Open MPI (C API) and data-parallel training helpers (communicator,
///   bucketed gradient allreduce, epoch sharding); `adnn-mpi-check` is its multi-process test helper.
/// - `ADNNReport`: `adnn report`, one self-contained HTML file for a run, ablation or tuning folder.
/// - `adnn`: the command-line tool (argument parsing plus one library call per command).
///
/// On x86-64 the Swift kernels are compiled for the building machine's CPU (`-march=native`: AVX2/FMA or
/// AVX-512 lanes for the SIMD16 loops instead of four SSE halves). Set `ADNN_MARCH` to another clang
/// `-march` value (e.g. `x86-64-v3`) for a binary that must run on other machines, or to `none` to
/// build for the toolchain's baseline.
let marchFlags: [String] = {
    #if arch(x86_64)
    let march = Context.environment["ADNN_MARCH"] ?? "native"
    return march == "none" ? [] : ["-Xcc", "-march=\(march)"]
    #else
    return []
    #endif
}()
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"] + marchFlags)]
let coreFlags: [SwiftSetting] = marchFlags.isEmpty ? [] : [.unsafeFlags(marchFlags)]

let package = Package(
    name: "adnn",
    products: [
        .executable(name: "adnn", targets: ["adnn"]),
        .library(name: "ADNN", targets: ["ADNN"]),
        .library(name: "ADNNData", targets: ["ADNNData"]),
        .library(name: "ADNNTrain", targets: ["ADNNTrain"]),
        .library(name: "ADNNVideo", targets: ["ADNNVideo"]),
        .library(name: "ADNNReport", targets: ["ADNNReport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CFFmpeg", path: "Sources/CFFmpeg", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev",
                                         "libavdevice-dev"])]),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "ADNNKernels", dependencies: ["CBLAS"], swiftSettings: kernelFlags),
        .target(name: "ADNN", dependencies: ["ADNNKernels"], swiftSettings: coreFlags),
        .target(name: "ADNNData", dependencies: ["ADNNKernels", "CJPEG", "CPNG"], swiftSettings: kernelFlags),
        .target(name: "ADNNTrain", dependencies: ["ADNN", "ADNNData", "ADNNKernels", "ADNNDistributed", .product(name: "Yams", package: "Yams")],
                swiftSettings: coreFlags),
        .target(name: "ADNNReport", dependencies: ["ADNNTrain", "ADNN", "ADNNData"], swiftSettings: coreFlags),
        .target(name: "ADNNDistributed", dependencies: ["CMPI", "ADNN"], swiftSettings: coreFlags),
        .executableTarget(name: "adnn-kernel-bench", dependencies: ["ADNNKernels"], swiftSettings: coreFlags),
        .executableTarget(name: "adnn-mpi-check", dependencies: ["ADNNDistributed", "ADNN", "ADNNTrain", "ADNNKernels", "CMPI"]),
        .target(name: "ADNNVideo", dependencies: ["ADNN", "ADNNData", "ADNNKernels", "CFFmpeg"],
                swiftSettings: coreFlags),
        .executableTarget(name: "adnn", dependencies: [
            "ADNN", "ADNNData", "ADNNKernels", "ADNNTrain", "ADNNReport", "ADNNVideo",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ADNNTests", dependencies: ["ADNN", "ADNNKernels", "ADNNData", "ADNNTrain"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ADNNTrainTests", dependencies: ["ADNNTrain", "ADNN", "ADNNData"]),
        .testTarget(name: "ADNNReportTests", dependencies: ["ADNNReport", "ADNNTrain", "ADNN", "ADNNData"]),
        .testTarget(name: "ADNNDistributedTests", dependencies: ["ADNNDistributed", "ADNN", "ADNNTrain", "adnn-mpi-check", "adnn"]),
        .testTarget(name: "ADNNVideoTests", dependencies: ["ADNNVideo", "ADNNTrain", "ADNN", "ADNNData", "ADNNKernels"]),
        .testTarget(name: "ADNNDataTests", dependencies: ["ADNNData", "ADNNKernels"],
                    resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)
