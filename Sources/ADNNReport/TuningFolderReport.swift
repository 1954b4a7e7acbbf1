import Foundation
import ADNNTrain

/// A tuning folder of `adnn tune` (`trials.jsonl`: `{"trial","params","metric","accuracy","macro_f1","seconds"}`
/// per trial, `"error"` for failed ones; `best.yaml` once the search finished).
struct TuningFolderReport {
    let dir: String
    let trials: [[String: Any]]
    let bestYAML: String?
    var notes: [String] = []

    init(dir: String) throws {
        self.dir = dir
        let path = (dir as NSString).appendingPathComponent("trials.jsonl")
        let num = { (o: [String: Any], k: String) in o[k].flatMap(JSONFiles.number) }
        let records = try JSONFiles.readJSONLines(path).sorted { (num($0, "trial") ?? 0) < (num($1, "trial") ?? 0) }
        guard !records.isEmpty else { throw ReportError("\(path): no trials") }
        for (i, t) in records.enumerated() where num(t, "trial") == nil || num(t, "metric") == nil || !(t["params"] is [String: Any]) {
            throw ReportError("\(path): trial record \(i + 1) lacks \"trial\", \"metric\" or \"params\"")
        }
        trials = records
        bestYAML = try? String(contentsOfFile: (dir as NSString).appendingPathComponent("best.yaml"), encoding: .utf8)
        if bestYAML == nil { notes.append("No best.yaml: the search has not finished.") }
    }

    func num(_ o: [String: Any], _ k: String) -> Double? { o[k].flatMap(JSONFiles.number) }
    func failed(_ t: [String: Any]) -> Bool { t["error"] != nil }

    /// The objective's name: from best.yaml's header, else whether `metric` equals `accuracy`.
    var objective: String {
        if let h = bestYAML?.split(separator: "\n").first, h.contains("macro_f1") { return "macro_f1" }
        if let h = bestYAML?.split(separator: "\n").first, h.contains("val_accuracy") { return "val_accuracy" }
        let ok = trials.filter { !failed($0) }
        return ok.allSatisfy({ num($0, "metric") == num($0, "accuracy") }) ? "val_accuracy" : "macro_f1"
    }

