import Foundation
import ADNN
import ADNNData

/// `adnn tune`: Bayesian optimisation of numeric config settings (SPEC §5) with a Gaussian-process
/// surrogate and Expected Improvement (``Tuner``; Snoek et al. 2012, https://arxiv.org/abs/1206.2944).
/// Every trial trains in `DIR/trial-NNN/` and is logged to `DIR/trials.jsonl`; a rerun with the
/// same folder reuses logged and finished trials, resumes an interrupted one and goes on proposing.
public struct TuningRequest {
    /// YAML config to start from.
    public var config: String
    public var data: String?
    public var trials: Int
    /// Output folder (default: `runs/tune-<config name>`).
    public var out: String?
    /// Override of `schedule.epochs` for every trial (best.yaml keeps the config's).
    public var epochs: Int?
    /// `val_accuracy` or `macro_f1`.
    public var metric: String
    /// Search-space YAML (default: `SearchSpace.standard`).
    public var space: String?
    /// Seed of the tuner's design and candidates (default: the config's seed).
    public var seed: Int?

    public init(config: String, data: String? = nil, trials: Int, out: String? = nil, epochs: Int? = nil,
                metric: String = "val_accuracy", space: String? = nil, seed: Int? = nil) {
        self.config = config; self.data = data; self.trials = trials; self.out = out; self.epochs = epochs
        self.metric = metric; self.space = space; self.seed = seed
    }

    @discardableResult
    public func run() throws -> TrialRecord {
        do {
            guard (1...10_000).contains(trials) else { throw ADNNError.invalid("--trials \(trials): must be 1…10000") }
            guard let objective = TrialRecord.Objective(rawValue: metric) else {
                throw ADNNError.invalid("--metric \(metric): expected val_accuracy or macro_f1")
            }
            let original = try loadConfig(config)
            var base = original
            if let epochs { base.schedule.epochs = epochs }
            try base.validate(file: config)
            let searchSpace = try space.map { try SearchSpace.load(path: $0) } ?? .standard
            try searchSpace.validate(against: base, file: space ?? "default search space")
            let dir = out ?? "runs/tune-" + URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let logPath = dir + "/trials.jsonl"
            var log = try TrialRecord.load(logPath, keys: searchSpace.keys)
            let dataset = try openDataset(base, path: data)
            let tuner = Tuner(dimensions: searchSpace.dimensions.count, seed: UInt64(truncatingIfNeeded: seed ?? base.seed),
                              quantize: { searchSpace.normalized(searchSpace.values(atNormalized: $0)) })
            print("tuning \(searchSpace.keys.joined(separator: ", ")) for \(objective.rawValue): \(trials) trials → \(dir)")

            var finished: [TrialRecord] = []
            for t in 1...trials {
                if let r = log[t] {
                    print("trial \(t): logged (\(r.error == nil ? String(format: "%@ %.4f", objective.rawValue, r.value(objective)) : "failed")), skipped")
                    finished.append(r)
                    continue
                }
                let trialDir = dir + String(format: "/trial-%03d", t)
                let savedConfig = trialDir + "/config.yaml"
                let cfg: Config
                if FileManager.default.fileExists(atPath: savedConfig) {
                    cfg = try Config.load(path: savedConfig)        // interrupted (or finished but not logged)
                } else {
                    let x = tuner.nextPoint(observed: finished.map { searchSpace.normalized($0.values) },
                                            values: finished.map { $0.value(objective) })
                    cfg = try searchSpace.applying(searchSpace.values(atNormalized: x), to: base, file: config)
                }
                let values = try searchSpace.values(in: cfg, file: savedConfig)
                let sameData = cfg.data == base.data && cfg.seed == base.seed && cfg.model.numClasses == base.model.numClasses
                let trialData = sameData ? dataset : try openDataset(cfg, path: data)
                print("trial \(t)/\(trials): " + zip(searchSpace.keys, values).map { "\($0)=\(formatValue($1))" }.joined(separator: " "))
                let start = Date()
                var record: TrialRecord
                do {
                    let (r, reused) = try trainOrReuseRun(cfg, configPath: config, dataset: trialData, dir: trialDir, label: "trial \(t)")
                    record = TrialRecord(trial: t, keys: searchSpace.keys, values: values, accuracy: r.metrics.accuracy,
                                         macroF1: r.metrics.macroF1,
                                         seconds: reused ? TrialRecord.trainingSeconds(trialDir) : Date().timeIntervalSince(start), error: nil)
                } catch let e as TrainingInterrupted { throw e } catch {
                    print("trial \(t) failed: \(error)")
                    record = TrialRecord(trial: t, keys: searchSpace.keys, values: values, accuracy: 0, macroF1: 0,
                                         seconds: Date().timeIntervalSince(start), error: String(describing: error))
                }
                log[t] = record
                try TrialRecord.write(log, to: logPath, objective: objective)
                // Continue from the numbers as logged, so that a resumed search proposes exactly the same points.
                log = try TrialRecord.load(logPath, keys: searchSpace.keys)
                finished.append(log[t]!)
            }

            let ranked = finished.filter { $0.error == nil }.sorted {
                $0.value(objective) != $1.value(objective) ? $0.value(objective) > $1.value(objective) : $0.trial < $1.trial
            }
            let table = TrialRecord.markdown(finished, keys: searchSpace.keys, objective: objective)
            try table.write(toFile: dir + "/trials.md", atomically: true, encoding: .utf8)
            print("")
            print(table)
            guard let best = ranked.first else {
                throw ADNNError.invalid("\(logPath): all \(finished.count) trials failed; the first: \(finished.first?.error ?? "?")")
            }
            let bestConfig = try searchSpace.applying(best.values, to: original, file: config)
            var header = "# adnn tune: best of \(finished.count) trials in \(dir): trial \(best.trial), "
            header += String(format: "%@ %.4f", objective.rawValue, best.value(objective))
            if let epochs { header += " (tuned with schedule.epochs \(epochs); this file keeps \(original.schedule.epochs))" }
            try (header + "\n" + bestConfig.yamlString()).write(toFile: dir + "/best.yaml", atomically: true, encoding: .utf8)
            print("best: trial \(best.trial) (" + String(format: "%@ %.2f %%", objective.rawValue, best.value(objective) * 100) + "): "
                  + zip(searchSpace.keys, best.values).map { "\($0)=\(formatValue($1))" }.joined(separator: " "))
            print("wrote \(dir)/best.yaml, trials.jsonl, trials.md")
            return best
        }
    }
}

