import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn train`: trains a config on a data set, writing the run folder of SPEC §5. Under
/// `mpirun -np N` the N processes train one model together (data parallel; rank 0 writes the run).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train",
        abstract: "Train a model; writes RUN/config.yaml, metrics.jsonl, last/best.safetensors and eval.json.",
        discussion: "Data parallel over Open MPI: mpirun -np N adnn train … (data.batch_size is the global batch; ADNN_NUM_THREADS per rank).")

    @Option(help: "YAML config file.") var config: String
    @Option(help: "Data set folder or CSV (default: the config's synthetic set).") var data: String?
    @Option(help: "Run folder (default: runs/<config name>).") var out: String?
    @Option(parsing: .unconditional, help: "Override schedule.epochs.") var epochs: Int?
    @Option(parsing: .unconditional, help: "Override seed.") var seed: Int?
    @Option(parsing: .unconditional, help: "Train on at most this many images per epoch (quick checks).") var limit: Int?
    @Option(name: .customLong("time-budget"), help: "Wall-clock budget for the whole run (60m, 1.5h, 90s; overrides schedule.time_budget_minutes).")
    var timeBudget: String?
    @Flag(help: "Resume from RUN/last.safetensors.") var resume = false
    @Flag(help: "Horizontal-flip test-time augmentation in the final evaluation.") var tta = false
    @Flag(name: .customLong("tta-crops"), help: "Ten-crop test-time augmentation in the final evaluation (10 views).") var ttaCrops = false
    @Flag(help: "Replace an existing run in the run folder (otherwise an existing run needs --resume).") var force = false
    @Flag(name: .customLong("freeze-bn"), help: "Keep batch-norm layers on their running statistics while training.")
    var freezeBN = false
    @Flag(name: .customLong("sync-bn"), help: "Under mpirun: average the batch-norm running statistics over the ranks every epoch.")
    var syncBN = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            try threads.apply()
            var request = TrainingRequest(configPath: config, dataPath: data, out: out, epochs: epochs, seed: seed, limit: limit,
                                          resume: resume, tta: TestTimeAugmentation(flip: tta, crops: ttaCrops), force: force, freezeBatchNorm: freezeBN, syncBatchNorm: syncBN,
                                          threads: threads.threads)
            request.timeBudgetMinutes = try timeBudget.map { try TimeBudget.minutes(parsing: $0) }
            try request.runAsRank()
        }
    }
}
