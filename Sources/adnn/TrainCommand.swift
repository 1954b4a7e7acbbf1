import Foundation
import ArgumentParser
import ADNN
import ADNNData
import ADNNKernels

/// `adnn train`: trains a config on a data set, writing the run folder of SPEC §5.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train",
        abstract: "Train a model; writes RUN/config.yaml, metrics.jsonl, last/best.safetensors and eval.json.")

    @Option(help: "YAML config file.") var config: String
    @Option(help: "Data set folder or CSV (default: the config's synthetic set).") var data: String?
    @Option(help: "Run folder (default: runs/<config name>).") var out: String?
    @Option(help: "Override schedule.epochs.") var epochs: Int?
    @Option(help: "Override seed.") var seed: Int?
    @Option(help: "Train on at most this many images per epoch (quick checks).") var limit: Int?
    @Flag(help: "Resume from RUN/last.safetensors.") var resume = false
    @Flag(help: "Horizontal-flip test-time augmentation in the final evaluation.") var tta = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            threads.apply()
            var cfg = try loadConfig(config)
            let runDir = out ?? "runs/" + URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent
            if resume {
                let saved = runDir + "/config.yaml"
                guard FileManager.default.fileExists(atPath: runDir + "/last.safetensors") else {
                    throw ADNNError.io("\(runDir)/last.safetensors: nothing to resume")
                }
                if FileManager.default.fileExists(atPath: saved) { cfg = try Config.load(path: saved) }
            }
            if let epochs { cfg.schedule.epochs = epochs }
            if let seed { cfg.seed = seed }
            if let limit { cfg.data.limit = limit }
            try cfg.validate(file: config)
            try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
            if !resume { try cfg.yamlString().write(toFile: runDir + "/config.yaml", atomically: true, encoding: .utf8) }

            let dataset = try openDataset(cfg, path: data)
            let result = try runTraining(cfg, configPath: config, dataset: dataset, runDir: runDir, resume: resume, tta: tta)
            print("")
            print(result.metrics.markdown(title: "best checkpoint (epoch \(result.epoch)) on \(dataset.root) \(result.split)"))
            print(String(format: "%.1f images/s; eval JSON in %@/eval.json", result.imagesPerSecond, runDir))
        }
    }
}

/// Outcome of one training run: metrics of the best checkpoint on the validation split.
struct RunResult {
    var metrics: EvalMetrics
    var predictions: [Int]
    var labels: [Int]
    var imagesPerSecond: Double
    var trainImagesPerSecond: Double
    var params: Int
    var epoch: Int
    var split: String
    /// AUC from a stored eval.json (runs reloaded by `adnn ablate`).
    var aucOverride: Double? = nil
}

