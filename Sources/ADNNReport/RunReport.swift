import Foundation
import ADNNTrain
import ADNN
import ADNNData

/// `adnn report`: one self-contained HTML file (inline CSS and SVG, embedded PNG, no scripts, no
/// network resources) for a run folder (`adnn train`), an ablation folder (`adnn ablate`) or a
/// tuning folder (`adnn tune`); the kind is detected from the folder's files (``ReportFolder/kind(of:)``).
public enum RunReport {
    /// What the caller adds to a run folder's report.
    public struct Options {
        /// The most confident mistakes to show (e.g. computed by the app layer with ``GradCAM``);
        /// when nil they are computed with ``SplitAnalysis`` if `openDataset` is set.
        public var mistakes: [ReportMistake]?
        /// Per-image class probabilities for the reliability diagram, in the order of
        /// `predictions.json`'s `labels`; when nil, `predictions.json`'s `probabilities` are used.
        public var probabilities: [[Double]]?
        /// Opens the run's data set (config, `eval.json`'s `dataset`) so that the best checkpoint can
        /// be re-evaluated for probabilities and Grad-CAM mistakes; nil skips that.
        public var openDataset: ((Config, String) throws -> Dataset)?
        /// The data set the best checkpoint is re-evaluated on (`adnn report --data`); nil: `eval.json`'s
        /// `dataset` — a run stopped before its final evaluation has no `eval.json`, so this is its only source.
        public var dataPath: String?
        /// Mistakes shown at most.
        public var mistakeCount = 12
        public init(mistakes: [ReportMistake]? = nil, probabilities: [[Double]]? = nil,
                    openDataset: ((Config, String) throws -> Dataset)? = nil, mistakeCount: Int = 12) {
            self.mistakes = mistakes; self.probabilities = probabilities; self.openDataset = openDataset; self.mistakeCount = mistakeCount
        }
    }

    /// The report of `dir`, its kind, and notes about what could not be shown (also in the HTML).
    /// - Throws: `ReportError` naming the folder or file when it is none of the three kinds or a file is malformed.
    public static func html(for dir: String, options: Options = .init()) throws -> (html: String, kind: ReportFolder.Kind, notes: [String]) {
        let kind = try ReportFolder.kind(of: dir)
        switch kind {
        case .run:
            let r = try RunFolderReport(dir: dir, options: options)
            return (r.html(), kind, r.notes)
        case .ablation:
            return (try AblationFolderReport(dir: dir).html(), kind, [])
        case .tuning:
            let r = try TuningFolderReport(dir: dir)
            return (r.html(), kind, r.notes)
        }
    }

    /// Writes the report of `dir` to `out` atomically.
    /// - Parameter force: replace an existing `out` (otherwise that is an error).
    /// - Returns: the folder kind and the notes of ``html(for:options:)``.
    @discardableResult
    public static func write(dir: String, to out: String, force: Bool = false, options: Options = .init()) throws
        -> (kind: ReportFolder.Kind, notes: [String]) {
        if FileManager.default.fileExists(atPath: out) && !force {
            throw ReportError("\(out): exists already (pass --force to replace it)")
        }
        let (text, kind, notes) = try html(for: dir, options: options)
        do {
            let parent = (out as NSString).deletingLastPathComponent
            if !parent.isEmpty { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
            try text.write(toFile: out, atomically: true, encoding: .utf8)
        } catch {
            throw ReportError("\(out): cannot write: \(error.localizedDescription)")
        }
        return (kind, notes)
    }
}

/// The cards row: (value, key) pairs.
func cards(_ items: [(String, String)]) -> String {
    "<div class=\"cards\">" + items.map { "<div class=\"card\"><div class=\"v\">\(HTML.escape($0.0))</div><div class=\"k\">\(HTML.escape($0.1))</div></div>" }
        .joined() + "</div>\n"
}

/// A run folder of `adnn train`.
struct RunFolderReport {
    let dir: String
    var metrics: [[String: Any]] = []
    var eval: [String: Any]?
    var labels: [Int]?, predictions: [Int]?
    var probabilities: [[Double]]?
    /// The labels of `probabilities`' rows (predictions.json's, or the re-evaluated split's).
    var probabilityLabels: [Int]?
    var probabilitySource = ""
    var calibration: Calibration?
    var mistakes: [ReportMistake]?
    var configText: String?
    var notes: [String] = []

