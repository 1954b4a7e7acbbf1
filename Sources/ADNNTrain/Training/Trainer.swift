import Foundation
import ADNN
import ADNNDistributed

/// One mini-batch for training or evaluation: NHWC images and targets.
public struct TrainBatch {
    public var images: Tensor          // [N, H, W, C]
    public var targets: BatchTargets
    public init(images: Tensor, targets: BatchTargets) { self.images = images; self.targets = targets }
}

/// A source of batches per epoch (the CLI adapts the data loader to it).
public protocol BatchProvider {
    /// Batches in epoch `epoch` (deterministic for a seed).
    func batchCount(epoch: Int) -> Int
    /// Iterator over the batches of `epoch`.
    func batches(epoch: Int) -> AnyIterator<TrainBatch>
    /// Why the source stopped early (every image of the split failed to decode), nil when it did not.
    var failure: String? { get }
}

extension BatchProvider {
    public var failure: String? { nil }
}

/// Runs a model over batches and collects softmax probabilities (averaged over the views of `tta`).
public func predictProbabilities(_ model: ADNNFER, _ provider: BatchProvider, tta: TestTimeAugmentation = .none)
    -> (probs: [Float], labels: [Int], imagesPerSecond: Double) {
    predictProbabilities([model], provider, tta: tta)
}

/// `predictProbabilities` for an ensemble: each batch through every member, probabilities averaged.
public func predictProbabilities(_ models: [ADNNFER], _ provider: BatchProvider, tta: TestTimeAugmentation = .none)
    -> (probs: [Float], labels: [Int], imagesPerSecond: Double) {
    for model in models { model.eval() }
    var probs: [Float] = [], labels: [Int] = []
    let start = Date()
    noGrad { withFrozenWeights {
        let it = provider.batches(epoch: 0)
        while let b = it.next() {
            probs += tta.probabilities(models, b.images).scalars
            labels += b.targets.labels
        }
    } }
    let secs = Date().timeIntervalSince(start)
    return (probs, labels, Double(labels.count) / max(secs, 1e-9))
}

/// Per-epoch record written to `metrics.jsonl`.
public struct EpochRecord: Codable {
    public var epoch: Int
    public var lr: Float
    public var loss: Float, lossCE: Float, lossCenter: Float, lossDLS: Float
    public var trainAccuracy: Float
    public var valAccuracy: Float, valMacroF1: Float, valLoss: Float
    public var imagesPerSecond: Float
    public var seconds: Float
    /// With a time budget: the global steps done so far, the steps planned in all, and the seconds
    /// spent by the run (every process of it) when the epoch ended.
    public var steps: Int? = nil, plannedSteps: Int? = nil, elapsedSeconds: Float? = nil
    /// Share of all CPU time the hypervisor gave to other guests during the epoch (Linux `/proc/stat`
    /// steal; nil where unavailable): on a shared VM, why an epoch was slow.
    public var cpuStealPercent: Float? = nil
    enum CodingKeys: String, CodingKey {
        case epoch, lr, loss, lossCE = "loss_ce", lossCenter = "loss_center", lossDLS = "loss_dls"
        case trainAccuracy = "train_accuracy", valAccuracy = "val_accuracy", valMacroF1 = "val_macro_f1", valLoss = "val_loss"
        case imagesPerSecond = "images_per_second", seconds
        case steps, plannedSteps = "planned_steps", elapsedSeconds = "elapsed_seconds"
        case cpuStealPercent = "cpu_steal_percent"
    }
}

/// Error raised when the loss becomes NaN or infinite.
public struct NonFiniteLossError: Error, CustomStringConvertible {
    public let epoch: Int, step: Int
    public let lastGood: String?
    public var description: String {
        "loss is not finite at epoch \(epoch + 1), step \(step + 1); last good checkpoint: \(lastGood ?? "none")"
    }
}

