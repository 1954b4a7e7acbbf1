import Foundation
import ADNN
import ADNNData

/// `adnn ablate`: the five-variant ablation of SPEC §1 (paper Table 4) over seeds, with paired
/// t-tests against the full model (Bonferroni-corrected) and McNemar tests per seed.
/// Finished runs (those with `eval.json`) are not redone; interrupted ones resume.
public struct AblationRequest {
    /// YAML config of the full model.
    public var config: String
    public var data: String?
    public var seeds: String
    public var out: String
    /// Override of `schedule.epochs` for every run.
    public var epochs: Int?

    public init(config: String, data: String? = nil, seeds: String = "42,123,256,789,1024", out: String, epochs: Int? = nil) {
        self.config = config; self.data = data; self.seeds = seeds; self.out = out; self.epochs = epochs
    }

    /// The five variants: name, components (EfficientNet, CBAM, Transformer, compound loss), config.
    public static func variants(_ base: Config) -> [(name: String, parts: [Bool], config: Config)] {
        var v1 = base
        v1.model.backbone = "resnet50"; v1.model.cbam = nil; v1.model.transformer = nil
        v1.loss = Config.Loss(ce: 1, center: 0, dls: 0)
        var v2 = v1
        v2.model.backbone = base.model.backbone == "resnet50" ? "efficientnet_b5" : base.model.backbone
        v2.model.pretrained = base.model.pretrained
        var v3 = v2; v3.model.cbam = base.model.cbam ?? Config.CBAMConfig()
        var v4 = v3; v4.model.transformer = base.model.transformer ?? Config.TransformerConfig()
        var v5 = v4; v5.loss = base.loss
        if v5.loss.center == 0 && v5.loss.dls == 0 { v5.loss = Config.Loss() }
        v1.model.pretrained = nil
        return [("resnet50", [false, false, false, false], v1), ("efficientnet", [true, false, false, false], v2),
                ("cbam", [true, true, false, false], v3), ("transformer", [true, true, true, false], v4),
                ("full", [true, true, true, true], v5)]
    }

    public func run() throws -> AblationReport {
        do {
            var base = try loadConfig(config)
            if let epochs { base.schedule.epochs = epochs }
            try base.validate(file: config)
            let seedList = try seeds.split(separator: ",").map { s -> Int in
                guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else { throw ADNNError.invalid("--seeds: '\(s)' is not an integer") }
                return v
            }
            guard seedList.count >= 1 else { throw ADNNError.invalid("--seeds: need at least one seed") }
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let dataset = try openDataset(base, path: data)
            let variants = AblationRequest.variants(base)
            var results: [String: [Int: RunResult]] = [:]
            for v in variants {
                for seed in seedList {
                    var cfg = v.config
                    cfg.seed = seed
                    let dir = "\(out)/\(v.name)/seed-\(seed)"
                    let (r, _) = try trainOrReuseRun(cfg, configPath: config, dataset: dataset, dir: dir, label: "\(v.name) seed \(seed)")
                    results[v.name, default: [:]][seed] = r
                }
            }
            let report = AblationReport(variants: variants.map { ($0.name, $0.parts) }, seeds: seedList, results: results,
                                        classes: dataset.classes, dataset: dataset.root)
            try jsonLine(report.json()).write(toFile: out + "/ablation.json", atomically: true, encoding: .utf8)
            let md = report.markdown()
            try md.write(toFile: out + "/ablation.md", atomically: true, encoding: .utf8)
            try report.svg().write(toFile: out + "/ablation.svg", atomically: true, encoding: .utf8)
            print("")
            print(md)
            print("wrote \(out)/ablation.json, ablation.md, ablation.svg")
            return report
        }
    }
}

/// Aggregates ablation runs into the JSON, Markdown table and SVG chart.
public struct AblationReport {
    public let variants: [(String, [Bool])]
    public let seeds: [Int]
    public let results: [String: [Int: RunResult]]
    public let classes: [String]
    public let dataset: String