    init(dir: String, options: RunReport.Options) throws {
        self.dir = dir
        func path(_ f: String) -> String { (dir as NSString).appendingPathComponent(f) }
        let fm = FileManager.default
        if fm.fileExists(atPath: path("metrics.jsonl")) { metrics = try JSONFiles.readJSONLines(path("metrics.jsonl")) }
        if fm.fileExists(atPath: path("eval.json")) { eval = try JSONFiles.readJSON(path("eval.json")) }
        if fm.fileExists(atPath: path("config.yaml")) { configText = try? String(contentsOfFile: path("config.yaml"), encoding: .utf8) }
        let classCount = classes.count
        if fm.fileExists(atPath: path("predictions.json")) {
            let p = try JSONFiles.readJSON(path("predictions.json"))
            labels = JSONFiles.numbers(p["labels"])?.map { Int($0) }
            predictions = JSONFiles.numbers(p["predictions"])?.map { Int($0) }
            if let raw = p["probabilities"] {
                probabilities = try Self.probabilityRows(raw, count: labels?.count ?? 0, classes: classCount, file: path("predictions.json"))
                probabilitySource = "predictions.json"
                probabilityLabels = labels
            }
        }
        if let given = options.probabilities {
            probabilities = given; probabilityLabels = labels; probabilitySource = "supplied by the caller"
        }
        mistakes = options.mistakes
        if (probabilities == nil || mistakes == nil), let open = options.openDataset {
            analyse(open: open, data: options.dataPath, count: options.mistakeCount)
        }
        if let probabilities, let probabilityLabels {
            do { calibration = try Calibration(probabilities: probabilities, labels: probabilityLabels) } catch {
                notes.append("No reliability diagram: \(error)")
            }
        } else if probabilities != nil {
            notes.append("No reliability diagram: predictions.json has probabilities but no labels.")
        }
        if probabilities == nil && !fm.fileExists(atPath: path("predictions.json")) {
            notes.append("No reliability diagram: no predictions.json, and the best checkpoint could not be re-evaluated.")
        } else if probabilities == nil {
            notes.append("No reliability diagram: predictions.json has no \"probabilities\" field (one array of \(classCount > 0 ? String(classCount) : "K") "
                         + "softmax probabilities per image, in the order of \"labels\"), and the best checkpoint could not be re-evaluated.")
        }
        if mistakes == nil { notes.append("No confident mistakes: they need the images (the run's data set and best.safetensors, or supplied by the caller).") }
    }

    /// `probabilities` as rows: an array of `count` arrays of `classes` numbers, or a flat array of `count × classes`.
    static func probabilityRows(_ raw: Any, count: Int, classes: Int, file: String) throws -> [[Double]] {
        if let rows = raw as? [Any], rows.first is [Any] {
            let out = rows.compactMap(JSONFiles.numbers)
            guard out.count == rows.count, out.count == count, out.allSatisfy({ $0.count == classes || classes == 0 }) else {
                throw ReportError("\(file): \"probabilities\" must hold \(count) rows of \(classes) numbers")
            }
            return out
        }
        guard let flat = JSONFiles.numbers(raw), classes > 0, flat.count == count * classes else {
            throw ReportError("\(file): \"probabilities\" must hold \(count) rows of \(classes) numbers")
        }
        return (0..<count).map { Array(flat[($0 * classes)..<(($0 + 1) * classes)]) }
    }