/// Training loop: AdamW with warm-up + cosine, layer-wise LR decay, gradient clipping, compound
/// loss with center updates, validation every epoch, `last`/`best` checkpoints written atomically,
/// early stopping, exact resume from the last completed epoch (every random stream is reseeded from
/// the run seed and the epoch number).
public final class Trainer {
    public let config: Config
    public let model: ADNNFER
    public let loss: CompoundLoss
    public let optimizer: Optimizer
    public let classes: [String]
    public let runDir: String
    /// The learning-rate schedule; with a time budget its length is refitted while training.
    public private(set) var schedule: WarmupCosineSchedule
    public let stepsPerEpoch: Int
    /// The wall-clock budget (`schedule.time_budget_minutes`), nil when the run has none.
    public let timeBudget: TimeBudget?
    /// Whether the budget's first plan was made (it may shorten the warm-up once).
    var budgetPlanned = false
    /// Seconds the last epoch's checkpoint writes took (part of the next epoch end's estimate).
    var checkpointSeconds = 0.0
    /// Called when the budget plans (or re-plans) the schedule, with the planned steps in all.
    public var onPlan: ((Int) -> Void)?
    /// Epochs the schedule spans (the last one may be partial under a time budget).
    public var plannedEpochs: Int { timeBudget == nil ? config.schedule.epochs : (schedule.totalSteps + stepsPerEpoch - 1) / stepsPerEpoch }
    /// Exponential moving average of the weights (`schedule.ema > 0`), used for validation and `best`.
    public let ema: WeightEMA?
    /// Called after `backward` and before clipping with the parameters whose gradients are set, so a
    /// data-parallel run can average them across processes.
    public var gradientHook: (([Tensor]) -> Void)?
    /// The processes training this model together (`mpirun -np N adnn train`). The default
    /// single-process communicator makes no MPI call: one process trains exactly as before. Under MPI
    /// each rank steps on its part of every global batch; `step` averages the gradients (weighted by
    /// samples) and updates the centers over all ranks, non-finite losses and stop requests are
    /// decided collectively, the epoch's train metrics are summed over the ranks, and rank 0 alone
    /// validates, writes `metrics.jsonl` and the checkpoints (its monitored value is broadcast so
    /// early stopping is identical everywhere).
    public var communicator = Communicator()
    /// Keep every batch-norm layer on its running statistics while training (`--freeze-bn`): for
    /// fine-tuning with small per-rank batches, and what makes N ranks bit-for-bit the same
    /// computation as one process (batch statistics over B/N samples differ from those over B).
    public var freezeBatchNorm = false
    /// Average the batch-norm running statistics over the ranks at the end of every epoch, before
    /// validation and the checkpoint (`--sync-bn`; one allreduce of the `running_*` buffers). BN
    /// itself stays local (each rank normalises with its own part's batch statistics).
    public var averageBatchNormStatistics = false

    public var startEpoch = 0
    public var bestMetric: Float = -.infinity
    public var bestEpoch = -1
    public var badEpochs = 0
    /// Called after every step with (epoch, step, steps, running loss, images/s).
    public var onStep: ((Int, Int, Int, Float, Double) -> Void)?
    /// Called after every epoch.
    public var onEpoch: ((EpochRecord) -> Void)?
    /// Set from a signal handler to stop at the next step boundary.
    nonisolated(unsafe) public static var stopRequested = false

    public var lastPath: String { runDir + "/last.safetensors" }
    public var bestPath: String { runDir + "/best.safetensors" }
    public var metricsPath: String { runDir + "/metrics.jsonl" }