/// Trains `cfg` on `dataset` into `runDir` (resuming if asked), then evaluates the best checkpoint on
/// the validation split (test when there is none) and writes `eval.json` and `predictions.json`.
func runTraining(_ cfg: Config, configPath: String, dataset: Dataset, runDir: String, resume: Bool, tta: Bool,
                 quiet: Bool = false) throws -> RunResult {
    let trainLoader = try DataLoader(dataset: dataset, split: "train", transform: evalTransform(cfg),
                                     augment: augmentConfig(cfg), options: loaderOptions(cfg, train: true))
    let valSplit = dataset.splitNames.contains("val") ? "val" : "test"
    let valLoader = try DataLoader(dataset: dataset, split: valSplit, transform: evalTransform(cfg), augment: nil,
                                   options: loaderOptions(cfg, train: false, batchSize: max(cfg.data.batchSize, 64)))
    guard dataset.numClasses == cfg.model.numClasses else {
        throw ADNNError.invalid("\(configPath): model.num_classes is \(cfg.model.numClasses) but \(dataset.root) has \(dataset.numClasses) classes (\(dataset.classes.joined(separator: ", ")))")
    }
    let train = LoaderProvider(trainLoader, limitImages: cfg.data.limit)
    let val = LoaderProvider(valLoader, limitImages: cfg.data.limit > 0 ? max(cfg.data.limit / 4, 64) : 0)
    let trainer = try Trainer(config: cfg, classes: dataset.classes, classCounts: trainLoader.classCounts,
                              runDir: runDir, stepsPerEpoch: train.batchCount(epoch: 0))
    if resume {
        try trainer.resume()
        print("resumed \(runDir) after epoch \(trainer.startEpoch)")
    }
    print("training \(cfg.model.backbone) (\(trainer.model.parameterCount.formatted(.number)) params) on \(dataset.root): " +
          "\(trainLoader.count) train / \(valLoader.count) \(valSplit) images, \(dataset.classes.count) classes, " +
          "batch \(cfg.data.batchSize), \(cfg.schedule.epochs) epochs, \(Threading.threads) threads → \(runDir)")
    installInterruptHandler()
    let progress = ProgressPrinter(epochs: cfg.schedule.epochs, quiet: quiet)
    trainer.onStep = { e, s, n, loss, ips in progress.step(epoch: e, step: s, steps: n, loss: loss, imagesPerSecond: ips) }
    var trainIPS: [Float] = []
    trainer.onEpoch = { r in trainIPS.append(r.imagesPerSecond); progress.epoch(r) }
    do {
        try trainer.fit(train: train, val: val)
    } catch let e as NonFiniteLossError {
        throw ADNNError.invalid(e.description)
    }
    progress.finish()
    if Trainer.stopRequested {
        print("interrupted; the last completed epoch is in \(trainer.lastPath) — continue with --resume")
        throw ExitCode(130)
    }
    let best = try Checkpoint.read(trainer.bestPath)
    let model = try best.makeModel()
    let (probs, labels, ips) = predictProbabilities(model, val, hflipTTA: tta)
    let m = EvalMetrics(probabilities: probs, labels: labels, classes: dataset.classes)
    let k = dataset.classes.count
    let preds = (0..<labels.count).map { i in (0..<k).max { probs[i * k + $0] < probs[i * k + $1] }! }
    var json = m.json(dataset: dataset.root, split: valSplit, imagesPerSecond: ips)
    json["checkpoint"] = trainer.bestPath
    json["epoch"] = best.epoch
    json["params"] = model.parameterCount
    try jsonLine(json).write(toFile: runDir + "/eval.json", atomically: true, encoding: .utf8)
    try jsonLine(["labels": labels, "predictions": preds]).write(toFile: runDir + "/predictions.json", atomically: true, encoding: .utf8)
    if trainIPS.isEmpty, let text = try? String(contentsOfFile: trainer.metricsPath, encoding: .utf8) {
        for line in text.split(separator: "\n") {
            if let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let v = o["images_per_second"] as? Double {
                trainIPS.append(Float(v))
            }
        }
    }
    return RunResult(metrics: m, predictions: preds, labels: labels, imagesPerSecond: ips,
                     trainImagesPerSecond: Double(trainIPS.reduce(0, +)) / Double(max(trainIPS.count, 1)),
                     params: model.parameterCount, epoch: best.epoch, split: valSplit)
}

/// Ctrl-C / SIGTERM stop training at the next step boundary; a second Ctrl-C exits at once.
func installInterruptHandler() {
    for sig in [SIGINT, SIGTERM] {
        signal(sig) { _ in
            if Trainer.stopRequested { _exit(130) }
            Trainer.stopRequested = true
        }
    }
}

/// Live progress on a terminal (one rewritten line), plain lines otherwise.
final class ProgressPrinter {
    let epochs: Int
    let tty: Bool
    let quiet: Bool
    var lastPlain = Date.distantPast
    var epochStart = Date()

    init(epochs: Int, quiet: Bool = false) {
        self.epochs = epochs; self.quiet = quiet
        tty = !quiet && isatty(STDOUT_FILENO) != 0
    }

    func step(epoch: Int, step: Int, steps: Int, loss: Float, imagesPerSecond: Double) {
        if step == 1 { epochStart = Date() }
        let elapsed = Date().timeIntervalSince(epochStart)
        let eta = step > 0 ? elapsed / Double(step) * Double(max(steps - step, 0)) : 0
        let line = String(format: "epoch %d/%d  step %d/%d  loss %.4f  %.1f img/s  ETA %@", epoch + 1, epochs, step, steps, loss,
                          imagesPerSecond, formatDuration(eta))
        if tty {
            print("\r\u{1B}[2K" + line, terminator: ""); fflush(stdout)
        } else if !quiet && (Date().timeIntervalSince(lastPlain) > 30 || step == steps) {
            print(line); fflush(stdout); lastPlain = Date()
        }
    }

    func epoch(_ r: EpochRecord) {
        if tty { print("\r\u{1B}[2K", terminator: "") }
        print(String(format: "epoch %d/%d  loss %.4f (ce %.4f center %.4f dls %.4f)  train acc %.2f%%  val acc %.2f%%  macro-F1 %.2f%%  lr %.2e  %.1f img/s  %.0f s",
                     r.epoch, epochs, r.loss, r.lossCE, r.lossCenter, r.lossDLS, r.trainAccuracy * 100, r.valAccuracy * 100,
                     r.valMacroF1 * 100, r.lr, r.imagesPerSecond, r.seconds))
        fflush(stdout)
    }

    func finish() { if tty { print("") } }
}

func formatDuration(_ s: Double) -> String {
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
}