/// Shortest text of a tuned value (`0.0012`, `3`).
public func formatValue(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(format: "%g", v)
}

/// One line of `trials.jsonl`: `{"trial","params":{key:value},"metric","accuracy","macro_f1","seconds"}`
/// (plus `"error"` for a trial whose training failed; it counts as accuracy 0).
public struct TrialRecord {
    public enum Objective: String, ConfigVocabulary { case valAccuracy = "val_accuracy", macroF1 = "macro_f1" }

    public var trial: Int
    public var keys: [String]
    public var values: [Double]
    public var accuracy: Double
    public var macroF1: Double
    public var seconds: Double
    public var error: String?

    public init(trial: Int, keys: [String], values: [Double], accuracy: Double, macroF1: Double, seconds: Double, error: String?) {
        self.trial = trial; self.keys = keys; self.values = values; self.accuracy = accuracy; self.macroF1 = macroF1
        self.seconds = seconds; self.error = error
    }

    public func value(_ objective: Objective) -> Double { objective == .valAccuracy ? accuracy : macroF1 }

    public func json(_ objective: Objective) -> [String: Any] {
        var o: [String: Any] = ["trial": trial, "params": Dictionary(uniqueKeysWithValues: zip(keys, values)), "metric": value(objective),
                                "accuracy": accuracy, "macro_f1": macroF1, "seconds": seconds]
        if let error { o["error"] = error }
        return o
    }

    /// The logged trials by number; a missing file is an empty log.
    /// - Throws: `ADNNError` naming the file when a line is malformed or its parameters are not `keys`.
    public static func load(_ path: String, keys: [String]) throws -> [Int: TrialRecord] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var out: [Int: TrialRecord] = [:]
        for (i, line) in text.split(separator: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let trial = (o["trial"] as? NSNumber)?.intValue, let params = o["params"] as? [String: Any],
                  let acc = (o["accuracy"] as? NSNumber)?.doubleValue, let f1 = (o["macro_f1"] as? NSNumber)?.doubleValue else {
                throw ADNNError.invalid("\(path): line \(i + 1) is not a trial record")
            }
            guard Set(params.keys) == Set(keys) else {
                throw ADNNError.invalid("\(path): trial \(trial) tuned \(params.keys.sorted().joined(separator: ", ")) but the search space is "
                                        + "\(keys.joined(separator: ", ")); use another --out")
            }
            let values = try keys.map { k -> Double in
                guard let v = (params[k] as? NSNumber)?.doubleValue else { throw ADNNError.invalid("\(path): trial \(trial): '\(k)' is not a number") }
                return v
            }
            out[trial] = TrialRecord(trial: trial, keys: keys, values: values, accuracy: acc, macroF1: f1,
                                     seconds: (o["seconds"] as? NSNumber)?.doubleValue ?? 0, error: o["error"] as? String)
        }
        return out
    }

    /// Rewrites the whole log atomically, one JSON line per trial in trial order (`metric` is the
    /// validation accuracy or macro-F1, as the trial's objective).
    public static func write(_ log: [Int: TrialRecord], to path: String, objective: Objective) throws {
        let text = log.keys.sorted().map { jsonLine(log[$0]!.json(objective)) + "\n" }.joined()
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Training time of a finished run folder: the sum of the epochs' `seconds` in metrics.jsonl.
    public static func trainingSeconds(_ dir: String) -> Double {
        guard let text = try? String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8) else { return 0 }
        return text.split(separator: "\n").reduce(0) { sum, line in
            let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return sum + ((o?["seconds"] as? NSNumber)?.doubleValue ?? 0)
        }
    }

    /// Markdown table of the trials, best first by `objective` (failed trials last).
    public static func markdown(_ records: [TrialRecord], keys: [String], objective: Objective) -> String {
        let sorted = records.sorted { a, b in
            if (a.error == nil) != (b.error == nil) { return a.error == nil }
            return a.value(objective) != b.value(objective) ? a.value(objective) > b.value(objective) : a.trial < b.trial
        }
        var s = "| rank | trial | " + keys.joined(separator: " | ") + " | accuracy (%) | macro-F1 (%) | seconds |\n"
        s += "|---:|---:|" + keys.map { _ in "---:|" }.joined() + "---:|---:|---:|\n"
        for (i, r) in sorted.enumerated() {
            let scores = r.error == nil ? String(format: "%.2f | %.2f", r.accuracy * 100, r.macroF1 * 100) : "failed | failed"
            s += "| \(i + 1) | \(r.trial) | " + r.values.map(formatValue).joined(separator: " | ")
                + " | \(scores) | " + String(format: "%.0f", r.seconds) + " |\n"
        }
        s += "\nSorted by \(objective.rawValue) on the validation split (best checkpoint of each trial).\n"
        return s
    }
}
