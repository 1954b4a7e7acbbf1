import Foundation
import ADNNTrain

/// An ablation folder of `adnn ablate` (`ablation.json`: variants with per-seed runs, means and
/// sample standard deviations over seeds, paired t-tests and McNemar tests against the full model).
struct AblationFolderReport {
    let dir: String
    let json: [String: Any]
    let variants: [[String: Any]]
    let seeds: [Int]
    let classes: [String]

    init(dir: String) throws {
        self.dir = dir
        let path = (dir as NSString).appendingPathComponent("ablation.json")
        json = try JSONFiles.readJSON(path)
        guard let v = json["variants"] as? [[String: Any]], !v.isEmpty else { throw ReportError("\(path): no \"variants\"") }
        variants = v
        seeds = JSONFiles.numbers(json["seeds"])?.map { Int($0) } ?? []
        classes = json["classes"] as? [String] ?? []
    }

    func num(_ o: [String: Any]?, _ k: String) -> Double? { o?[k].flatMap(JSONFiles.number) }
    func runs(_ v: [String: Any]) -> [[String: Any]] { v["runs"] as? [[String: Any]] ?? [] }

    /// Mean and sample standard deviation of a per-run value.
    func stats(_ v: [String: Any], _ k: String) -> (mean: Double, std: Double)? {
        let xs = runs(v).compactMap { num($0, k) }
        guard !xs.isEmpty else { return nil }
        let m = xs.reduce(0, +) / Double(xs.count)
        let sd = xs.count > 1 ? (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)).squareRoot() : 0
        return (m, sd)
    }

    func pString(_ p: Double) -> String { p < 1e-3 ? String(format: "%.2e", p) : String(format: "%.3g", p) }

    func html() -> String {
        let dataset = json["dataset"] as? String ?? "?"
        var b = "<h1>Ablation report: \(HTML.escape((dir as NSString).lastPathComponent))</h1>\n"
        b += "<p class=\"meta\">\(HTML.escape(dir)) · data set \(HTML.escape(dataset)) · \(variants.count) variants × \(seeds.count) seed(s): "
            + HTML.escape(seeds.map(String.init).joined(separator: ", ")) + "</p>\n"
        let names = variants.map { $0["variant"] as? String ?? "?" }
        b += "<h2 id=\"table\">Variants</h2>\n"
        var rows: [[String]] = []
        var prev: (Double, Double)?
        for v in variants {
            let acc = stats(v, "accuracy").map { ($0.mean * 100, $0.std * 100) } ?? (num(v, "accuracy_mean").map { ($0 * 100, (num(v, "accuracy_std") ?? 0) * 100) } ?? (.nan, .nan))
            let f1 = stats(v, "macro_f1").map { ($0.mean * 100, $0.std * 100) } ?? (num(v, "macro_f1_mean").map { ($0 * 100, (num(v, "macro_f1_std") ?? 0) * 100) } ?? (.nan, .nan))
            let auc = stats(v, "auc_macro_ovr")
            let marks = ["efficientnet", "cbam", "transformer", "compound_loss"].map { (v[$0] as? Bool ?? false) ? "✓" : "✗" }
            let t = v["paired_t_vs_full"] as? [String: Any]
            let tCol = t.map { o in "\(pString(num(o, "p") ?? .nan)) (\(pString(num(o, "p_bonferroni") ?? .nan)))" } ?? "—"
            let mc = (v["mcnemar_vs_full"] as? [[String: Any]])?.compactMap { num($0, "p") }.map(pString).joined(separator: ", ")
            let params = runs(v).compactMap { num($0, "params") }.first.map { String(format: "%.2f M", $0 / 1e6) } ?? "—"
            rows.append([HTML.escape(v["variant"] as? String ?? "?")] + marks
                        + [String(format: "%.2f ± %.2f", acc.0, acc.1), prev.map { String(format: "%+.2f", acc.0 - $0.0) } ?? "—",
                           String(format: "%.2f ± %.2f", f1.0, f1.1), prev.map { String(format: "%+.2f", f1.0 - $0.1) } ?? "—",
                           auc.map { HTML.fixed($0.mean, 3) } ?? "—", params, tCol, HTML.escape(mc?.isEmpty == false ? mc! : "—")])
            prev = (acc.0, f1.0)
        }
        b += HTML.table(header: ["variant", "EfficientNet", "CBAM", "Transformer", "compound loss", "accuracy (%)", "Δ acc", "macro-F1 (%)", "Δ F1",
                                 "AUC", "params", "paired t vs full: p (Bonferroni)", "McNemar vs full: p per seed"],
                        rows: rows, numeric: [5, 6, 7, 8, 9, 10],
                        caption: "Mean ± sample standard deviation over seeds; Δ to the previous row; paired two-sided t-test of accuracy over seeds "
                            + "against the full model (Bonferroni-corrected); McNemar exact test on per-image correctness, per seed.")
        let chart = BarChart(title: "Accuracy and macro-F1: mean ± std over \(seeds.count) seed(s)", groups: names, series: [
            .init(name: "accuracy (%)", color: chartPalette[0], values: variants.map { (stats($0, "accuracy")?.mean ?? num($0, "accuracy_mean") ?? .nan) * 100 },
                  errors: variants.map { (stats($0, "accuracy")?.std ?? num($0, "accuracy_std") ?? 0) * 100 }),
            .init(name: "macro-F1 (%)", color: chartPalette[1], values: variants.map { (stats($0, "macro_f1")?.mean ?? num($0, "macro_f1_mean") ?? .nan) * 100 },
                  errors: variants.map { (stats($0, "macro_f1")?.std ?? num($0, "macro_f1_std") ?? 0) * 100 }),
        ], yLabel: "%")
        b += "<div>\(chart.svg())</div>\n"
        b += "<h2 id=\"seeds\">Accuracy per seed (%)</h2>\n"
        b += HTML.table(header: ["variant"] + seeds.map { "seed \($0)" }, rows: variants.map { v in
            [HTML.escape(v["variant"] as? String ?? "?")] + seeds.map { s in
                runs(v).first { num($0, "seed").map { Int($0) } == s }.flatMap { num($0, "accuracy") }.map { HTML.percent($0) } ?? "—"
            }
        }, numeric: Set(1...max(seeds.count, 1)))
        if !classes.isEmpty {
            b += "<h2 id=\"per-class\">Per-class F1, mean over seeds</h2>\n"
            b += HTML.table(header: ["variant"] + classes, rows: variants.map { v in
                [HTML.escape(v["variant"] as? String ?? "?")] + classes.map { c in
                    let xs = runs(v).compactMap { ($0["per_class_f1"] as? [String: Any])?[c].flatMap(JSONFiles.number) }
                    return xs.isEmpty ? "—" : HTML.fixed(xs.reduce(0, +) / Double(xs.count), 3)
                }
            }, numeric: Set(1...classes.count))
        }
        return HTML.document(title: "adnn report: ablation " + (dir as NSString).lastPathComponent, body: b)
    }
}
