import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn benchkernels` (`KernelBenchmarkRequest`).
struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-kernels",
        abstract: "Measure GFLOP/s of sgemm 1024³ and the EfficientNet-B0 convolution shapes.")
    @Option(parsing: .unconditional, help: "Batch size for the convolution shapes.") var batch = 16
    @Option(parsing: .unconditional, help: "Input resolution for the convolution shapes.") var size = 112
    @Option(help: "Backbone whose convolutions are measured.") var backbone = "efficientnet_b0"
    @Option(parsing: .unconditional, help: "Minimum seconds per measurement.") var seconds = 0.3
    @OptionGroup var threads: ThreadOptions
    @Flag(help: "Print JSON lines instead of a table.") var json = false

    func run() throws {
        try guarded {
            try threads.apply()
            try KernelBenchmarkRequest(batch: batch, size: size, backbone: backbone, seconds: seconds, json: json).run()
        }
    }
}