    mutating func analyse(open: (Config, String) throws -> Dataset, data given: String?, count: Int) {
        let best = (dir as NSString).appendingPathComponent("best.safetensors")
        guard FileManager.default.fileExists(atPath: best) else { notes.append("\(best): missing; mistakes and calibration not recomputed."); return }
        guard let data = given ?? eval?["dataset"] as? String else {
            notes.append("no eval.json naming the data set (a run stopped before its final evaluation): give --data; mistakes and calibration not recomputed.")
            return
        }
        do {
            let ck = try Checkpoint.read(best)
            let dataset = try open(ck.config, data)
            let split = eval?["split"] as? String ?? (dataset.splitNames.contains("val") ? "val" : "test")
            let limit = (eval?["n"]).flatMap(JSONFiles.number).map { Int($0) }
            let a = try SplitAnalysis.analyse(checkpoint: ck, dataset: dataset, split: split, limit: limit, count: count)
            if probabilities == nil {
                probabilities = a.probabilities
                probabilitySource = "best.safetensors re-evaluated on \(data) \(split) (\(a.labels.count) images)"
                if let labels, labels != a.labels {
                    notes.append("The re-evaluated \(split) split's labels differ from predictions.json; the reliability diagram uses the re-evaluation.")
                }
                probabilityLabels = a.labels
            }
            if mistakes == nil { mistakes = a.mistakes }
        } catch {
            notes.append("Could not re-evaluate \(best) on \(data): \(error)")
        }
    }

    var classes: [String] { (eval?["classes"] as? [String]) ?? [] }

    /// `key` per epoch; with `xKey` against that key instead (scaled by `xScale`).
    func series(_ key: String, name: String, color: String, scale: Double = 1, dashed: Bool = false,
                xKey: String? = nil, xScale: Double = 1) -> ChartSeries? {
        let pts = metrics.enumerated().compactMap { i, r -> (x: Double, y: Double)? in
            guard let v = r[key].flatMap(JSONFiles.number) else { return nil }
            if let xKey {
                guard let x = r[xKey].flatMap(JSONFiles.number) else { return nil }
                return (x * xScale, v * scale)
            }
            return (r["epoch"].flatMap(JSONFiles.number) ?? Double(i + 1), v * scale)
        }
        return pts.isEmpty ? nil : ChartSeries(name: name, points: pts, color: color, dashed: dashed)
    }

    func html() -> String {
        var b = "<h1>Run report: \(HTML.escape((dir as NSString).lastPathComponent))</h1>\n"
        var meta = [HTML.escape(dir)]
        if let e = eval {
            if let d = e["dataset"] as? String { meta.append("data set " + HTML.escape(d)) }
            if let s = e["split"] as? String { meta.append("split " + HTML.escape(s)) }
            if let ck = e["checkpoint"] as? String { meta.append("checkpoint " + HTML.escape((ck as NSString).lastPathComponent)) }
        }
        if let cfg = configText, let backbone = Self.yamlValue(cfg, section: "model", key: "backbone") {
            meta.append("backbone " + HTML.escape(backbone))
            if let s = Self.yamlValue(cfg, section: "model", key: "input_size") { meta.append("input \(HTML.escape(s)) px") }
        }
        b += "<p class=\"meta\">" + meta.joined(separator: " · ") + "</p>\n"
        var items: [(String, String)] = []
        let ece = calibration?.ece
        if let e = eval {
            func num(_ k: String) -> Double? { e[k].flatMap(JSONFiles.number) }
            if let v = num("accuracy") { items.append((HTML.percent(v) + " %", "accuracy")) }
            if let v = num("macro_f1") { items.append((HTML.percent(v) + " %", "macro-F1")) }
            if let v = num("balanced_accuracy") { items.append((HTML.percent(v) + " %", "balanced accuracy")) }
            if let v = num("auc_macro_ovr") { items.append((HTML.fixed(v, 4), "AUC (macro OvR)")) }
            if let v = num("loss") { items.append((HTML.fixed(v, 4), "val cross-entropy")) }
            if let ece { items.append((HTML.percent(ece) + " %", "ECE (10 bins)")) }
            if let v = num("n") { items.append((String(Int(v)), "images")) }
            if let v = num("epoch") { items.append((String(Int(v)), "best epoch")) }
            if let v = num("params") { items.append((String(format: "%.2f M", v / 1e6), "parameters")) }
            if let v = num("images_per_second") { items.append((String(format: "%.0f", v), "eval images/s")) }
        }
        if !metrics.isEmpty {
            let secs = metrics.reduce(0.0) { $0 + ($1["seconds"].flatMap(JSONFiles.number) ?? 0) }
            items.append((String(metrics.count), "epochs trained"))
            items.append((secs >= 120 ? String(format: "%.1f min", secs / 60) : String(format: "%.0f s", secs), "training time"))
        }
        b += cards(items)
        for n in notes { b += "<p class=\"note\">\(HTML.escape(n))</p>\n" }
        b += curvesSection()
        b += confusionSection()
        b += perClassSection()
        b += "<h2 id=\"calibration\">Calibration</h2>\n"
        if let calibration {
            b += "<p class=\"meta\">Probabilities: \(HTML.escape(probabilitySource)). Confidence = largest class probability; "
                + "ECE = Σ (bin images / images) · |bin accuracy − bin mean confidence| over 10 equal-width bins.</p>\n"
            b += "<div class=\"grid\"><div>\(calibration.svg())</div><div>"
            b += HTML.table(header: ["confidence", "images", "accuracy (%)", "mean confidence (%)"],
                            rows: calibration.bins.map { [String(format: "%.1f–%.1f", $0.lower, $0.upper), String($0.count),
                                                          $0.count > 0 ? HTML.percent($0.accuracy, 1) : "—", $0.count > 0 ? HTML.percent($0.confidence, 1) : "—"] },
                            numeric: [1, 2, 3])
            b += "</div></div>\n"
        } else {
            b += "<p class=\"note\">Not available: needs per-image probabilities (predictions.json \"probabilities\").</p>\n"
        }
        b += mistakesSection()
        if let configText {
            b += "<h2 id=\"config\">Config</h2>\n<details><summary>config.yaml (resolved)</summary>\n<pre>\(HTML.escape(configText))</pre>\n</details>\n"
        }
        return HTML.document(title: "adnn report: " + (dir as NSString).lastPathComponent, body: b)
    }