    func html() -> String {
        let keys = Array(Set(trials.flatMap { ($0["params"] as? [String: Any])?.keys.map { $0 } ?? [] })).sorted()
        let ok = trials.filter { !failed($0) }
        let best = ok.max { (num($0, "metric") ?? 0, -(num($0, "trial") ?? 0)) < (num($1, "metric") ?? 0, -(num($1, "trial") ?? 0)) }
        let bestTrial = best.flatMap { num($0, "trial") }.map { Int($0) }
        var b = "<h1>Tuning report: \(HTML.escape((dir as NSString).lastPathComponent))</h1>\n"
        b += "<p class=\"meta\">\(HTML.escape(dir)) · objective \(HTML.escape(objective)) on the validation split · \(trials.count) trials"
            + (ok.count < trials.count ? " (\(trials.count - ok.count) failed)" : "") + " · tuned: " + HTML.escape(keys.joined(separator: ", ")) + "</p>\n"
        let total = trials.reduce(0.0) { $0 + (num($1, "seconds") ?? 0) }
        var items: [(String, String)] = []
        if let best {
            items.append((String(bestTrial ?? 0), "best trial"))
            items.append((HTML.percent(num(best, "metric") ?? 0) + " %", objective))
            if let a = num(best, "accuracy") { items.append((HTML.percent(a) + " %", "its accuracy")) }
            if let f = num(best, "macro_f1") { items.append((HTML.percent(f) + " %", "its macro-F1")) }
        }
        items.append((total >= 120 ? String(format: "%.1f min", total / 60) : String(format: "%.0f s", total), "training time, all trials"))
        b += cards(items)
        for n in notes { b += "<p class=\"note\">\(HTML.escape(n))</p>\n" }

        b += "<h2 id=\"progress\">Objective over time</h2>\n"
        var clock = 0.0
        var points: [(x: Double, y: Double)] = [], failedPts: [(x: Double, y: Double)] = [], bestSoFar: [(x: Double, y: Double)] = []
        var byTrial: [(x: Double, y: Double)] = [], bestByTrial: [(x: Double, y: Double)] = []
        var running = -Double.infinity
        for t in trials {
            clock += (num(t, "seconds") ?? 0) / 60
            let y = (num(t, "metric") ?? 0) * 100, n = num(t, "trial") ?? 0
            if failed(t) { failedPts.append((clock, y)); continue }
            points.append((clock, y)); byTrial.append((n, y))
            running = max(running, y)
            bestSoFar.append((clock, running)); bestByTrial.append((n, running))
        }
        var overTime = [ChartSeries(name: "trial", points: points, color: chartPalette[0], style: .markers),
                        ChartSeries(name: "best so far", points: bestSoFar, color: chartPalette[2], style: .step)]
        if !failedPts.isEmpty { overTime.append(ChartSeries(name: "failed (0)", points: failedPts, color: chartPalette[3], style: .markers)) }
        let c1 = LineChart(title: "\(objective) per trial over training time", xLabel: "cumulative training minutes (end of trial)", yLabel: "\(objective) (%)",
                           series: overTime)
        let c2 = LineChart(title: "\(objective) by trial number", xLabel: "trial", yLabel: "\(objective) (%)",
                           series: [ChartSeries(name: "trial", points: byTrial, color: chartPalette[0], style: .markers),
                                    ChartSeries(name: "best so far", points: bestByTrial, color: chartPalette[2], style: .step)])
        b += "<div class=\"grid\"><div>\(c1.svg())</div><div>\(c2.svg())</div></div>\n"

        b += "<h2 id=\"trials\">Trials</h2>\n"
        let rankOf: [Int: Int] = Dictionary(uniqueKeysWithValues: ok.sorted {
            (num($0, "metric") ?? 0) != (num($1, "metric") ?? 0) ? (num($0, "metric") ?? 0) > (num($1, "metric") ?? 0) : (num($0, "trial") ?? 0) < (num($1, "trial") ?? 0)
        }.enumerated().map { (Int(num($1, "trial") ?? 0), $0 + 1) })
        var rows: [[String]] = []
        for t in trials {
            let n = Int(num(t, "trial") ?? 0)
            let params = t["params"] as? [String: Any] ?? [:]
            let values = keys.map { k in params[k].flatMap(JSONFiles.number).map(Self.format) ?? "—" }
            let scores = failed(t) ? ["failed", "failed"] : [num(t, "accuracy").map { HTML.percent($0) } ?? "—", num(t, "macro_f1").map { HTML.percent($0) } ?? "—"]
            rows.append([String(n), rankOf[n].map(String.init) ?? "—"] + values.map(HTML.escape) + scores + [String(format: "%.0f", num(t, "seconds") ?? 0)])
        }
        var table = HTML.table(header: ["trial", "rank"] + keys + ["accuracy (%)", "macro-F1 (%)", "seconds"], rows: rows,
                               numeric: Set(0..<(keys.count + 5)), caption: "In trial order; the best trial is highlighted.")
        if let bestTrial, let i = trials.firstIndex(where: { num($0, "trial").map { Int($0) } == bestTrial }) {
            // Mark the best row (the i-th <tr> of the body).
            var lines = table.components(separatedBy: "\n")
            if let bodyStart = lines.firstIndex(of: "<tbody>"), bodyStart + 1 + i < lines.count {
                lines[bodyStart + 1 + i] = lines[bodyStart + 1 + i].replacingOccurrences(of: "<tr>", with: "<tr class=\"best\">")
            }
            table = lines.joined(separator: "\n")
        }
        b += table
        let errors = trials.filter(failed)
        if !errors.isEmpty {
            b += "<h3>Failed trials</h3>\n<ul>" + errors.map { "<li>trial \(Int(num($0, "trial") ?? 0)): \(HTML.escape(String(describing: $0["error"]!)))</li>" }.joined() + "</ul>\n"
        }
        b += "<h2 id=\"best\">Best config</h2>\n"
        if let bestYAML { b += "<pre>\(HTML.escape(bestYAML))</pre>\n" } else { b += "<p class=\"note\">No best.yaml yet.</p>\n" }
        return HTML.document(title: "adnn report: tuning " + (dir as NSString).lastPathComponent, body: b)
    }

    /// Shortest text of a tuned value (`0.0012`, `3`).
    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(format: "%.4g", v)
    }
}
