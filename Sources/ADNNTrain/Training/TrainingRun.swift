import Foundation
import ADNN
import ADNNData
import ADNNKernels
import ADNNDistributed

/// Thrown when Ctrl-C / SIGTERM stopped a run; the last completed epoch is in `lastCheckpoint`.
public struct TrainingInterrupted: Error, CustomStringConvertible {
    public let lastCheckpoint: String
    public var description: String { "interrupted; continue from \(lastCheckpoint) with --resume" }
}

/// What `adnn train` asks for: a config file and its command-line overrides.
public struct TrainingRequest {
    public var configPath: String
    public var dataPath: String?
    /// Run folder (default: `runs/<config name>`).
    public var out: String?
    public var epochs: Int?
    public var seed: Int?
    public var limit: Int?
    public var resume: Bool
    /// Test-time augmentation of the final evaluation.
    public var tta: TestTimeAugmentation
    /// Replace an existing run in `out` (without it, an existing run needs `resume`).
    public var force: Bool
    /// Batch-norm layers on their running statistics while training (`Trainer.freezeBatchNorm`).
    public var freezeBatchNorm = false
    /// Under MPI, average the BN running statistics over the ranks every epoch (`Trainer.averageBatchNormStatistics`).
    public var syncBatchNorm = false
    /// `--threads` when given: under MPI without it (and without `ADNN_NUM_THREADS`) each rank takes
    /// the host's cores divided by the ranks on the host.
    public var threads: Int? = nil
    /// `--time-budget` in minutes: overrides `schedule.time_budget_minutes`.
    public var timeBudgetMinutes: Double? = nil

    public init(configPath: String, dataPath: String? = nil, out: String? = nil, epochs: Int? = nil, seed: Int? = nil,
                limit: Int? = nil, resume: Bool = false, tta: TestTimeAugmentation = .none, force: Bool = false,
                freezeBatchNorm: Bool = false, syncBatchNorm: Bool = false, threads: Int? = nil) {
        self.configPath = configPath; self.dataPath = dataPath; self.out = out; self.epochs = epochs; self.seed = seed
        self.limit = limit; self.resume = resume; self.tta = tta; self.force = force
        self.freezeBatchNorm = freezeBatchNorm; self.syncBatchNorm = syncBatchNorm; self.threads = threads
    }

    /// Files that make a folder a run folder.
    static let runFiles = ["metrics.jsonl", "last.safetensors", "best.safetensors", "eval.json", "predictions.json"]

    /// The run folder this request writes.
    public var runDir: String { out ?? "runs/" + URL(fileURLWithPath: configPath).deletingPathExtension().lastPathComponent }

    /// The resolved configuration: the file (or the run's saved `config.yaml` when resuming) with the
    /// overrides applied and validated.
    public func resolvedConfig() throws -> Config {
        var cfg = try loadConfig(configPath)
        if resume {
            let saved = runDir + "/config.yaml"
            guard RunFolder.resumeCheckpoint(runDir) != nil else {
                throw ADNNError.io("\(runDir): nothing to resume (no last.safetensors or best.safetensors)")
            }
            if FileManager.default.fileExists(atPath: saved) { cfg = try Config.load(path: saved) }
        }
        if let epochs { cfg.schedule.epochs = epochs }
        if let seed { cfg.seed = seed }
        if let timeBudgetMinutes { cfg.schedule.timeBudgetMinutes = Float(timeBudgetMinutes) }
        if let limit { cfg.data.limit = limit }
        try cfg.validate(file: configPath)
        return cfg
    }

