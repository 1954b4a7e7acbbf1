import XCTest
import Foundation
@testable import ADNN
import ADNNData

/// Runs the built `adnn` binary on bad input: one clear error line naming the file or key, exit ≠ 0.
final class CLITests: XCTestCase {
    var binary: URL {
        // The test bundle sits in (Linux) or next to (Darwin) the products folder of the same build.
        let b = Bundle(for: CLITests.self).bundleURL
        let candidates = [b.appendingPathComponent("adnn"), b.deletingLastPathComponent().appendingPathComponent("adnn")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("adnn binary not built next to the tests (\(binary.path))")
        }
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("adnn-cli-\(getpid())-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func assertOneLineError(_ r: (status: Int32, stdout: String, stderr: String), mentions: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "exit status", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one error line, got: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(mentions), "error names \(mentions): \(r.stderr)", file: file, line: line)
    }

    func testMissingDataFolder() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try "model: {backbone: efficientnet_b0, input_size: 32, cbam: null, transformer: null}\n".write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        assertOneLineError(try run(["train", "--config", d + "/c.yaml", "--data", d + "/nope", "--out", d + "/run"]), mentions: d + "/nope")
    }

    func testUnknownConfigKey() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try "model: {backbone: efficientnet_b0}\noptim: {learning_rate: 0.1}\n".write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        let r = try run(["train", "--config", d + "/c.yaml", "--data", "synthetic", "--out", d + "/run"])
        assertOneLineError(r, mentions: "optim.learning_rate")
        XCTAssertTrue(r.stderr.contains(d + "/c.yaml"))
    }

    func testWrongCSVHeader() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try "label,pixels,split\n0,1 2 3,Training\n".write(toFile: d + "/fer2013.csv", atomically: true, encoding: .utf8)
        try "model: {backbone: efficientnet_b0, input_size: 32, cbam: null, transformer: null}\n".write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        assertOneLineError(try run(["train", "--config", d + "/c.yaml", "--data", d + "/fer2013.csv", "--out", d + "/run"]),
                           mentions: d + "/fer2013.csv")
    }

    func testTruncatedCheckpoint() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        var bytes = [UInt8](repeating: 0, count: 8); bytes[0] = 200
        try Data(bytes + Array("{\"a\":".utf8)).write(to: URL(fileURLWithPath: d + "/ck.safetensors"))
        assertOneLineError(try run(["eval", "--checkpoint", d + "/ck.safetensors", "--data", "synthetic"]), mentions: d + "/ck.safetensors")
    }

    func testNaNLossStopsWithStep() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try """
        model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, cbam: null, transformer: null}
        optim: {lr: 1.0e+30, grad_clip: 0}
        schedule: {epochs: 1, warmup_epochs: 0}
        data: {format: synthetic, synthetic_count: 64, batch_size: 16, mean: [0.5], std: [0.25]}
        """.write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        let r = try run(["train", "--config", d + "/c.yaml", "--out", d + "/run"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("not finite") && r.stderr.contains("step"), r.stderr)
    }

    /// Cross-dataset evaluation: classes matched by canonical name, unknown classes reported and skipped.
    func testEvalMatchesClassesByNameAcrossDataSets() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeTinyCheckpoint(d + "/ck.safetensors")
        // Folder data set in another order, with a class the model lacks.
        for (cls, n) in [("angry", 2), ("contempt", 3), ("happy", 1)] {
            let dir = d + "/data/test/" + cls
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for i in 0..<n { try savePNG(PixelImage(width: 24, height: 24, channels: 1, fill: UInt8(40 * i)), to: dir + "/\(i).png") }
        }
        let r = try run(["eval", "--checkpoint", d + "/ck.safetensors", "--data", d + "/data", "--split", "test", "--json", d + "/e.json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("contempt"), r.stdout)
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/e.json"))) as! [String: Any]
        XCTAssertEqual(obj["n"] as? Int, 3, "contempt images skipped")
        XCTAssertEqual(obj["classes"] as? [String], ["happiness", "anger", "neutral"])
        XCTAssertEqual(obj["classes_missing_in_model"] as? [String], ["contempt"])
        let support = (obj["per_class"] as! [String: [String: Any]]).mapValues { $0["support"] as! Int }
        XCTAssertEqual(support, ["happiness": 1, "anger": 2, "neutral": 0])
    }

    /// `adnn tune`: three 1-epoch trials on a tiny synthetic set, then a rerun with `--trials 4` that
    /// trains only the fourth, then a rerun after losing the fourth's result that resumes it.
    /// `adnn ablate`: five variants × 2 seeds on a tiny synthetic set write the JSON (per run: accuracy,
    /// macro-F1, AUC, per-class F1, images/s, params), the Markdown table with the statistics and the
    /// SVG; a rerun after losing one run's result redoes only that run.
    func testAblateWritesReportAndRedoesOnlyMissingRuns() throws {
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
        let args = ["ablate", "--config", d + "/c.yaml", "--data", "synthetic:train=64,val=32,test=0,size=24",
                    "--seeds", "1,2", "--out", out, "--threads", "1"]
        let first = try run(args)
        XCTAssertEqual(first.status, 0, first.stderr)
        for f in ["ablation.json", "ablation.md", "ablation.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/ablation.json"))) as! [String: Any]
        let variants = report["variants"] as! [[String: Any]]
        XCTAssertEqual(variants.map { $0["variant"] as? String }, ["resnet50", "efficientnet", "cbam", "transformer", "full"])
        for v in variants {
            let runs = v["runs"] as! [[String: Any]]
            XCTAssertEqual(runs.map { $0["seed"] as? Int }, [1, 2])
            for r in runs {
                for key in ["accuracy", "macro_f1", "auc_macro_ovr", "images_per_second"] {
                    XCTAssertNotNil(r[key] as? Double, "\(key) in \(r)")
                }
                XCTAssertEqual((r["per_class_f1"] as? [String: Any])?.count, 7)
                XCTAssertGreaterThan(r["params"] as? Int ?? 0, 0)
            }
            if v["variant"] as? String != "full" {
                XCTAssertNotNil((v["paired_t_vs_full"] as? [String: Any])?["p_bonferroni"] as? Double, "\(v)")
                XCTAssertEqual((v["mcnemar_vs_full"] as? [Any])?.count, 2)
            }
        }
        XCTAssertEqual((variants[0]["runs"] as! [[String: Any]])[0]["params"] as? Int, 23_516_103, "ResNet-50, 1 channel, 7 classes")
        let md = try String(contentsOfFile: out + "/ablation.md", encoding: .utf8)
        XCTAssertTrue(md.contains("| full | ✓ | ✓ | ✓ | ✓ |") && md.contains("paired t vs full"), md)

        // Lose one finished result: only that run is redone (resumed from its last checkpoint).
        let lost = out + "/cbam/seed-2/eval.json"
        let before = try String(contentsOfFile: lost, encoding: .utf8)
        try FileManager.default.removeItem(atPath: lost)
        let second = try run(args)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(second.stdout.components(separatedBy: "skipped").count - 1, 9, second.stdout)
        XCTAssertTrue(second.stdout.contains("== cbam seed 2"), second.stdout)
        XCTAssertFalse(second.stdout.contains("== resnet50"), second.stdout)
        let after = try String(contentsOfFile: lost, encoding: .utf8)
        func accuracy(_ s: String) throws -> Double {
            (try JSONSerialization.jsonObject(with: Data(s.utf8)) as! [String: Any])["accuracy"] as! Double
        }
        XCTAssertEqual(try accuracy(after), try accuracy(before), "the redone run evaluates the same best checkpoint")
    }

    func testTuneLogsTrialsWritesBestConfigAndResumes() throws {
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
        let args = ["tune", "--config", d + "/c.yaml", "--data", "synthetic:train=64,val=32,test=16,size=24", "--epochs", "1",
                    "--space", d + "/space.yaml", "--out", out, "--threads", "1"]
        let first = try run(args + ["--trials", "3"])
        XCTAssertEqual(first.status, 0, first.stderr)
        func log() throws -> [[String: Any]] {
            try String(contentsOfFile: out + "/trials.jsonl", encoding: .utf8).split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
        }
        let three = try log()
        XCTAssertEqual(three.map { $0["trial"] as? Int }, [1, 2, 3])
        for r in three {
            let p = r["params"] as! [String: Double]
            XCTAssertEqual(Set(p.keys), ["optim.lr", "model.drop_rate"])
            XCTAssertTrue((1e-4...3e-3).contains(p["optim.lr"]!) && (0...0.5).contains(p["model.drop_rate"]!), "\(p)")
            XCTAssertEqual(r["metric"] as? Double, r["accuracy"] as? Double)
            XCTAssertNotNil(r["macro_f1"] as? Double); XCTAssertNotNil(r["seconds"] as? Double)
        }
        XCTAssertEqual(Set(three.map { ($0["params"] as! [String: Double])["optim.lr"]! }).count, 3, "three different proposals")
        let best = three.max { ($0["metric"] as! Double) < ($1["metric"] as! Double) }!
        let bestConfig = try Config.load(path: out + "/best.yaml")
        let bestParams = best["params"] as! [String: Double]
        XCTAssertEqual(Double(bestConfig.optim.lr), bestParams["optim.lr"]!, accuracy: 1e-9)
        XCTAssertEqual(Double(bestConfig.model.dropRate), bestParams["model.drop_rate"]!, accuracy: 1e-7)
        XCTAssertEqual(bestConfig.schedule.epochs, 5, "best.yaml keeps the config's schedule")
        XCTAssertNil(bestConfig.model.transformer)
        XCTAssertTrue(first.stdout.contains("| rank | trial | optim.lr | model.drop_rate |"), first.stdout)

        let second = try run(args + ["--trials", "4"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(second.stdout.components(separatedBy: "== trial").count - 1, 1, "one trial trained: \(second.stdout)")
        XCTAssertTrue(second.stdout.contains("== trial 4\n"), second.stdout)
        let four = try log()
        XCTAssertEqual(four.map { $0["trial"] as? Int }, [1, 2, 3, 4])
        for i in 0..<3 {
            XCTAssertEqual(four[i]["params"] as? [String: Double], three[i]["params"] as? [String: Double], "logged trial \(i + 1) kept")
            XCTAssertEqual(four[i]["accuracy"] as! Double, three[i]["accuracy"] as! Double, accuracy: 1e-12)
        }

        // Lose trial 4's result (as if interrupted after its last epoch): the rerun resumes it.
        try FileManager.default.removeItem(atPath: out + "/trial-004/eval.json")
        try (four.prefix(3).map { jsonText($0) }.joined(separator: "\n") + "\n").write(toFile: out + "/trials.jsonl", atomically: true, encoding: .utf8)
        let third = try run(args + ["--trials", "4"])
        XCTAssertEqual(third.status, 0, third.stderr)
        XCTAssertTrue(third.stdout.contains("== trial 4 (resuming)"), third.stdout)
        let again = try log()
        XCTAssertEqual(again[3]["params"] as? [String: Double], four[3]["params"] as? [String: Double])
        XCTAssertEqual(again[3]["accuracy"] as! Double, four[3]["accuracy"] as! Double, accuracy: 1e-12)

        try "optim.lr: {low: 1.0e-4, high: 3.0e-3}\noptim.learning_rate: {low: 0, high: 1}\n".write(toFile: d + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try run(["tune", "--config", d + "/c.yaml", "--trials", "2", "--space", d + "/bad.yaml", "--out", d + "/bad"])
        assertOneLineError(bad, mentions: "optim.learning_rate")
        XCTAssertTrue(bad.stderr.contains(d + "/bad.yaml"), bad.stderr)
    }

    func jsonText(_ o: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
    }

    /// A randomly initialised 3-class gray 24 px EfficientNet-B0 checkpoint (classes happiness, anger,
    /// neutral) for command tests that need a model but not a trained one.
    func writeTinyCheckpoint(_ path: String) throws {
        var cfg = Config()
        cfg.model.backbone = "efficientnet_b0"; cfg.model.inChans = 1; cfg.model.inputSize = 24; cfg.model.numClasses = 3
        cfg.model.cbam = nil; cfg.model.transformer = nil
        cfg.data.mean = [0.5]; cfg.data.std = [0.25]; cfg.data.clahe = false
        let model = try ADNNFER(cfg.model)
        try Checkpoint(tensors: model.stateDict(), config: cfg, classes: ["happiness", "anger", "neutral"], epoch: 1, metric: 0)
            .write(to: path)
    }
}
