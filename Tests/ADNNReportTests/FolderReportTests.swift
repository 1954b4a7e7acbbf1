import Foundation
import ADNNTrain
import XCTest
@testable import ADNNReport

final class FolderReportTests: XCTestCase {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "adnn-report-f-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    func testAblationFolder() throws {
        let d = try tempDir()
        func run(_ seed: Int, _ acc: Double) -> [String: Any] {
            ["seed": seed, "accuracy": acc, "macro_f1": acc - 0.1, "auc_macro_ovr": 0.8, "params": 3_379_399,
             "per_class_f1": ["anger": acc - 0.2, "happiness": acc + 0.1]]
        }
        let variants: [[String: Any]] = [
            ["variant": "resnet50", "efficientnet": false, "cbam": false, "transformer": false, "compound_loss": false,
             "runs": [run(42, 0.40), run(123, 0.44)], "paired_t_vs_full": ["t": -10.2, "df": 1, "p": 0.0123, "p_bonferroni": 0.0492],
             "mcnemar_vs_full": [["seed": 42, "b": 3, "c": 9, "p": 0.00021], ["seed": 123, "b": 4, "c": 6, "p": 0.75]]],
            ["variant": "full", "efficientnet": true, "cbam": true, "transformer": true, "compound_loss": true,
             "runs": [run(42, 0.52), run(123, 0.54)]],
        ]
        try JSONSerialization.data(withJSONObject: ["dataset": "fer", "seeds": [42, 123], "classes": ["anger", "happiness"], "variants": variants])
            .write(to: URL(fileURLWithPath: d + "/ablation.json"))
        let (html, kind, _) = try RunReport.html(for: d)
        XCTAssertEqual(kind, .ablation)
        let (elements, _) = HTMLChecker.assertSelfContained(html)
        // Mean ± sample std over the two seeds: 42.00 ± 2.83, then 53.00 ± 1.41 (+11.00).
        XCTAssertTrue(html.contains("42.00 ± 2.83"), "resnet50 accuracy")
        XCTAssertTrue(html.contains("53.00 ± 1.41"))
        XCTAssertTrue(html.contains("+11.00"))
        XCTAssertTrue(html.contains("0.0123 (0.0492)"), "t-test p and Bonferroni p")
        XCTAssertTrue(html.contains("2.10e-04, 0.75"), "McNemar p per seed")
        XCTAssertEqual(elements["svg"], 1)
        // Two series × two variants: four bars with whiskers.
        XCTAssertEqual(html.components(separatedBy: "stroke=\"#222\" stroke-width=\"1.2\"").count - 1, 4)
        XCTAssertTrue(html.contains("<td>resnet50</td><td class=\"num\">40.00</td><td class=\"num\">44.00</td>"), "per-seed table")
    }

    func testTuningFolder() throws {
        let d = try tempDir()
        let trials: [[String: Any]] = [
            ["trial": 1, "params": ["optim.lr": 0.001, "model.drop_rate": 0.1], "metric": 0.30, "accuracy": 0.30, "macro_f1": 0.25, "seconds": 60],
            ["trial": 2, "params": ["optim.lr": 0.003, "model.drop_rate": 0.0], "metric": 0.42, "accuracy": 0.42, "macro_f1": 0.40, "seconds": 90],
            ["trial": 3, "params": ["optim.lr": 0.0001, "model.drop_rate": 0.5], "metric": 0, "accuracy": 0, "macro_f1": 0, "seconds": 5,
             "error": "loss is not finite"],
            ["trial": 4, "params": ["optim.lr": 0.002, "model.drop_rate": 0.2], "metric": 0.40, "accuracy": 0.40, "macro_f1": 0.38, "seconds": 70],
        ]
        let text = try trials.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
            .joined(separator: "\n") + "\n"
        try text.write(toFile: d + "/trials.jsonl", atomically: true, encoding: .utf8)
        try "# adnn tune: best of 4 trials in x: trial 2, val_accuracy 0.4200\noptim:\n  lr: 3.0e-3\n"
            .write(toFile: d + "/best.yaml", atomically: true, encoding: .utf8)
        let (html, kind, notes) = try RunReport.html(for: d)
        XCTAssertEqual(kind, .tuning)
        XCTAssertEqual(notes, [])
        let (elements, _) = HTMLChecker.assertSelfContained(html)
        XCTAssertEqual(elements["svg"], 2)
        XCTAssertTrue(html.contains("<tr class=\"best\"><td class=\"num\">2</td><td class=\"num\">1</td>"), "trial 2 ranks first and is highlighted")
        XCTAssertTrue(html.contains("<td class=\"num\">3</td><td class=\"num\">—</td>"), "the failed trial has no rank")
        XCTAssertTrue(html.contains("trial 3: loss is not finite"))
        XCTAssertTrue(html.contains("lr: 3.0e-3"), "best config shown")
        XCTAssertTrue(html.contains("best so far"))
        XCTAssertEqual(elements["tr"], 5, "header + 4 trials")
        // Without best.yaml the search is reported as unfinished.
        try FileManager.default.removeItem(atPath: d + "/best.yaml")
        XCTAssertEqual(try RunReport.html(for: d).notes, ["No best.yaml: the search has not finished."])
    }

    func testAxisTicks() {
        let t = AxisTicks.linear(0.13, 0.91)
        XCTAssertEqual(t.values.first!, 0, accuracy: 1e-12); XCTAssertEqual(t.values.last!, 1, accuracy: 1e-12)
        XCTAssertEqual(t.labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        XCTAssertEqual(AxisTicks.linear(1, 8, count: 7, integer: true).values, [1, 2, 3, 4, 5, 6, 7, 8])
        let l = AxisTicks.log10Scale(1e-5, 2e-3)
        XCTAssertEqual(l.labels, ["1e-5", "1e-4", "1e-3", "1e-2"])
        XCTAssertEqual(AxisTicks.compactScientific(0.0025), "2.5e-3")
        XCTAssertTrue(HTMLChecker.check("<p><b>x</p></b>").problems.count > 0, "the checker catches misnesting")
        XCTAssertEqual(HTMLChecker.check("<div><img src=\"a\"><br><svg><rect/></svg></div>").problems, [])
        XCTAssertEqual(HTML.escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;")
    }
}
