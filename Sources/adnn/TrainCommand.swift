import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn train`: trains a config on a data set, writing the run folder of SPEC §5.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train",
        abstract: "Train a model; writes RUN/config.yaml, metrics.jsonl, last/best.safetensors and eval.json.")

    @Option(help: "YAML config file.") var config: String
    @Option(help: "Data set folder or CSV (default: the config's synthetic set).") var data: String?
    @Option(help: "Run folder (default: runs/<config name>).") var out: String?
    @Option(parsing: .unconditional, help: "Override schedule.epochs.") var epochs: Int?
    @Option(parsing: .unconditional, help: "Override seed.") var seed: Int?
    @Option(parsing: .unconditional, help: "Train on at most this many images per epoch (quick checks).") var limit: Int?
    @Flag(help: "Resume from RUN/last.safetensors.") var resume = false
    @Flag(help: "Horizontal-flip test-time augmentation in the final evaluation.") var tta = false
    @Flag(help: "Replace an existing run in the run folder (otherwise an existing run needs --resume).") var force = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            try threads.apply()
            try TrainingRequest(configPath: config, dataPath: data, out: out, epochs: epochs, seed: seed, limit: limit,
                                resume: resume, tta: tta, force: force).run()
        }
    }
}