    /// - Parameter model: a model built from `config.model` to train instead of a fresh one (`adnn bench`).
    /// - Parameter clockStart: when the time budget (if any) started counting.
    public init(config: Config, classes: [String], classCounts: [Int], runDir: String, stepsPerEpoch: Int,
                model given: ADNNFER? = nil, clockStart: Date = Date()) throws {
        self.config = config
        self.classes = classes
        self.runDir = runDir
        self.stepsPerEpoch = max(1, stepsPerEpoch)
        if let given {
            model = given
        } else {
            GlobalRNG.seed(UInt64(config.seed))
            model = try ADNNFER(config.model)
        }
        if given == nil, let pre = config.model.pretrained {
            try model.loadPretrainedBackbone(try loadWeights(pre), source: pre)
        }
        loss = CompoundLoss(config: config.loss, numClasses: config.model.numClasses, featureDim: model.featureDim, classCounts: classCounts)
        let groups = model.parameterGroups(weightDecay: config.optim.weightDecay, layerDecay: config.optim.layerDecay)
        switch config.optim.name {
        case .sgd: optimizer = SGD(entries: groups, lr: config.optim.lr)
        case .adamw: optimizer = AdamW(entries: groups, lr: config.optim.lr, betas: (config.optim.betas[0], config.optim.betas[1]))
        }
        ema = config.schedule.ema > 0 ? WeightEMA(model, decay: config.schedule.ema) : nil
        timeBudget = config.schedule.timeBudgetMinutes > 0 ? TimeBudget(minutes: Double(config.schedule.timeBudgetMinutes), start: clockStart) : nil
        schedule = WarmupCosineSchedule(baseLR: config.optim.lr, minLR: config.schedule.minLR,
                                        warmupSteps: config.schedule.warmupEpochs * self.stepsPerEpoch,
                                        totalSteps: config.schedule.epochs * self.stepsPerEpoch)
    }

    /// Monitored value of a record (higher is better).
    func monitored(_ r: EpochRecord) -> Float {
        switch config.schedule.monitor {
        case .valMacroF1: return r.valMacroF1
        case .valLoss: return -r.valLoss
        case .valAccuracy: return r.valAccuracy
        }
    }

    /// Checkpoint of the current state.
    func checkpoint(epoch: Int, metric: Float) -> Checkpoint {
        var tensors = model.stateDict()
        tensors.append(("center_loss.centers", loss.center.centers))
        if let ema { tensors += ema.stateTensors() }
        tensors += optimizer.stateTensors()
        var state: [String: Any] = ["best_metric": bestMetric.isFinite ? Double(bestMetric) : -1e30, "best_epoch": bestEpoch,
                                    "bad_epochs": badEpochs, "completed_epochs": epoch + 1]
        if let b = timeBudget {
            state["elapsed_seconds"] = b.elapsed
            state["planned_steps"] = schedule.totalSteps
            state["warmup_steps"] = schedule.warmupSteps
            state["budget_planned"] = budgetPlanned
        }
        let stateJSON = String(decoding: try! JSONSerialization.data(withJSONObject: state, options: [.sortedKeys]), as: UTF8.self)
        return Checkpoint(tensors: tensors, config: config, classes: classes, epoch: epoch + 1, metric: metric,
                          extra: ["train_state": stateJSON])
    }

