import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn tune`: Bayesian optimisation of numeric config settings (`TuningRequest`).
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tune",
        abstract: "Bayesian optimisation of hyper-parameters (GP + Expected Improvement); writes DIR/trials.jsonl and DIR/best.yaml.",
        discussion: """
        The default search space is optim.lr (log 1e-4…3e-3), optim.weight_decay (log 1e-3…0.1), augment.mixup (0…0.5), \
        loss.dls_epsilon (0…0.2) and model.drop_rate (0…0.5). A --space YAML file replaces it, e.g.
          optim.lr: {low: 1.0e-4, high: 3.0e-3, log: true}
          model.transformer.layers: {low: 1, high: 4, integer: true}
        """)

    @Option(help: "YAML config to start from.") var config: String
    @Option(help: "Data set folder or CSV (default: the config's synthetic set).") var data: String?
    @Option(parsing: .unconditional, help: "Number of trials (a rerun with more continues the search).") var trials: Int
    @Option(help: "Output folder (default: runs/tune-<config name>).") var out: String?
    @Option(parsing: .unconditional, help: "Override schedule.epochs for every trial (best.yaml keeps the config's).") var epochs: Int?
    @Option(help: "Objective on the validation split: val_accuracy or macro_f1.") var metric: String = "val_accuracy"
    @Option(help: "Search-space YAML (default: the space listed above).") var space: String?
    @Option(parsing: .unconditional, help: "Seed of the tuner's design and candidates (default: the config's seed; training always uses the config's).")
    var seed: Int?
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            try threads.apply()
            try TuningRequest(config: config, data: data, trials: trials, out: out, epochs: epochs, metric: metric,
                              space: space, seed: seed).run()
        }
    }
}
