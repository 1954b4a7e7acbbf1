import XCTest
import Foundation
@testable import ADNN
@testable import ADNNTrain
import ADNNData

/// The application layer in process: training runs, evaluation, ablation, tuning, typed config,
/// weight EMA and custom-class folder data sets — no binary spawned.
final class AppLayerTests: XCTestCase {
    func tempDir() throws -> String { try makeTemporaryFolder("app") }

    /// A tiny gray 24 px EfficientNet-B0 recipe (no CBAM, no transformer) on synthetic faces.
    func writeTinyConfig(_ path: String, epochs: Int = 2, extra: String = "") throws {
        try """
        model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, num_classes: 7, cbam: null, transformer: null, drop_rate: 0.0}
        optim: {lr: 2.0e-3, layer_decay: 1.0}
        schedule: {epochs: \(epochs), warmup_epochs: 0, patience: 0\(extra)}
        data: {format: synthetic, batch_size: 32, clahe: false, mean: [0.5], std: [0.25], workers: 1}
        augment: {hflip: 0, crop: 0, color_jitter: 0, rotate: 0, noise: 0, cutout: 0, mixup: 0}
        """.write(toFile: path, atomically: true, encoding: .utf8)
    }

    let tinyData = "synthetic:train=96,val=48,test=0,size=24"