    /// Restores model, centers, optimiser and loop state from `last.safetensors` (or `path`, e.g.
    /// `best.safetensors` when a kill lost `last`).
    public func resume(from path: String? = nil) throws {
        let source = path ?? lastPath
        let ck = try Checkpoint.read(source)
        let dict = ck.tensorDict
        try model.load(stateDict: dict.filter { !Checkpoint.isTrainingState($0.key) },
                       strict: true)
        if let c = dict["center_loss.centers"] { loss.center.centers.assign(c) }
        if let ema { try ema.loadState(dict, source: source) }
        optimizer.loadState(dict)
        if let s = ck.extra["train_state"], let obj = try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any] {
            bestMetric = Float(obj["best_metric"] as? Double ?? -1e30)
            bestEpoch = obj["best_epoch"] as? Int ?? -1
            badEpochs = obj["bad_epochs"] as? Int ?? 0
            startEpoch = obj["completed_epochs"] as? Int ?? ck.epoch
            if let b = timeBudget, let spent = obj["elapsed_seconds"] as? Double {
                b.spentBefore = spent
                if let total = obj["planned_steps"] as? Int, let warm = obj["warmup_steps"] as? Int {
                    schedule = WarmupCosineSchedule(baseLR: schedule.baseLR, minLR: schedule.minLR, warmupSteps: warm, totalSteps: total)
                }
                budgetPlanned = obj["budget_planned"] as? Bool ?? false
            }
        } else {
            startEpoch = ck.epoch
        }
        // Keep metrics.jsonl consistent with the restored state (rank 0 alone writes the run folder).
        if communicator.isRoot, let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) {
            let kept = text.split(separator: "\n").prefix(startEpoch).joined(separator: "\n")
            try (kept.isEmpty ? "" : kept + "\n").write(toFile: metricsPath, atomically: true, encoding: .utf8)
        }
    }

    /// Trains until `schedule.epochs`, early stopping or a stop request. Returns the records of this call.
    @discardableResult
    public func fit(train: BatchProvider, val: BatchProvider) throws -> [EpochRecord] {
        var records: [EpochRecord] = []
        let comm = communicator
        if startEpoch == 0 && comm.isRoot { _ = FileManager.default.createFile(atPath: metricsPath, contents: Data()) }
        for epoch in startEpoch..<config.schedule.epochs {
            if badEpochs >= config.schedule.patience && config.schedule.patience > 0 { break }
            // Under a time budget the planned steps end the run (the last epoch may be partial).
            if timeBudget != nil && epoch * stepsPerEpoch >= schedule.totalSteps { break }
            // Every random stream of this epoch derives from (seed, epoch): resume reproduces it exactly.
            GlobalRNG.seed(UInt64(config.seed) &* 1_000_003 &+ UInt64(epoch) &+ 17)
            model.train()
            if freezeBatchNorm { for (_, m) in model.namedModules() where m is BatchNorm { m.eval() } }
            let start = Date()
            var stealMeter = CPUStealMeter()
            var sumLoss = 0.0, sumCE = 0.0, sumCenter = 0.0, sumDLS = 0.0, seen = 0, correct = 0
            let it = train.batches(epoch: epoch)
            let steps = train.batchCount(epoch: epoch)
            var step = 0
            var stepMark = Date()
            while let batch = it.next() {
                if timeBudget != nil && epoch * stepsPerEpoch + step >= schedule.totalSteps { break }
                // Every rank leaves at the same step (a stop request may reach one rank only).
                let stop = try comm.isDistributed ? comm.any(Trainer.stopRequested) : Trainer.stopRequested
                if stop {
                    Trainer.stopRequested = true
                    return records
                }
                let r = try self.step(batch, globalStep: epoch * stepsPerEpoch + step, epoch: epoch, stepInEpoch: step)
                let n = Double(r.count)
                correct += r.correct
                sumLoss += Double(r.loss) * n; sumCE += Double(r.ce) * n
                sumCenter += Double(r.center) * n; sumDLS += Double(r.dls) * n
                seen += r.count
                step += 1
                if let b = timeBudget {
                    let now = Date()
                    b.recordStep(seconds: now.timeIntervalSince(stepMark))
                    stepMark = now
                    if b.canPlan && (!budgetPlanned || step % b.replanInterval == 0) {
                        try planBudget(done: epoch * stepsPerEpoch + step, positionInEpoch: step)
                    }
                }
                onStep?(epoch, step, steps, Float(sumLoss / Double(seen)), Double(seen) / Date().timeIntervalSince(start))
            }
            let trainEnd = Date()
            if let why = train.failure { throw ADNNError.invalid(why) }
            if comm.isDistributed {
                // The epoch's train metrics over the whole global batches (sums of every rank's parts).
                let t = try comm.allreduceSum([sumLoss, sumCE, sumCenter, sumDLS, Double(seen), Double(correct)])
                sumLoss = t[0]; sumCE = t[1]; sumCenter = t[2]; sumDLS = t[3]; seen = Int(t[4]); correct = Int(t[5])
                if averageBatchNormStatistics {
                    try comm.average(model.namedBuffers().filter { $0.0.contains("running_") }.map(\.1))
                }
            }
            let trainSeconds = Date().timeIntervalSince(start)
            var rec = EpochRecord(epoch: epoch + 1, lr: optimizer.lr, loss: Float(sumLoss / Double(max(seen, 1))),
                                  lossCE: Float(sumCE / Double(max(seen, 1))), lossCenter: Float(sumCenter / Double(max(seen, 1))),
                                  lossDLS: Float(sumDLS / Double(max(seen, 1))), trainAccuracy: Float(correct) / Float(max(seen, 1)),
                                  valAccuracy: 0, valMacroF1: 0, valLoss: 0,
                                  imagesPerSecond: Float(Double(seen) / trainSeconds), seconds: 0)
            if let b = timeBudget {
                rec.steps = epoch * stepsPerEpoch + step      // planned_steps: after the re-plan below
                rec.elapsedSeconds = Float(b.elapsed)
            }
            // Validation on rank 0 only (the replicas hold the same weights); the others wait in the
            // broadcast of its monitored value.
            var metric: Float = 0
            if comm.isRoot {
                let (probs, labels, _) = ema.map { e in e.withAveragedWeights { predictProbabilities(model, val) } }
                    ?? predictProbabilities(model, val)
                if let why = val.failure { throw ADNNError.invalid(why) }
                guard !labels.isEmpty else { throw ADNNError.invalid("\(runDir): the validation split gave no images") }
                let m = EvalMetrics(probabilities: probs, labels: labels, classes: classes)
                rec.valAccuracy = Float(m.accuracy); rec.valMacroF1 = Float(m.macroF1); rec.valLoss = Float(m.loss)
                rec.seconds = Float(Date().timeIntervalSince(start))
                if let b = timeBudget { rec.elapsedSeconds = Float(b.elapsed) }      // with validation
                rec.cpuStealPercent = stealMeter.lap()
                metric = monitored(rec)
            }
            if comm.isDistributed {
                var v = [metric]
                try v.withUnsafeMutableBufferPointer { try comm.broadcast($0, root: 0) }
                metric = v[0]
            }
            let improved = metric > bestMetric
            if improved { bestMetric = metric; bestEpoch = epoch + 1; badEpochs = 0 } else { badEpochs += 1 }
            if let b = timeBudget {
                // Re-planned before the record and the checkpoint are written, so both carry the plan that
                // decides whether the run goes on: a run that ends here records `planned_steps == steps`,
                // and a resume of it trains nothing more. The epoch end is this validation plus the
                // checkpoint writes of the last epoch. Every rank plans here (after the broadcast).
                b.recordEpochEnd(seconds: Date().timeIntervalSince(trainEnd) + checkpointSeconds)
                try planBudget(done: epoch * stepsPerEpoch + step, positionInEpoch: 0)
                rec.plannedSteps = schedule.totalSteps
            }
            guard comm.isRoot else {
                records.append(rec)
                comm.setTerminationNote("last checkpoint: \(lastPath) (rank 0 writes it)")
                continue
            }
            let checkpointStart = Date()
            let ck = checkpoint(epoch: epoch, metric: metric)
            if improved {
                if let ema { try ema.withAveragedWeights { try checkpoint(epoch: epoch, metric: metric).write(to: bestPath) } }
                else { try ck.write(to: bestPath) }
            }
            try ck.write(to: lastPath)
            checkpointSeconds = Date().timeIntervalSince(checkpointStart)
            let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
            let line = String(decoding: try enc.encode(rec), as: UTF8.self) + "\n"
            if let h = FileHandle(forWritingAtPath: metricsPath) { h.seekToEndOfFile(); h.write(Data(line.utf8)); try? h.close() }
            records.append(rec)
            comm.setTerminationNote("last checkpoint: \(lastPath)")
            onEpoch?(rec)
        }
        return records
    }

    /// Refits the schedule's length to the time left (`TimeBudget.stepsThatFit`). The first plan may
    /// shorten the warm-up to a fifth of the run. Under MPI rank 0's plan is broadcast (every rank
    /// plans at the same steps), so all ranks stop at the same step.
    func planBudget(done: Int, positionInEpoch: Int) throws {
        guard let b = timeBudget, b.canPlan else { return }
        let cap = config.schedule.epochs * stepsPerEpoch
        var total = done + b.stepsThatFit(positionInEpoch: positionInEpoch, stepsPerEpoch: stepsPerEpoch, maxMore: max(cap - done, 0))
        if communicator.isDistributed {
            var v = [Double(total)]
            try v.withUnsafeMutableBufferPointer { p in
                // Only rank 0's value survives the sum.
                if !communicator.isRoot { p[0] = 0 }
                try communicator.allreduceSum(p)
            }
            total = Int(v[0])
        }
        // Near (or past) the end of the cosine a longer plan would raise the learning rate again.
        if budgetPlanned && total > schedule.totalSteps && Double(done) >= 0.9 * Double(schedule.totalSteps) { return }
        var warm = schedule.warmupSteps
        if !budgetPlanned { warm = min(warm, max(total / 5, 1)); budgetPlanned = true }
        let changed = total != schedule.totalSteps
        schedule = WarmupCosineSchedule(baseLR: schedule.baseLR, minLR: schedule.minLR, warmupSteps: warm, totalSteps: max(total, 1))
        if changed { onPlan?(total) }
    }
}