    /// Trains (or resumes) the run, prints the evaluation table of the best checkpoint and returns it
    /// (nil on the ranks other than 0 of an MPI run: rank 0 alone evaluates, prints and writes files).
    ///
    /// Started by `mpirun -np N`, the N processes train one model together (see `Trainer.communicator`);
    /// `data.batch_size` is the global batch, each rank takes its part of it. Under MPI `--resume`
    /// needs the run folder at the same path on every host (a shared file system): every rank reads it.
    @discardableResult
    public func runAsRank() throws -> RunResult? {
        if resume && force { throw ADNNError.invalid("--resume and --force exclude each other") }
        let comm = try Communicator.initializeIfLaunched()
        if comm.isDistributed && threads == nil { Threading.threads = comm.threadsPerRank() }
        let cfg = try resolvedConfig()
        if comm.isDistributed {
            guard cfg.data.batchSize >= comm.size else {
                throw ADNNError.invalid("\(configPath): data.batch_size \(cfg.data.batchSize) is smaller than the \(comm.size) ranks (it is the global batch; every rank needs a part of it)")
            }
            // Rank 0 checks and prepares the run folder; the others wait for it, so a refused folder
            // ends every rank with rank 0's error line.
            var ok = [Int64(0)]
            var failure: Error? = nil
            if comm.isRoot {
                do { try prepareRunFolder(cfg) } catch { failure = error; ok[0] = 1 }
            }
            try ok.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) }
            if ok[0] != 0 {
                try? comm.finalize()
                if let failure { throw failure }
                exit(1)                                   // rank 0 printed why
            }
        } else {
            try prepareRunFolder(cfg)
        }
        let dataset = try openDataset(cfg, path: dataPath)
        guard let result = try trainAndEvaluate(cfg, configPath: configPath, dataset: dataset, runDir: runDir, resume: resume, tta: tta,
                                                quiet: false, communicator: comm,
                                                freezeBatchNorm: freezeBatchNorm, syncBatchNorm: syncBatchNorm) else {
            try comm.finalize()
            return nil
        }
        print("")
        print(result.metrics.markdown(title: "best checkpoint (epoch \(result.epoch)) on \(dataset.root) \(result.split)"))
        print(String(format: "%.1f images/s; eval JSON in %@/eval.json", result.imagesPerSecond, runDir))
        try comm.finalize()
        return result
    }

    /// `runAsRank()` for callers that need the result (a single process, or rank 0).
    @discardableResult
    public func run() throws -> RunResult {
        guard let r = try runAsRank() else {
            throw ADNNError.invalid("rank \(try Communicator.initializeIfLaunched().rank): only rank 0 evaluates (use runAsRank under mpirun)")
        }
        return r
    }

    /// Checks the run folder (an existing run needs `resume` or `force`), creates it and writes `config.yaml`.
    func prepareRunFolder(_ cfg: Config) throws {
        let runDir = self.runDir
        let fm = FileManager.default
        if !resume {
            let existing = Self.runFiles.filter { fm.fileExists(atPath: runDir + "/" + $0) }
            if !existing.isEmpty && !force {
                throw ADNNError.io("\(runDir): already holds a run (\(existing.joined(separator: ", "))); pass --resume to continue it or --force to replace it")
            }
            for f in existing { try fm.removeItem(atPath: runDir + "/" + f) }
            if force, let names = try? fm.contentsOfDirectory(atPath: runDir) {
                for n in names where n.hasPrefix("events.out.tfevents.") { try fm.removeItem(atPath: runDir + "/" + n) }
            }
        }
        do { try fm.createDirectory(atPath: runDir, withIntermediateDirectories: true) } catch {
            throw ADNNError.io("\(runDir): cannot create the run folder (\(RunFolder.reason(error)))")
        }
        RunFolder.removeStaleTemporaryFiles(runDir)
        if !resume { try cfg.yamlString().write(toFile: runDir + "/config.yaml", atomically: true, encoding: .utf8) }
    }
}

/// Outcome of one training run: metrics of the best checkpoint on the validation split.
public struct RunResult {
    public var metrics: EvalMetrics
    public var predictions: [Int]
    public var labels: [Int]
    public var imagesPerSecond: Double
    public var trainImagesPerSecond: Double
    public var params: Int
    public var epoch: Int
    public var split: String
    /// AUC from a stored eval.json (runs reloaded by `adnn ablate`).
    public var aucOverride: Double? = nil

    public init(metrics: EvalMetrics, predictions: [Int], labels: [Int], imagesPerSecond: Double, trainImagesPerSecond: Double,
                params: Int, epoch: Int, split: String, aucOverride: Double? = nil) {
        self.metrics = metrics; self.predictions = predictions; self.labels = labels; self.imagesPerSecond = imagesPerSecond
        self.trainImagesPerSecond = trainImagesPerSecond; self.params = params; self.epoch = epoch; self.split = split
        self.aucOverride = aucOverride
    }

    /// AUC recorded in eval.json for runs reloaded from disk.
    public var auc: Double { aucOverride ?? metrics.aucMacroOvR }
}

/// Trains `cfg` on `dataset` into `runDir` (resuming if asked), then evaluates the best checkpoint on
/// the validation split (test when there is none) and writes `eval.json` and `predictions.json`.
public func runTraining(_ cfg: Config, configPath: String, dataset: Dataset, runDir: String, resume: Bool, tta: TestTimeAugmentation,
                 quiet: Bool = false) throws -> RunResult {
    guard let result = try trainAndEvaluate(cfg, configPath: configPath, dataset: dataset, runDir: runDir, resume: resume,
                                            tta: tta, quiet: quiet, communicator: Communicator()) else {
        throw ADNNError.invalid("\(runDir): no evaluation result")       // a single process is always rank 0
    }
    return result
}

