import XCTest
import Foundation
@testable import ADNN
@testable import ADNNTrain
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
