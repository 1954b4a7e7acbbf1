import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn bench` (`BenchmarkRequest`).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench",
        abstract: "Measure inference or training throughput of a config's model on random input.")
    @Option(help: "YAML config file.") var config: String
    @Option(help: "infer or train.") var mode: String = "infer"
    @Option(parsing: .unconditional, help: "Batch size.") var batch: Int = 1
    @Option(parsing: .unconditional, help: "Measurement window in seconds (after warm-up).") var seconds: Double = 10
    @Option(parsing: .unconditional, help: "Warm-up iterations.") var warmup: Int = 2
    @OptionGroup var threads: ThreadOptions
    @Flag(help: "Print one JSON line.") var json = false
    @Flag(help: "Round the weights to half precision first, as `adnn export --half` stores them (inference then reads half-precision weight panels: the same results as Float panels for such weights, half the bytes).")
    var halfWeights = false

    func run() throws {
        try guarded {
            try threads.apply()
            try BenchmarkRequest(config: config, mode: mode, batch: batch, seconds: seconds, warmup: warmup, json: json,
                                 halfWeights: halfWeights).run()
        }
    }
}
