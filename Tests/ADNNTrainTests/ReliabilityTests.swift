import XCTest
import Foundation
@testable import ADNN
@testable import ADNNTrain
import ADNNData

/// Bad input gets one clear error naming the file or key; nothing is lost or silently overwritten;
/// interrupted writes are cleaned up and resumes find a checkpoint.
final class ReliabilityTests: XCTestCase {
    func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("adnn-rel-\(getpid())-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    let tinyData = "synthetic:train=64,val=32,test=0,size=24"

    func writeTinyConfig(_ path: String, epochs: Int = 1) throws {
        try """
        model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, num_classes: 7, cbam: null, transformer: null}
        schedule: {epochs: \(epochs), warmup_epochs: 0, patience: 0}
        data: {format: synthetic, batch_size: 32, clahe: false, mean: [0.5], std: [0.25], workers: 1}
        augment: {hflip: 0, crop: 0, color_jitter: 0, rotate: 0, noise: 0, cutout: 0, mixup: 0}
        """.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func error(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return String(describing: error) }
    }

    func testExistingRunNeedsResumeOrForce() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeTinyConfig(d + "/c.yaml")
        let run = d + "/run"
        try TrainingRequest(configPath: d + "/c.yaml", dataPath: tinyData, out: run).run()
        let before = try Data(contentsOf: URL(fileURLWithPath: run + "/best.safetensors"))
        let e = error { try TrainingRequest(configPath: d + "/c.yaml", dataPath: tinyData, out: run, seed: 7).run() }
        XCTAssertTrue(e.contains(run) && e.contains("--resume") && e.contains("--force"), e)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: run + "/best.safetensors")), before, "nothing was overwritten")
        try TrainingRequest(configPath: d + "/c.yaml", dataPath: tinyData, out: run, seed: 7, force: true).run()
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: run + "/best.safetensors")), before, "--force replaced the run")
        let both = error { try TrainingRequest(configPath: d + "/c.yaml", out: run, resume: true, force: true).run() }
        XCTAssertTrue(both.contains("--resume") && both.contains("--force"), both)
    }

    func testStaleTemporaryFilesAreRemovedAndResumeFallsBackToBest() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeTinyConfig(d + "/c.yaml", epochs: 1)
        let run = d + "/run"
        try TrainingRequest(configPath: d + "/c.yaml", dataPath: tinyData, out: run).run()
        // A kill during a checkpoint write leaves `<file>.tmp-<pid>` of a process that is gone; `last` is lost.
        let stale = run + "/last.safetensors.tmp-999999"
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: stale))
        try FileManager.default.removeItem(atPath: run + "/last.safetensors")
        XCTAssertEqual(RunFolder.resumeCheckpoint(run), run + "/best.safetensors")
        try TrainingRequest(configPath: d + "/c.yaml", dataPath: tinyData, out: run, epochs: 2, resume: true).run()
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "stale temporary file removed")
        XCTAssertEqual(try Checkpoint.read(run + "/last.safetensors").epoch, 2, "resumed from best (epoch 1) and trained epoch 2")
        XCTAssertEqual(try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").count, 2)
        // Nothing to resume at all: one error naming the folder.
        let empty = d + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let e = error { try TrainingRequest(configPath: d + "/c.yaml", dataPath: tinyData, out: empty, resume: true).run() }
        XCTAssertTrue(e.contains(empty) && e.contains("nothing to resume"), e)
    }

    func testBadConfigValuesNameFileAndKey() {
        let cases: [(String, String)] = [
            ("model: {transformer: {heads: 0, d_model: 64}}", "model.transformer.heads"),
            ("model: {cbam: {reduction: 0}}", "model.cbam.reduction"),
            ("model: {cbam: {kernel_size: 0}}", "model.cbam.kernel_size"),
            ("model: {transformer: {d_model: 0}}", "model.transformer.d_model"),
            ("model: {input_size: 100000}", "model.input_size"),
            ("model: {num_classes: 2147483648}", "model.num_classes"),
            ("model: {drop_rate: 1.5}", "model.drop_rate"),
            ("optim: {lr: -1}", "optim.lr"),
            ("optim: {lr: .inf}", "optim.lr"),
            ("data: {batch_size: 2.5}", "data.batch_size"),
            ("data: {batch_size: many}", "data.batch_size"),
            ("data: {std: [0.0, 1, 1]}", "data.std"),
            ("augment: {hflip: 2}", "augment.hflip"),
            ("schedule: {epochs: 0}", "schedule.epochs"),
            ("seed: -4", "seed"),
            ("seed: 1\nseed: 2", "seed"),
            ("a: &x [1]\nb: *x", "anchors"),
        ]
        for (yaml, key) in cases {
            let e = error { _ = try Config.parse(yaml: yaml, file: "bad.yaml") }
            XCTAssertTrue(e.hasPrefix("bad.yaml") && e.contains(key), "\(yaml) → \(e)")
            XCTAssertFalse(e.contains("\n"), "one line: \(e)")
        }
        // Fractional values where the default happens to be whole are fine.
        XCTAssertEqual(try Config.parse(yaml: "augment: {rotate_degrees: 12.5}").augment.rotateDegrees, 12.5)
        XCTAssertEqual(try Config.parse(yaml: "data: {batch_size: 16.0}").data.batchSize, 16)
    }

    func testEverySampleCorruptEndsWithAnErrorNotATrap() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        for split in ["train", "val"] {
            for cls in ["happy", "sad"] {
                let dir = "\(d)/data/\(split)/\(cls)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for i in 0..<4 { try Data("not a picture".utf8).write(to: URL(fileURLWithPath: "\(dir)/\(i).png")) }
            }
        }
        try """
        model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, num_classes: 2, cbam: null, transformer: null}
        schedule: {epochs: 1, warmup_epochs: 0, patience: 0}
        data: {format: folder, batch_size: 4, clahe: false, mean: [0.5], std: [0.25], workers: 1}
        """.write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        let e = error { try TrainingRequest(configPath: d + "/c.yaml", dataPath: d + "/data", out: d + "/run").run() }
        XCTAssertTrue(e.contains("can be decoded") && e.contains(d + "/data"), e)
    }

    func testDamagedCheckpointsAreNamed() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        var cfg = Config()
        cfg.model.backbone = "efficientnet_b0"; cfg.model.inChans = 1; cfg.model.inputSize = 24; cfg.model.numClasses = 7
        cfg.model.cbam = nil; cfg.model.transformer = nil
        cfg.data.mean = [0.5]; cfg.data.std = [0.25]; cfg.data.clahe = false
        let model = try ADNNFER(cfg.model)
        // Two class names for a 7-class model.
        try Checkpoint(tensors: model.stateDict(), config: cfg, classes: ["a", "b"], epoch: 1, metric: 0).write(to: d + "/two.safetensors")
        let e1 = error { _ = try ImageClassifier(checkpoint: d + "/two.safetensors") }
        XCTAssertTrue(e1.contains(d + "/two.safetensors") && e1.contains("2 classes"), e1)
        // NaN weights: predictions are refused, naming the checkpoint.
        let poisoned = model.stateDict().map { (name, t) -> (String, Tensor) in
            name == "head.weight" ? (name, Tensor(repeating: .nan, shape: t.shape)) : (name, t)
        }
        try Checkpoint(tensors: poisoned, config: cfg, classes: [], epoch: 1, metric: 0).write(to: d + "/nan.safetensors")
        let e2 = error { try EvaluationRequest(checkpoint: d + "/nan.safetensors", data: "synthetic:train=0,val=14,test=0,size=24").run(printing: false) }
        XCTAssertTrue(e2.contains(d + "/nan.safetensors") && e2.contains("not finite"), e2)
        let classifier = try ImageClassifier(checkpoint: d + "/nan.safetensors")
        let e3 = error { _ = try classifier.probabilities(PixelImage(width: 24, height: 24, channels: 1)) }
        XCTAssertTrue(e3.contains("not finite"), e3)
    }

    func testOutputsNeverInsideInputsAndNoSilentOverwrite() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let data = d + "/faces"
        try FileManager.default.createDirectory(atPath: data + "/train/happy", withIntermediateDirectories: true)
        try savePNG(PixelImage(width: 8, height: 8, channels: 1), to: data + "/train/happy/a.png")
        for out in [data, data + "/copy", data + "/../faces/x"] {
            let e = error { try PreprocessRequest(source: DatasetSource(data: data), out: out).run() }
            XCTAssertTrue(e.contains("inside the input data set"), "\(out): \(e)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: data), ["train"], "nothing written into the input")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: d + "/exists.safetensors"))
        let e = error { try ConversionRequest(config: "Configs/quickstart.yaml", weights: "w.safetensors", out: d + "/exists.safetensors").run() }
        XCTAssertTrue(e.contains("exists") && e.contains("--force"), e)
        XCTAssertEqual(try String(contentsOfFile: d + "/exists.safetensors", encoding: .utf8), "keep me")
    }
}