    /// `key: value` in the top-level `section:` block of a YAML text (a plain two-level read).
    static func yamlValue(_ yaml: String, section: String, key: String) -> String? {
        var inside = false
        for line in yaml.split(separator: "\n") {
            if !line.hasPrefix(" ") { inside = line.hasPrefix(section + ":"); continue }
            let t = line.trimmingCharacters(in: .whitespaces)
            if inside, t.hasPrefix(key + ":") { return t.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    func curvesSection() -> String {
        var b = "<h2 id=\"curves\">Training curves</h2>\n"
        guard !metrics.isEmpty else { return b + "<p class=\"note\">No metrics.jsonl.</p>\n" }
        var charts: [LineChart] = []
        let lossKeys: [(String, String)] = [("loss", "train total"), ("loss_ce", "cross-entropy"), ("loss_center", "center"),
                                            ("loss_dls", "DLS"), ("val_loss", "val cross-entropy")]
        let loss = lossKeys.enumerated().compactMap { i, k in
            series(k.0, name: k.1, color: chartPalette[i], dashed: k.0 == "val_loss")
        }
        if !loss.isEmpty { charts.append(LineChart(title: "Loss terms", xLabel: "epoch", yLabel: "loss", series: loss, yInclude: [0])) }
        let acc = [("train_accuracy", "train accuracy"), ("val_accuracy", "val accuracy"), ("val_macro_f1", "val macro-F1")].enumerated()
            .compactMap { i, k in series(k.0, name: k.1, color: chartPalette[i], scale: 100) }
        if !acc.isEmpty { charts.append(LineChart(title: "Accuracy and macro-F1", xLabel: "epoch", yLabel: "%", series: acc)) }
        if let lr = series("lr", name: "learning rate (end of epoch)", color: chartPalette[4]) {
            let positive = lr.points.allSatisfy { $0.y > 0 }
            charts.append(LineChart(title: "Learning rate", xLabel: "epoch", yLabel: "lr" + (positive ? " (log)" : ""), series: [lr], logY: positive))
        }
        if let ips = series("images_per_second", name: "training images/s", color: chartPalette[5]) {
            charts.append(LineChart(title: "Training throughput", xLabel: "epoch", yLabel: "images/s", series: [ips], yInclude: [0]))
        }
        // A time-budgeted run (`schedule.time_budget_minutes`): accuracy against wall-clock minutes,
        // and the planned steps (refitted while training) against the steps done.
        let minutes = [("val_accuracy", "val accuracy"), ("val_macro_f1", "val macro-F1")].enumerated().compactMap { i, k in
            series(k.0, name: k.1, color: chartPalette[i + 1], scale: 100, xKey: "elapsed_seconds", xScale: 1.0 / 60)
        }
        if !minutes.isEmpty {
            charts.append(LineChart(title: "Accuracy against wall-clock time", xLabel: "minutes since the start (validation included)",
                                    yLabel: "%", series: minutes))
        }
        let plan = [("planned_steps", "planned steps (in all)"), ("steps", "steps done")].enumerated().compactMap { i, k in
            series(k.0, name: k.1, color: chartPalette[(i + 6) % chartPalette.count], dashed: k.0 == "planned_steps")
        }
        if !plan.isEmpty {
            charts.append(LineChart(title: "Time budget: steps planned and done", xLabel: "epoch", yLabel: "steps", series: plan, yInclude: [0]))
        }
        let known: Set<String> = ["epoch", "loss", "loss_ce", "loss_center", "loss_dls", "val_loss", "train_accuracy", "val_accuracy",
                                  "val_macro_f1", "lr", "images_per_second", "seconds", "elapsed_seconds", "planned_steps", "steps"]
        let other = Set(metrics.flatMap { r in r.keys.filter { r[$0].flatMap(JSONFiles.number) != nil } }).subtracting(known).sorted()
        for (i, k) in other.prefix(8).enumerated() {
            if let s = series(k, name: k, color: chartPalette[(i + 6) % chartPalette.count]) {
                charts.append(LineChart(title: k, xLabel: "epoch", yLabel: k, series: [s]))
            }
        }
        b += "<div class=\"grid\">" + charts.map { "<div>\($0.svg())</div>" }.joined(separator: "\n") + "</div>\n"
        let header = ["epoch", "loss", "ce", "center", "DLS", "train acc (%)", "val acc (%)", "val macro-F1 (%)", "val loss", "lr", "images/s", "s"]
        let keys = ["epoch", "loss", "loss_ce", "loss_center", "loss_dls", "train_accuracy", "val_accuracy", "val_macro_f1", "val_loss", "lr",
                    "images_per_second", "seconds"]
        let rows = metrics.map { r in keys.map { k -> String in
            guard let v = r[k].flatMap(JSONFiles.number) else { return "—" }
            switch k {
            case "epoch": return String(Int(v))
            case "train_accuracy", "val_accuracy", "val_macro_f1": return HTML.percent(v)
            case "lr": return String(format: "%.3g", v)
            case "images_per_second", "seconds": return String(format: "%.1f", v)
            default: return HTML.fixed(v, 4)
            }
        } }
        b += "<details><summary>metrics.jsonl (\(metrics.count) epoch\(metrics.count == 1 ? "" : "s"))</summary>\n"
        b += HTML.table(header: header, rows: rows, numeric: Set(0..<header.count)) + "</details>\n"
        return b
    }

    var confusion: [[Int]]? {
        if let rows = eval?["confusion"] as? [Any] {
            let m = rows.compactMap(JSONFiles.numbers).map { $0.map { Int($0) } }
            if m.count == rows.count, !m.isEmpty { return m }
        }
        guard let labels, let predictions, labels.count == predictions.count, !classes.isEmpty else { return nil }
        var m = [[Int]](repeating: [Int](repeating: 0, count: classes.count), count: classes.count)
        for (y, p) in zip(labels, predictions) where y >= 0 && y < classes.count && p >= 0 && p < classes.count { m[y][p] += 1 }
        return m
    }

    func confusionSection() -> String {
        var b = "<h2 id=\"confusion\">Confusion matrix</h2>\n"
        guard let m = confusion else { return b + "<p class=\"note\">No confusion matrix (eval.json).</p>\n" }
        let names = classes.count == m.count ? classes : (0..<m.count).map { "class \($0)" }
        let peak = Double(m.flatMap { $0 }.max() ?? 1)
        let counts = HeatMap(title: "Counts", rowLabels: names, columnLabels: names,
                             intensity: m.map { $0.map { Double($0) / max(peak, 1) } }, text: m.map { $0.map(String.init) },
                             rowTitle: "true class", columnTitle: "predicted class")
        let fractions = m.map { row -> [Double] in let s = Double(row.reduce(0, +)); return row.map { s > 0 ? Double($0) / s : 0 } }
        let normalised = HeatMap(title: "Row-normalised (recall per true class)", rowLabels: names, columnLabels: names, intensity: fractions,
                                 text: fractions.map { $0.map { $0 > 0 ? String(format: "%.0f%%", $0 * 100) : "0" } },
                                 rowTitle: "true class", columnTitle: "predicted class")
        b += "<div class=\"grid\"><div>\(counts.svg())</div><div>\(normalised.svg())</div></div>\n"
        return b
    }

    func perClassSection() -> String {
        var b = "<h2 id=\"per-class\">Per-class precision, recall and F1</h2>\n"
        guard let per = eval?["per_class"] as? [String: Any], !classes.isEmpty else { return b + "<p class=\"note\">No per-class metrics (eval.json).</p>\n" }
        var rows: [[String]] = []
        var sums = [0.0, 0.0, 0.0], total = 0, present = 0
        for c in classes {
            guard let o = per[c] as? [String: Any] else { continue }
            let p = o["precision"].flatMap(JSONFiles.number) ?? 0, r = o["recall"].flatMap(JSONFiles.number) ?? 0
            let f = o["f1"].flatMap(JSONFiles.number) ?? 0, n = Int(o["support"].flatMap(JSONFiles.number) ?? 0)
            rows.append([HTML.escape(c), HTML.fixed(p, 3), HTML.fixed(r, 3), HTML.fixed(f, 3), String(n), bar(f)])
            if n > 0 { sums[0] += p; sums[1] += r; sums[2] += f; present += 1 }
            total += n
        }
        if present > 0 {
            rows.append(["<b>macro average</b>"] + sums.map { "<b>\(HTML.fixed($0 / Double(present), 3))</b>" } + ["<b>\(total)</b>", ""])
        }
        b += HTML.table(header: ["class", "precision", "recall", "F1", "support", "F1"], rows: rows, numeric: [1, 2, 3, 4],
                        caption: "Macro average over classes with support (as the macro-F1 of eval.json).")
        return b
    }

    /// A small inline SVG bar of a fraction.
    func bar(_ v: Double) -> String {
        let w = Int((min(max(v, 0), 1) * 120).rounded())
        return "<svg width=\"122\" height=\"12\"><rect x=\"0\" y=\"1\" width=\"122\" height=\"10\" fill=\"#eee\"/>"
            + "<rect x=\"0\" y=\"1\" width=\"\(w)\" height=\"10\" fill=\"#4878d0\"/></svg>"
    }

    func mistakesSection() -> String {
        var b = "<h2 id=\"mistakes\">Most confident mistakes</h2>\n"
        guard let mistakes else { return b + "<p class=\"note\">Not available: needs the images (see the note above).</p>\n" }
        if mistakes.isEmpty { return b + "<p>No mistakes on the evaluated split.</p>\n" }
        let withCAM = mistakes.contains { $0.overlayPNG != nil }
        b += "<p class=\"meta\">Wrong predictions with the highest predicted-class probability" + (withCAM ? "; left: the model's input, right: Grad-CAM of the predicted class (red: most evidence)." : ".") + "</p>\n"
        b += "<div class=\"mistakes\">\n"
        for (i, m) in mistakes.enumerated() {
            b += "<figure>" + HTML.pngImage(m.imagePNG, alt: "mistake \(i + 1): \(m.trueClass) predicted as \(m.predictedClass)")
            if let o = m.overlayPNG { b += HTML.pngImage(o, alt: "Grad-CAM of \(m.predictedClass) for mistake \(i + 1)") }
            b += "<figcaption>true <b>\(HTML.escape(m.trueClass))</b><br>predicted <b>\(HTML.escape(m.predictedClass))</b> (p \(HTML.fixed(m.confidence, 3)))"
            if let c = m.caption { b += "<br><span style=\"color:#777\">\(HTML.escape(c))</span>" }
            b += "</figcaption></figure>\n"
        }
        return b + "</div>\n"
    }
}