    func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    func testTrainingRunWritesRunFolderAndEvaluationAgrees() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeTinyConfig(d + "/c.yaml")
        let run = d + "/run"
        let result = try TrainingRequest(configPath: d + "/c.yaml", dataPath: tinyData, out: run).run()
        for f in ["config.yaml", "metrics.jsonl", "last.safetensors", "best.safetensors", "eval.json", "predictions.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/" + f), f)
        }
        let lines = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(result.labels.count, 48)
        XCTAssertEqual(result.predictions.count, 48)
        let eval = try json(run + "/eval.json")
        XCTAssertEqual(eval["accuracy"] as! Double, result.metrics.accuracy, accuracy: 1e-12)

        // `adnn eval` of the best checkpoint on the same split gives the same numbers.
        let (m, obj) = try EvaluationRequest(checkpoint: run + "/best.safetensors", data: tinyData, split: "val",
                                             jsonPath: d + "/e.json").run(printing: false)
        XCTAssertEqual(m.accuracy, result.metrics.accuracy, accuracy: 1e-12)
        XCTAssertEqual(m.macroF1, result.metrics.macroF1, accuracy: 1e-12)
        XCTAssertEqual(obj["split"] as? String, "val")
        XCTAssertEqual(try json(d + "/e.json")["accuracy"] as! Double, m.accuracy, accuracy: 1e-12)

        // Resuming a finished run trains nothing more and evaluates the same best checkpoint.
        let again = try TrainingRequest(configPath: d + "/c.yaml", dataPath: tinyData, out: run, resume: true).run()
        XCTAssertEqual(again.metrics.accuracy, result.metrics.accuracy, accuracy: 1e-12)
        XCTAssertEqual(try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").count, 2)
    }

    /// `data.soft_labels` on data without annotator distributions is one error naming the key and the data.
    func testSoftLabelsNeedLabelDistributions() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeTinyConfig(d + "/c.yaml", epochs: 1)
        var text = try String(contentsOfFile: d + "/c.yaml", encoding: .utf8)
        text += "\nseed: 1\n"
        text = text.replacingOccurrences(of: "workers: 1}", with: "workers: 1, soft_labels: true}")
        try text.write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        XCTAssertTrue(try Config.load(path: d + "/c.yaml").data.softLabels)
        XCTAssertThrowsError(try TrainingRequest(configPath: d + "/c.yaml", dataPath: tinyData, out: d + "/run").run()) {
            let line = "\($0)"
            XCTAssertTrue(line.contains("c.yaml: data.soft_labels needs annotator label distributions"), line)
            XCTAssertTrue(line.contains("synthetic"), line)
        }
    }

    func testTrainerStepIsTheOneTrainingStep() throws {
        var cfg = Config()
        cfg.model.backbone = "efficientnet_b0"; cfg.model.inChans = 1; cfg.model.inputSize = 24; cfg.model.numClasses = 3
        cfg.model.cbam = nil; cfg.model.transformer = nil; cfg.model.dropRate = 0; cfg.model.dropPathRate = 0
        cfg.optim.lr = 1e-3; cfg.schedule.epochs = 1; cfg.schedule.warmupEpochs = 0
        let trainer = try Trainer(config: cfg, classes: ["a", "b", "c"], classCounts: [1, 1, 1], runDir: try tempDir(), stepsPerEpoch: 4)
        var rng = SeededRNG(seed: 3)
        let batch = TrainBatch(images: Tensor.normal([6, 24, 24, 1], rng: &rng), targets: BatchTargets(labels: [0, 1, 2, 0, 1, 2]))
        let before = trainer.model.head.weight.scalars
        var seen: [Int] = []
        trainer.gradientHook = { params in seen.append(params.filter { $0.grad != nil }.count) }
        trainer.model.train()
        let r = try trainer.step(batch, globalStep: 0)
        XCTAssertEqual(r.count, 6)
        XCTAssertTrue(r.loss.isFinite)
        XCTAssertEqual(seen, [trainer.model.parameters().count], "the hook sees every parameter with its gradient")
        XCTAssertNotEqual(trainer.model.head.weight.scalars, before, "the optimiser stepped")
        XCTAssertEqual(trainer.optimizer.lr, trainer.schedule.lr(at: 0))
    }

    func testEMAIsTrainedSavedAndUsedForBest() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeTinyConfig(d + "/c.yaml", epochs: 2, extra: ", ema: 0.9")
        let run = d + "/run"
        try TrainingRequest(configPath: d + "/c.yaml", dataPath: tinyData, out: run).run()
        let last = try Checkpoint.read(run + "/last.safetensors")
        let dict = last.tensorDict
        XCTAssertNotNil(dict["ema.head.weight"])
        XCTAssertEqual(dict["ema.updates"]?.scalars.first, 6, "3 steps × 2 epochs")
        XCTAssertNotEqual(dict["ema.head.weight"]!.scalars, dict["head.weight"]!.scalars)
        // `best` holds the averaged weights as its model weights.
        let best = try Checkpoint.read(run + "/best.safetensors")
        let bestEpochEMA = best.tensorDict["ema.head.weight"]!.scalars
        XCTAssertEqual(best.tensorDict["head.weight"]!.scalars, bestEpochEMA)
        // Resume restores the average.
        try TrainingRequest(configPath: d + "/c.yaml", dataPath: tinyData, out: run, epochs: 3, resume: true).run()
        XCTAssertEqual(try Checkpoint.read(run + "/last.safetensors").tensorDict["ema.updates"]?.scalars.first, 9)
    }

    func testWeightEMAArithmetic() {
        let lin = Linear(2, 1)
        lin.weight.assign(Tensor([1, 1], shape: [1, 2]))
        let ema = WeightEMA(lin, decay: 0.5)
        lin.weight.assign(Tensor([3, 5], shape: [1, 2]))
        ema.update()          // d = min(0.5, 1/10) = 0.1: 0.1·1 + 0.9·3 = 2.8
        let averaged = ema.withAveragedWeights { lin.weight.scalars }
        XCTAssertEqual(averaged[0], 2.8, accuracy: 1e-6)
        XCTAssertEqual(averaged[1], 4.6, accuracy: 1e-6)
        XCTAssertEqual(lin.weight.scalars, [3, 5], "live weights restored")
    }

    func testCustomClassFolderDataSetTrainsAndEvaluates() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        // Two classes a user might study: `pain` (vertical stripes) and `neutral` (horizontal stripes).
        for split in ["train", "val"] {
            for (cls, vertical) in [("pain", true), ("neutral", false)] {
                let dir = "\(d)/data/\(split)/\(cls)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for i in 0..<(split == "train" ? 96 : 8) {
                    var img = PixelImage(width: 24, height: 24, channels: 1)
                    for y in 0..<24 {
                        for x in 0..<24 {
                            let phase = ((vertical ? x : y) + i) / 3 % 2
                            img[x, y, 0] = UInt8(clamping: (phase == 0 ? 60 : 190) + (x * 7 + y * 3 + i * 5) % 20)
                        }
                    }
                    try savePNG(img, to: "\(dir)/\(i).png")
                }
            }
        }
        let ds = try Dataset.load(d + "/data")
        XCTAssertEqual(ds.classes, ["neutral", "pain"], "unknown names kept as given, sorted by folder name")
        try """
        model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, num_classes: 2, cbam: null, transformer: null, drop_rate: 0.0}
        loss: {ce: 1.0, center: 0.0, dls: 0.0}
        optim: {lr: 3.0e-3, layer_decay: 1.0}
        schedule: {epochs: 10, warmup_epochs: 1, patience: 0}
        data: {format: folder, batch_size: 16, clahe: false, mean: [0.5], std: [0.25], workers: 1}
        augment: {hflip: 0, crop: 0, color_jitter: 0, rotate: 0, noise: 0, cutout: 0, mixup: 0}
        """.write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        let r = try TrainingRequest(configPath: d + "/c.yaml", dataPath: d + "/data", out: d + "/run").run()
        XCTAssertEqual(r.metrics.classes, ["neutral", "pain"])
        XCTAssertEqual(r.labels.count, 16)
        let ck = try Checkpoint.read(d + "/run/best.safetensors")
        XCTAssertEqual(ck.classes, ["neutral", "pain"])
        let (m, _) = try EvaluationRequest(checkpoint: d + "/run/best.safetensors", data: d + "/data", split: "val").run(printing: false)
        XCTAssertEqual(m.n, 16)
        XCTAssertGreaterThan(m.accuracy, 0.9, "stripe directions are learnt in 10 short epochs")
    }

    func testTypedConfigRejectsUnknownVocabularyWithFileAndKey() throws {
        func message(_ yaml: String) -> String {
            do { _ = try Config.parse(yaml: yaml, file: "x.yaml"); return "" } catch { return String(describing: error) }
        }
        let optim = message("optim: {name: adam}")
        XCTAssertTrue(optim.contains("x.yaml") && optim.contains("optim.name") && optim.contains("adamw, sgd"), optim)
        let monitor = message("schedule: {monitor: accuracy}")
        XCTAssertTrue(monitor.contains("schedule.monitor") && monitor.contains("val_macro_f1"), monitor)
        let format = message("data: {format: imagenet}")
        XCTAssertTrue(format.contains("data.format") && format.contains("ferplus"), format)
        let ema = message("schedule: {ema: 1.5}")
        XCTAssertTrue(ema.contains("schedule.ema"), ema)
        let c = try Config.parse(yaml: "optim: {name: SGD}\nschedule: {monitor: val_loss}\ndata: {format: fer2013}")
        XCTAssertEqual(c.optim.name, .sgd)
        XCTAssertEqual(c.schedule.monitor, .valLoss)
        XCTAssertEqual(c.data.format.layout, .fer2013)
        XCTAssertTrue(c.jsonString().contains("\"name\":\"sgd\""), "enums encode as their SPEC strings")
    }

    func testAblationInProcessWritesReportAndRedoesOnlyMissingRuns() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try """
        model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, num_classes: 7,
                cbam: {stage: true, head: true, reduction: 16, kernel_size: 7},
                transformer: {layers: 1, heads: 2, d_model: 32, d_ff: 64, dropout: 0.0}}
        loss: {ce: 0.60, center: 0.25, dls: 0.15, center_per_dim: true}
        schedule: {epochs: 1, warmup_epochs: 0, patience: 0}
        data: {format: synthetic, batch_size: 32, clahe: false, mean: [0.5], std: [0.25], workers: 1}
        augment: {hflip: 0, crop: 0, color_jitter: 0, rotate: 0, noise: 0, cutout: 0, mixup: 0}
        """.write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        let out = d + "/abl"
        let request = AblationRequest(config: d + "/c.yaml", data: "synthetic:train=64,val=32,test=0,size=24", seeds: "1,2", out: out)
        let report = try request.run()
        for f in ["ablation.json", "ablation.md", "ablation.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }
        XCTAssertEqual(report.variants.map(\.0), ["resnet50", "efficientnet", "cbam", "transformer", "full"])
        let variants = try json(out + "/ablation.json")["variants"] as! [[String: Any]]
        for v in variants {
            let runs = v["runs"] as! [[String: Any]]
            XCTAssertEqual(runs.map { $0["seed"] as? Int }, [1, 2])
            for r in runs {
                for key in ["accuracy", "macro_f1", "auc_macro_ovr", "images_per_second"] { XCTAssertNotNil(r[key] as? Double, "\(key)") }
                XCTAssertEqual((r["per_class_f1"] as? [String: Any])?.count, 7)
            }
            if v["variant"] as? String != "full" {
                XCTAssertNotNil((v["paired_t_vs_full"] as? [String: Any])?["p_bonferroni"] as? Double, "\(v)")
                XCTAssertEqual((v["mcnemar_vs_full"] as? [Any])?.count, 2)
            }
        }
        XCTAssertEqual((variants[0]["runs"] as! [[String: Any]])[0]["params"] as? Int, 23_516_103, "ResNet-50, 1 channel, 7 classes")
        XCTAssertTrue(report.markdown().contains("| full | ✓ | ✓ | ✓ | ✓ |"))

        // Lose one finished result: only that run is redone; the others' files are untouched.
        func modified(_ p: String) throws -> Date { try FileManager.default.attributesOfItem(atPath: p)[.modificationDate] as! Date }
        let lost = out + "/cbam/seed-2/eval.json", kept = out + "/resnet50/seed-1/best.safetensors"
        let accuracyBefore = try json(lost)["accuracy"] as! Double
        let keptDate = try modified(kept)
        try FileManager.default.removeItem(atPath: lost)
        _ = try request.run()
        XCTAssertEqual(try json(lost)["accuracy"] as! Double, accuracyBefore, accuracy: 1e-12, "redone run evaluates the same best checkpoint")
        XCTAssertEqual(try modified(kept), keptDate, "finished runs are not retrained")
    }

    func testTuningInProcessLogsTrialsWritesBestConfigAndResumes() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try """
        model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, cbam: null, transformer: null}
        schedule: {epochs: 5, warmup_epochs: 0, patience: 0}
        data: {format: synthetic, batch_size: 32, clahe: false, mean: [0.5], std: [0.25], workers: 1}
        augment: {hflip: 0, crop: 0, color_jitter: 0, rotate: 0, noise: 0, cutout: 0, mixup: 0}
        """.write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        try "optim.lr: {low: 1.0e-4, high: 3.0e-3, log: true}\nmodel.drop_rate: {low: 0, high: 0.5}\n"
            .write(toFile: d + "/space.yaml", atomically: true, encoding: .utf8)
        let out = d + "/tune"
        func request(_ trials: Int) -> TuningRequest {
            TuningRequest(config: d + "/c.yaml", data: "synthetic:train=64,val=32,test=16,size=24", trials: trials, out: out,
                          epochs: 1, space: d + "/space.yaml")
        }
        let best = try request(3).run()
        let log = try TrialRecord.load(out + "/trials.jsonl", keys: ["optim.lr", "model.drop_rate"])
        XCTAssertEqual(log.keys.sorted(), [1, 2, 3])
        XCTAssertEqual(Set(log.values.map { $0.values[0] }).count, 3, "three different proposals")
        for r in log.values {
            XCTAssertTrue((1e-4...3e-3).contains(r.values[0]) && (0...0.5).contains(r.values[1]))
        }
        XCTAssertEqual(best.accuracy, log.values.map(\.accuracy).max()!, accuracy: 1e-12)
        let bestConfig = try Config.load(path: out + "/best.yaml")
        XCTAssertEqual(Double(bestConfig.optim.lr), best.values[0], accuracy: 1e-9)
        XCTAssertEqual(bestConfig.schedule.epochs, 5, "best.yaml keeps the config's schedule")

        _ = try request(4).run()
        let four = try TrialRecord.load(out + "/trials.jsonl", keys: ["optim.lr", "model.drop_rate"])
        XCTAssertEqual(four.keys.sorted(), [1, 2, 3, 4])
        for t in 1...3 { XCTAssertEqual(four[t]!.values, log[t]!.values, "logged trial \(t) kept") }

        // Lose trial 4's result: the rerun resumes it and gets the same numbers.
        try FileManager.default.removeItem(atPath: out + "/trial-004/eval.json")
        try TrialRecord.write(four.filter { $0.key < 4 }, to: out + "/trials.jsonl", objective: .valAccuracy)
        _ = try request(4).run()
        let again = try TrialRecord.load(out + "/trials.jsonl", keys: ["optim.lr", "model.drop_rate"])
        XCTAssertEqual(again[4]!.values, four[4]!.values)
        XCTAssertEqual(again[4]!.accuracy, four[4]!.accuracy, accuracy: 1e-12)
    }
}
