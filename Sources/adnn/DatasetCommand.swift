import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn dataset` (`DatasetReportRequest`).
struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Show a dataset's format, splits, class counts and skipped files.",
        discussion: """
            --data is a dataset folder, a CSV file (fer2013.csv, fer2013new.csv, an AffectNet list), \
            or synthetic[:train=N,val=N,test=N,size=S,seed=K]. With --bench, also measures images \
            per second of the training loader (decode, augment, batch) for --seconds.
            """)
    @OptionGroup var source: DatasetSourceOptions
    @Flag(help: "Print JSON instead of a table.")
    var json = false
    @Flag(help: "Decode every image; corrupt files are skipped, counted and named.")
    var verify = false
    @Flag(help: "Measure loader throughput (decode + augment + batch).")
    var bench = false
    @Option(parsing: .unconditional, help: "Benchmark: output side in pixels.")
    var size: Int = 112
    @Option(parsing: .unconditional, help: "Benchmark: batch size.")
    var batch: Int = 64
    @Option(parsing: .unconditional, help: "Benchmark: worker threads.")
    var workers: Int = 2
    @Option(parsing: .unconditional, help: "Benchmark: seconds of batches to time.")
    var seconds: Double = 10
    @Option(help: "Benchmark: split to load.")
    var split: String = "train"
    @Option(parsing: .unconditional, help: "Benchmark: output channels (1 or 3).")
    var channels: Int = 3
    @Flag(help: "Benchmark: apply CLAHE when preparing images.")
    var clahe = false
    @Flag(name: .customLong("no-cache"), help: "Benchmark: decode on every use instead of caching.")
    var noCache = false
    @Flag(name: .customLong("no-augment"), help: "Benchmark: no augmentation (evaluation pipeline).")
    var noAugment = false

    func run() throws {
        try guarded {
            try DatasetReportRequest(source: source.library, json: json, verify: verify, bench: bench, size: size, batch: batch, workers: workers, seconds: seconds, split: split, channels: channels, clahe: clahe, noCache: noCache, noAugment: noAugment).run()
        }
    }
}
