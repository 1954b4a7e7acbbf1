import Foundation
import ADNNTrain
import XCTest
import ADNN
import ADNNData
@testable import ADNNReport

final class RunReportTests: XCTestCase {
    let classes = SyntheticFaces.classes

    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "adnn-report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    func write(_ o: Any, _ path: String) throws {
        try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
    }

    /// A run folder as `adnn train` writes it, with probabilities in predictions.json; returns its
    /// labels and probability rows.
    func makeRunFolder(_ d: String, probabilities: Bool = true, budget: Bool = false) throws -> (labels: [Int], probs: [[Double]]) {
        var lines = ""
        for e in 1...6 {
            var r: [String: Any] = ["epoch": e, "lr": 0.002 * pow(0.6, Double(e - 1)), "loss": 1.6 / Double(e), "loss_ce": 2.0 / Double(e),
                                    "loss_center": 0.05, "loss_dls": 1.9 / Double(e), "train_accuracy": 0.15 * Double(e),
                                    "val_accuracy": 0.14 * Double(e), "val_macro_f1": 0.13 * Double(e), "val_loss": 1.8 / Double(e),
                                    "images_per_second": 350.0 + Double(e), "seconds": 9.0]
            if budget { r["steps"] = 10 * e; r["planned_steps"] = 60 - e; r["elapsed_seconds"] = 70.0 * Double(e) }
            lines += String(decoding: try JSONSerialization.data(withJSONObject: r, options: [.sortedKeys]), as: UTF8.self) + "\n"
        }
        try lines.write(toFile: d + "/metrics.jsonl", atomically: true, encoding: .utf8)
        // 70 images, 10 per class; image i is predicted correctly unless i % 5 == 0.
        let k = classes.count
        var labels: [Int] = [], preds: [Int] = [], probs: [[Double]] = []
        for i in 0..<70 {
            let y = i % k, p = i % 5 == 0 ? (y + 1) % k : y
            var row = [Double](repeating: 0.2 / Double(k - 1), count: k)
            row[p] = 0.8
            labels.append(y); preds.append(p); probs.append(row)
        }
        var conf = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for (y, p) in zip(labels, preds) { conf[y][p] += 1 }
        var perClass: [String: Any] = [:]
        for (j, c) in classes.enumerated() {
            let tp = Double(conf[j][j]), col = Double((0..<k).reduce(0) { $0 + conf[$1][j] }), row = Double(conf[j].reduce(0, +))
            let p = tp / col, r = tp / row
            perClass[c] = ["precision": p, "recall": r, "f1": 2 * p * r / (p + r), "support": Int(row)]
        }
        try write(["accuracy": 56.0 / 70, "macro_f1": 0.8, "balanced_accuracy": 0.8, "auc_macro_ovr": 0.95, "classes": classes,
                   "confusion": conf, "dataset": "synthetic", "epoch": 6, "n": 70, "params": 4_513_138, "per_class": perClass,
                   "split": "val", "images_per_second": 1000.0, "loss": 0.5], d + "/eval.json")
        var p: [String: Any] = ["labels": labels, "predictions": preds]
        if probabilities { p["probabilities"] = probs }
        try write(p, d + "/predictions.json")
        try "model:\n  backbone: efficientnet_b0\n  input_size: 48\nseed: 42\n".write(toFile: d + "/config.yaml", atomically: true, encoding: .utf8)
        return (labels, probs)
    }

    func mistakes() throws -> [ReportMistake] {
        try (0..<3).map { i in
            let face = SyntheticFaces.draw(label: i, seed: UInt64(i), size: 48)
            let overlay = face.overlaid(heatMap: [0, 0.5, 0.5, 1], mapWidth: 2, mapHeight: 2, colorMap: .jet)
            return ReportMistake(imagePNG: try encodePNG(face), trueClass: classes[i], predictedClass: classes[(i + 1) % 7],
                                 confidence: 0.9 - Double(i) * 0.1, overlayPNG: try encodePNG(overlay), caption: "val #\(i)")
        }
    }

    func testRunFolderReport() throws {
        let d = try tempDir()
        let (labels, probs) = try makeRunFolder(d)
        let (html, kind, notes) = try RunReport.html(for: d, options: .init(mistakes: try mistakes()))
        XCTAssertEqual(kind, .run)
        XCTAssertEqual(notes, [])
        let (elements, pngs) = HTMLChecker.assertSelfContained(html)
        for id in ["curves", "confusion", "per-class", "calibration", "mistakes", "config"] {
            XCTAssertTrue(html.contains("<h2 id=\"\(id)\">"), "section \(id)")
        }
        for title in ["Loss terms", "Accuracy and macro-F1", "Learning rate", "Counts", "Row-normalised", "Reliability diagram"] {
            XCTAssertTrue(html.contains(title), title)
        }
        // 4 curve charts, 2 heat maps, 1 reliability diagram, plus 7 inline F1 bars.
        XCTAssertEqual(elements["svg"], 4 + 2 + 1 + classes.count)
        XCTAssertEqual(elements["figure"], 3)
        XCTAssertEqual(pngs.count, 6)
        for png in pngs {
            let img = try decodeImage([UInt8](png), name: "embedded")
            XCTAssertEqual(img.width, 48); XCTAssertEqual(img.height, 48)
        }
        // Every confusion count appears as a cell; the ECE matches an independent computation.
        let c = try Calibration(probabilities: probs, labels: labels)
        XCTAssertEqual(c.ece, abs(0.8 - 56.0 / 70), accuracy: 1e-9, "all images sit in the 0.8 bin")
        XCTAssertTrue(html.contains(String(format: "ECE %.2f %%", c.ece * 100)))
        XCTAssertTrue(html.contains("<td>neutral</td><td class=\"num\">"))
        XCTAssertTrue(html.contains("predicted <b>happiness</b> (p 0.900)"))
    }

    /// A time-budgeted run: accuracy against minutes and the planned / done steps, not raw key charts.
    func testTimeBudgetCharts() throws {
        let d = try tempDir()
        _ = try makeRunFolder(d, budget: true)
        let (html, _, _) = try RunReport.html(for: d, options: .init(mistakes: []))
        XCTAssertTrue(html.contains("Accuracy against wall-clock time"))
        XCTAssertTrue(html.contains("Time budget: steps planned and done"))
        XCTAssertFalse(html.contains(">elapsed_seconds<"), "no chart named after the raw key")
        _ = HTMLChecker.assertSelfContained(html)
    }

    func testMissingProbabilitiesAreNamed() throws {
        let d = try tempDir()
        _ = try makeRunFolder(d, probabilities: false)
        let (html, _, notes) = try RunReport.html(for: d)
        XCTAssertTrue(notes.contains { $0.contains("predictions.json has no \"probabilities\" field") }, "\(notes)")
        HTMLChecker.assertSelfContained(html)
        XCTAssertFalse(html.contains("Reliability diagram"))
    }

    func testCalibrationBins() throws {
        // Two images at confidence 0.95 (one right), two at 0.55 (both right).
        let probs = [[0.95, 0.05], [0.95, 0.05], [0.45, 0.55], [0.55, 0.45]]
        let c = try Calibration(probabilities: probs, labels: [0, 1, 1, 0], binCount: 10)
        XCTAssertEqual(c.bins[9].count, 2); XCTAssertEqual(c.bins[9].accuracy, 0.5); XCTAssertEqual(c.bins[9].confidence, 0.95, accuracy: 1e-12)
        XCTAssertEqual(c.bins[5].count, 2); XCTAssertEqual(c.bins[5].accuracy, 1)
        XCTAssertEqual(c.ece, 0.5 * 0.45 + 0.5 * 0.45, accuracy: 1e-12)
        XCTAssertThrowsError(try Calibration(probabilities: probs, labels: [0, 1]))
    }

    func testFolderKindsAndOverwrite() throws {
        let d = try tempDir()
        XCTAssertThrowsError(try RunReport.html(for: d)) { e in
            XCTAssertEqual(String(describing: e), "\(d): not a run folder (metrics.jsonl, eval.json), an ablation folder (ablation.json) or a tuning folder (trials.jsonl)")
        }
        XCTAssertThrowsError(try ReportFolder.kind(of: d + "/missing")) { e in XCTAssertTrue(String(describing: e).hasSuffix("no such folder")) }
        _ = try makeRunFolder(d)
        let out = d + "/r.html"
        try RunReport.write(dir: d, to: out)
        XCTAssertThrowsError(try RunReport.write(dir: d, to: out)) { e in XCTAssertTrue(String(describing: e).contains("exists already")) }
        XCTAssertNoThrow(try RunReport.write(dir: d, to: out, force: true))
        try "{\"epoch\": 1}\nnot json\n".write(toFile: d + "/metrics.jsonl", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RunReport.html(for: d)) { e in
            XCTAssertEqual(String(describing: e), "\(d)/metrics.jsonl: line 2 is not a JSON object")
        }
    }

    /// The checkpoint path: a random 7-class 24 px model re-evaluated on a small synthetic split
    /// gives probabilities for every image and Grad-CAM overlays for its most confident mistakes.
    func testReEvaluationWithGradCAM() throws {
        let d = try tempDir()
        _ = try makeRunFolder(d, probabilities: false)
        var cfg = Config()
        cfg.model.backbone = "efficientnet_b0"; cfg.model.inChans = 1; cfg.model.inputSize = 24; cfg.model.numClasses = 7
        cfg.model.cbam = nil; cfg.model.transformer = nil
        cfg.data.mean = [0.5]; cfg.data.std = [0.25]; cfg.data.clahe = false
        let model = try ADNNFER(cfg.model)
        try Checkpoint(tensors: model.stateDict(), config: cfg, classes: classes, epoch: 1, metric: 0).write(to: d + "/best.safetensors")
        var opened: [String] = []
        let options = RunReport.Options(openDataset: { _, path in
            opened.append(path)
            return try Dataset.load("synthetic:train=7,val=21,test=7,size=24,seed=3")
        }, mistakeCount: 4)
        let (html, _, notes) = try RunReport.html(for: d, options: options)
        XCTAssertEqual(opened, ["synthetic"], "eval.json's dataset is opened")
        XCTAssertTrue(notes.contains { $0.contains("labels differ") }, "the fixture's labels are not the split's: \(notes)")
        let (elements, pngs) = HTMLChecker.assertSelfContained(html)
        XCTAssertTrue(html.contains("re-evaluated on synthetic val (21 images)"))
        let figures = elements["figure"] ?? 0
        XCTAssertTrue((1...4).contains(figures), "\(figures) mistakes")
        XCTAssertEqual(pngs.count, 2 * figures)
        for png in pngs { XCTAssertEqual(try decodeImage([UInt8](png), name: "embedded").width, 96) }

        // A run stopped before its final evaluation has no eval.json: the data set comes from `dataPath`
        // (`adnn report --data`), and without it the note says so.
        try FileManager.default.removeItem(atPath: d + "/eval.json")
        try? FileManager.default.removeItem(atPath: d + "/predictions.json")
        opened = []
        var given = options
        given.dataPath = "synthetic"
        let (_, _, notesGiven) = try RunReport.html(for: d, options: given)
        XCTAssertEqual(opened, ["synthetic"], "--data is opened")
        XCTAssertFalse(notesGiven.contains { $0.contains("No reliability diagram") }, "\(notesGiven)")
        let (_, _, notesNone) = try RunReport.html(for: d, options: options)
        XCTAssertTrue(notesNone.contains { $0.contains("give --data") }, "\(notesNone)")
    }
}