/// What one training step did: the loss and its terms, and how many samples it classified right.
public struct StepResult {
    public var loss: Float, ce: Float, center: Float, dls: Float
    /// Samples in the batch and those whose arg-max logit is the dominant label.
    public var count: Int, correct: Int
}

extension Trainer {
    /// The one training step (used by `fit`, `adnn bench` and data-parallel training): learning rate
    /// of `globalStep`, forward, compound loss, backward, `gradientHook`, clipping, optimiser step,
    /// center update and the EMA update.
    /// - Throws: `NonFiniteLossError` when the loss is NaN or infinite (nothing is updated then).
    @discardableResult
    public func step(_ batch: TrainBatch, globalStep: Int, epoch: Int = 0, stepInEpoch: Int = 0) throws -> StepResult {
        optimizer.lr = schedule.lr(at: globalStep)
        let out = model.forward(batch.images)
        let l = loss(logits: out.logits, features: out.features, targets: batch.targets)
        let value = l.total.item
        // Collective under MPI: every rank throws at the same step instead of one leaving the others
        // waiting in the allreduce.
        let comm = communicator
        let nonFinite = try comm.isDistributed ? comm.any(!value.isFinite) : !value.isFinite
        guard !nonFinite else {
            throw NonFiniteLossError(epoch: epoch, step: stepInEpoch,
                                     lastGood: FileManager.default.fileExists(atPath: lastPath) ? lastPath : nil)
        }
        optimizer.zeroGrad()
        l.total.backward()
        gradientHook?(optimizer.parameters)
        if comm.isDistributed {
            // The whole global batch's gradient on every rank (Σ_r n_r/N · g_r), before clipping:
            // the clipped norm and so the update are the same on every rank.
            try comm.averageGradients(optimizer.parameters, localSamples: batch.targets.labels.count)
        }
        optimizer.clipGradNorm(config.optim.gradClip)
        optimizer.step()
        if comm.isDistributed {
            // Sums and counts over every rank's samples: the centers stay identical everywhere.
            try noGrad {
                try comm.updateCenters(loss.center, features: out.features, labels: batch.targets.dominantLabels)
            }
        } else {
            noGrad { loss.center.update(features: out.features, labels: batch.targets.dominantLabels) }
        }
        ema?.update()
        let n = batch.targets.labels.count
        let k = out.logits.shape[1]
        let lp = out.logits.ptr
        let dominant = batch.targets.dominantLabels
        var correct = 0
        for i in 0..<n {
            var best = 0
            for j in 1..<k where lp[i * k + j] > lp[i * k + best] { best = j }
            if best == dominant[i] { correct += 1 }
        }
        return StepResult(loss: value, ce: l.ce, center: l.center, dls: l.dls, count: n, correct: correct)
    }
}