    public init(variants: [(String, [Bool])], seeds: [Int], results: [String: [Int: RunResult]], classes: [String], dataset: String) {
        self.variants = variants; self.seeds = seeds; self.results = results; self.classes = classes; self.dataset = dataset
    }

    public func values(_ v: String, _ f: (RunResult) -> Double) -> [Double] { seeds.compactMap { results[v]?[$0] }.map(f) }

    public func json() -> [String: Any] {
        var out: [String: Any] = ["dataset": dataset, "seeds": seeds, "classes": classes]
        var vs: [[String: Any]] = []
        for (name, parts) in variants {
            var runs: [[String: Any]] = []
            for s in seeds {
                guard let r = results[name]?[s] else { continue }
                var perClass: [String: Double] = [:]
                for (j, c) in classes.enumerated() { perClass[c] = r.metrics.f1[j] }
                runs.append(["seed": s, "accuracy": r.metrics.accuracy, "macro_f1": r.metrics.macroF1, "auc_macro_ovr": r.auc,
                             "per_class_f1": perClass, "images_per_second": r.imagesPerSecond,
                             "train_images_per_second": r.trainImagesPerSecond, "params": r.params, "best_epoch": r.epoch])
            }
            var entry: [String: Any] = ["variant": name, "efficientnet": parts[0], "cbam": parts[1], "transformer": parts[2],
                                        "compound_loss": parts[3], "runs": runs]
            let acc = Statistics.meanStd(values(name) { $0.metrics.accuracy }), f1 = Statistics.meanStd(values(name) { $0.metrics.macroF1 })
            entry["accuracy_mean"] = acc.mean; entry["accuracy_std"] = acc.std
            entry["macro_f1_mean"] = f1.mean; entry["macro_f1_std"] = f1.std
            if name != "full", let t = tTest(name) {
                entry["paired_t_vs_full"] = ["t": t.t.isFinite ? t.t : 0, "df": t.df, "p": t.p,
                                             "p_bonferroni": Statistics.bonferroni(t.p, comparisons: variants.count - 1)]
                entry["mcnemar_vs_full"] = mcnemar(name).map { ["seed": $0.seed, "b": $0.b, "c": $0.c, "p": $0.p] }
            }
            vs.append(entry)
        }
        out["variants"] = vs
        return out
    }

    public func tTest(_ name: String) -> Statistics.TTest? {
        let paired = seeds.compactMap { s -> (Double, Double)? in
            guard let a = results[name]?[s], let b = results["full"]?[s] else { return nil }
            return (a.metrics.accuracy, b.metrics.accuracy)
        }
        guard paired.count >= 2 else { return nil }
        return Statistics.pairedTTest(paired.map { $0.0 }, paired.map { $0.1 })
    }

    public func mcnemar(_ name: String) -> [(seed: Int, b: Int, c: Int, p: Double)] {
        seeds.compactMap { s in
            guard let a = results[name]?[s], let f = results["full"]?[s], a.labels == f.labels else { return nil }
            let r = Statistics.mcnemar(zip(a.predictions, a.labels).map { $0 == $1 }, zip(f.predictions, f.labels).map { $0 == $1 })
            return (s, r.b, r.c, r.p)
        }
    }