/// A validation source for the ranks that do not validate (never iterated).
private struct NoBatches: BatchProvider {
    func batchCount(epoch: Int) -> Int { 0 }
    func batches(epoch: Int) -> AnyIterator<TrainBatch> { AnyIterator { nil } }
}

/// `runTraining` for one rank of a data-parallel run (`communicator`; single-process by default).
/// Every rank trains on its part of each global batch; rank 0 alone prints, validates, writes the
/// run folder and evaluates the best checkpoint: the other ranks return nil.
func trainAndEvaluate(_ cfg: Config, configPath: String, dataset: Dataset, runDir: String, resume: Bool, tta: TestTimeAugmentation,
                      quiet: Bool, communicator comm: Communicator, freezeBatchNorm: Bool = false,
                      syncBatchNorm: Bool = false) throws -> RunResult? {
    let clockStart = Date()
    let root = comm.isRoot
    // Every rank reads the whole train split: the epoch order and the DLS class counts
    // (`trainLoader.classCounts`) are those of the whole split; the loader builds this rank's part.
    let trainLoader = try DataLoader(dataset: dataset, split: "train", transform: evalTransform(cfg),
                                     augment: augmentConfig(cfg), options: loaderOptions(cfg, train: true, shard: (comm.rank, comm.size)))
    let valSplit = dataset.splitNames.contains("val") ? "val" : "test"
    guard dataset.numClasses == cfg.model.numClasses else {
        throw ADNNError.invalid("\(configPath): model.num_classes is \(cfg.model.numClasses) but \(dataset.root) has \(dataset.numClasses) classes (\(dataset.classes.joined(separator: ", ")))")
    }
    if cfg.data.softLabels && !(dataset.splits["train"]?.hasLabelDistributions ?? false) {
        throw ADNNError.invalid("\(configPath): data.soft_labels needs annotator label distributions (FERPlus votes); the \(dataset.format.rawValue) data at \(dataset.root) has none")
    }
    // Validation runs on rank 0 only.
    let valLoader = root ? try DataLoader(dataset: dataset, split: valSplit, transform: evalTransform(cfg), augment: nil,
                                          options: loaderOptions(cfg, train: false, batchSize: max(cfg.data.batchSize, 64))) : nil
    let train = LoaderProvider(trainLoader, limitImages: cfg.data.limit)
    // `data.limit` caps validation at a quarter of it (at least 64 images); 0: the whole split.
    let valLimit = cfg.data.limit > 0 ? max(cfg.data.limit / 4, 64) : 0
    let val: BatchProvider = valLoader.map { LoaderProvider($0, limitImages: valLimit) }
        ?? NoBatches()
    let trainer = try Trainer(config: cfg, classes: dataset.classes, classCounts: trainLoader.classCounts,
                              runDir: runDir, stepsPerEpoch: train.batchCount(epoch: 0), clockStart: clockStart)
    if let b = trainer.timeBudget {
        b.finalEvaluationPasses = tta.views
        b.validationImages = valLoader.map { valLimit > 0 ? min($0.count, valLimit) : $0.count } ?? 0
        b.batchSize = cfg.data.batchSize
    }
    trainer.communicator = comm
    trainer.freezeBatchNorm = freezeBatchNorm
    trainer.averageBatchNormStatistics = syncBatchNorm
    if resume {
        let source = RunFolder.resumeCheckpoint(runDir) ?? trainer.lastPath
        try trainer.resume(from: source)
        if root {
            print("resumed \(runDir) after epoch \(trainer.startEpoch)\(source == trainer.lastPath ? "" : " (from \(source): last.safetensors is missing)")")
        }
    }
    var hosts = 1
    if comm.isDistributed {
        // Every rank starts from rank 0's weights, buffers and centers (they are equal already when
        // all ranks built the same model from the same seed; this makes it certain).
        try comm.broadcast(trainer.model.stateDict().map(\.1) + [trainer.loss.center.centers])
        hosts = try comm.hostCount()
    }
    if root {
        if comm.isDistributed { print(comm.startupLine(threads: Threading.threads, hosts: hosts)) }
        let valCount = valLoader?.count ?? 0
        print("training \(cfg.model.backbone) (\(trainer.model.parameterCount.formatted(.number)) params) on \(dataset.root): " +
              "\(trainLoader.count) train / \(valCount) \(valSplit) images, \(dataset.classes.count) classes, " +
              "batch \(cfg.data.batchSize)\(comm.isDistributed ? " (\(comm.size) ranks)" : ""), " +
              (trainer.timeBudget == nil ? "\(cfg.schedule.epochs) epochs" : "time budget \(formatDuration(Double(cfg.schedule.timeBudgetMinutes) * 60)) (at most \(cfg.schedule.epochs) epochs)") +
              ", \(Threading.threads) threads → \(runDir)")
    }
    installInterruptHandler()
    // Under mpirun a rank that dies makes mpirun end the job with SIGTERM: each survivor prints one
    // line naming the last checkpoint (updated by the trainer after every epoch) instead of vanishing.
    comm.installTerminationHandler(note: FileManager.default.fileExists(atPath: trainer.lastPath) ? "last checkpoint: \(trainer.lastPath)" : "no checkpoint yet")
    let progress = ProgressPrinter(epochs: cfg.schedule.epochs, quiet: quiet || !root)
    trainer.onStep = { e, s, n, loss, ips in
        progress.epochs = trainer.plannedEpochs
        progress.step(epoch: e, step: s, steps: min(n, trainer.schedule.totalSteps - e * trainer.stepsPerEpoch), loss: loss, imagesPerSecond: ips)
    }
    if root, let b = trainer.timeBudget {
        var printed = false
        trainer.onPlan = { total in
            guard !printed else { return }          // the first plan; later refits go to metrics.jsonl
            printed = true
            let spe = trainer.stepsPerEpoch
            progress.note(String(format: "time budget: %.2f s/step measured; planned %d steps (%.1f epochs), %@ left",
                                 b.stepSeconds ?? 0, total, Double(total) / Double(spe), formatDuration(b.remaining)))
        }
    }
    var trainIPS: [Float] = []
    // TensorBoard scalars next to metrics.jsonl (`tensorboard --logdir runs`); a resumed run adds a
    // second event file, which TensorBoard merges.
    var tensorBoard: TensorBoardWriter? = nil
    if root {
        do { tensorBoard = try TensorBoardWriter(logDir: runDir) } catch {
            printError("warning: \(runDir): no TensorBoard events (\(error))")
        }
    }
    trainer.onEpoch = { r in
        trainIPS.append(r.imagesPerSecond); progress.epoch(r)
        do { try tensorBoard?.logEpoch(encoding: r) } catch { printError("warning: TensorBoard events: \(error)") }
    }
    do {
        try trainer.fit(train: train, val: val)
    } catch let e as NonFiniteLossError {
        throw ADNNError.invalid(e.description)
    }
    progress.finish()
    if Trainer.stopRequested {
        if root { print("interrupted; the last completed epoch is in \(trainer.lastPath) — continue with --resume") }
        throw TrainingInterrupted(lastCheckpoint: trainer.lastPath)
    }
    guard root else { return nil }
    let best = try Checkpoint.read(trainer.bestPath)
    let model = try best.makeModel()
    let (probs, labels, ips) = predictProbabilities(model, val, tta: tta)
    let m = EvalMetrics(probabilities: probs, labels: labels, classes: dataset.classes)
    let k = dataset.classes.count
    let preds = rowArgmax(probs, classes: k)
    var json = m.json(dataset: dataset.root, split: valSplit, imagesPerSecond: ips)
    json["checkpoint"] = trainer.bestPath
    json["epoch"] = best.epoch
    json["params"] = model.parameterCount
    json["tta"] = tta.rawValue
    if let b = trainer.timeBudget {
        json["time_budget_minutes"] = Double(cfg.schedule.timeBudgetMinutes)
        json["planned_steps"] = trainer.schedule.totalSteps
        json["elapsed_minutes"] = (b.elapsed / 60 * 100).rounded() / 100
    }
    try jsonLine(json).write(toFile: runDir + "/eval.json", atomically: true, encoding: .utf8)
    // Per-image probabilities (6 decimals) for calibration and the report's confident mistakes.
    try predictionsJSON(probabilities: probs, labels: labels, predictions: preds, classes: k)
        .write(toFile: runDir + "/predictions.json", atomically: true, encoding: .utf8)
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
public func installInterruptHandler() {
    for sig in [SIGINT, SIGTERM] {
        signal(sig) { _ in
            if Trainer.stopRequested { _exit(130) }
            Trainer.stopRequested = true
        }
    }
}

/// Live progress on a terminal (one rewritten line), plain lines otherwise.
public final class ProgressPrinter {
    var epochs: Int
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
                     r.valMacroF1 * 100, r.lr, r.imagesPerSecond, r.seconds)
              + (r.cpuStealPercent.map { $0 >= 5 ? String(format: "  (CPU steal %.0f%%)", $0) : "" } ?? ""))
        fflush(stdout)
    }

    func finish() { if tty { print("") } }

    /// A line between progress lines.
    func note(_ line: String) {
        guard !quiet else { return }
        if tty { print("\r\u{1B}[2K", terminator: "") }
        print(line); fflush(stdout)
    }
}

public func formatDuration(_ s: Double) -> String {
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
}
