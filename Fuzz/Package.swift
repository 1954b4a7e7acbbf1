// swift-tools-version:6.0
import PackageDescription

/// libFuzzer targets for adnn's file readers, kept out of the main package so that `swift build` and
/// `swift test` never see them. Build and run with `Scripts/fuzz.sh TARGET SECONDS` (it passes
/// `-sanitize=fuzzer,address`). Each target is one `main.swift`: a `fuzz(data, size)` function fed every
/// input, handed to libFuzzer's `LLVMFuzzerRunDriver` (declared by the `CFuzzer` target).
let targets: [(name: String, dependencies: [Target.Dependency])] = [
    ("fuzz-jpeg", [.product(name: "ADNNData", package: "adnn")]),
    ("fuzz-png", [.product(name: "ADNNData", package: "adnn")]),
    ("fuzz-safetensors", [.product(name: "ADNN", package: "adnn")]),
    ("fuzz-pth", [.product(name: "ADNN", package: "adnn")]),
    ("fuzz-csv", [.product(name: "ADNNData", package: "adnn")]),
    ("fuzz-npy", [.product(name: "ADNNData", package: "adnn")]),
    ("fuzz-config", [.product(name: "ADNNTrain", package: "adnn")]),
]

let package = Package(
    name: "adnn-fuzz",
    products: targets.map { .executable(name: $0.name, targets: [$0.name]) },
    dependencies: [.package(name: "adnn", path: "..")],
    targets: [.target(name: "CFuzzer", path: "Sources/CFuzzer")] + targets.map {
        .executableTarget(name: $0.name, dependencies: ["CFuzzer"] + $0.dependencies, path: "Sources/\($0.name)")
    },
    swiftLanguageModes: [.v5]
)