    public func markdown() -> String {
        var s = "| variant | EfficientNet | CBAM | Transformer | compound loss | accuracy (%) | Δ acc | macro-F1 (%) | Δ F1 | paired t vs full: p (Bonferroni) | McNemar vs full: p per seed |\n"
        s += "|---|:-:|:-:|:-:|:-:|---:|---:|---:|---:|---:|---|\n"
        var prev: (Double, Double)? = nil
        for (name, parts) in variants {
            let acc = Statistics.meanStd(values(name) { $0.metrics.accuracy * 100 })
            let f1 = Statistics.meanStd(values(name) { $0.metrics.macroF1 * 100 })
            let marks = parts.map { $0 ? "✓" : "✗" }.joined(separator: " | ")
            let dA = prev.map { String(format: "%+.2f", acc.mean - $0.0) } ?? "—"
            let dF = prev.map { String(format: "%+.2f", f1.mean - $0.1) } ?? "—"
            var tCol = "—", mCol = "—"
            if name != "full" {
                if let t = tTest(name) {
                    tCol = String(format: "%.3g (%.3g)", t.p, Statistics.bonferroni(t.p, comparisons: variants.count - 1))
                }
                let m = mcnemar(name)
                if !m.isEmpty { mCol = m.map { String(format: "%.3g", $0.p) }.joined(separator: ", ") }
            }
            s += String(format: "| %@ | %@ | %.2f ± %.2f | %@ | %.2f ± %.2f | %@ | %@ | %@ |\n", name, marks, acc.mean, acc.std, dA,
                        f1.mean, f1.std, dF, tCol, mCol)
            prev = (acc.mean, f1.mean)
        }
        s += "\nSeeds: \(seeds.map(String.init).joined(separator: ", ")); mean ± sample std over seeds; Δ to the previous row; "
        s += "paired two-sided t-test of accuracy over seeds against the full model, Bonferroni × \(variants.count - 1); "
        s += "McNemar exact test on per-image correctness of the same seed.\n"
        return s
    }

    /// Grouped bar chart of accuracy and macro-F1 (mean with ± std whiskers).
    public func svg() -> String {
        let w = 760.0, h = 360.0, left = 60.0, bottom = 60.0, top = 30.0
        let plotH = h - bottom - top, groupW = (w - left - 20) / Double(variants.count)
        var body = ""
        let stats = variants.map { v in (v.0, Statistics.meanStd(values(v.0) { $0.metrics.accuracy * 100 }),
                                         Statistics.meanStd(values(v.0) { $0.metrics.macroF1 * 100 })) }
        let maxV = max(10, (stats.map { max($0.1.mean + $0.1.std, $0.2.mean + $0.2.std) }.max() ?? 100) * 1.1)
        func y(_ v: Double) -> Double { top + plotH * (1 - v / maxV) }
        for tick in stride(from: 0.0, through: maxV, by: maxV > 50 ? 10 : 5) {
            body += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.0f</text>\n",
                           left, y(tick), w - 20, y(tick), left - 6, y(tick) + 4, tick)
        }
        for (i, s) in stats.enumerated() {
            let x0 = left + Double(i) * groupW + groupW * 0.15, bw = groupW * 0.33
            for (j, (m, color)) in [(s.1, "#4878d0"), (s.2, "#ee854a")].enumerated() {
                let x = x0 + Double(j) * bw
                body += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"/>\n", x, y(m.mean), bw - 4, y(0) - y(m.mean), color)
                body += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#222\"/>\n", x + bw / 2 - 2, y(m.mean + m.std), x + bw / 2 - 2, y(max(0, m.mean - m.std)))
                body += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%.1f</text>\n", x + bw / 2 - 2, y(m.mean + m.std) - 4, m.mean)
            }
            body += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">%@</text>\n", x0 + bw, h - bottom + 18, s.0)
        }
        return """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" font-family="sans-serif">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(Int(left))" y="18" font-size="14">Ablation on \(dataset): mean ± std over \(seeds.count) seed(s)</text>
        \(body)<rect x="\(Int(w) - 220)" y="\(Int(h) - 30)" width="12" height="12" fill="#4878d0"/><text x="\(Int(w) - 204)" y="\(Int(h) - 20)" font-size="12">accuracy (%)</text>
        <rect x="\(Int(w) - 110)" y="\(Int(h) - 30)" width="12" height="12" fill="#ee854a"/><text x="\(Int(w) - 94)" y="\(Int(h) - 20)" font-size="12">macro-F1 (%)</text>
        </svg>
        """
    }
}
