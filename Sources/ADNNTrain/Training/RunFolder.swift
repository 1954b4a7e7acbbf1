import Foundation
import ADNN
import ADNNData

/// A finished run folder: its eval.json and predictions.json (nil when either is missing).
/// Metrics are rebuilt from the stored predictions (one-hot probabilities keep accuracy, F1 and the
/// confusion matrix); the AUC is taken from eval.json.
public func loadFinishedRun(_ dir: String, classes: [String]) throws -> RunResult? {
    guard let e = try? Data(contentsOf: URL(fileURLWithPath: dir + "/eval.json")),
          let p = try? Data(contentsOf: URL(fileURLWithPath: dir + "/predictions.json")),
          let eval = try JSONSerialization.jsonObject(with: e) as? [String: Any],
          let pred = try JSONSerialization.jsonObject(with: p) as? [String: Any],
          let labels = pred["labels"] as? [Int], let preds = pred["predictions"] as? [Int] else { return nil }
    let k = classes.count
    var probs = [Float](repeating: 0, count: labels.count * k)
    for (i, y) in preds.enumerated() { probs[i * k + y] = 1 }
    let m = EvalMetrics(probabilities: probs, labels: labels, classes: classes)
    var speed = 0.0
    if let s = try? Data(contentsOf: URL(fileURLWithPath: dir + "/train_speed.json")),
       let o = try JSONSerialization.jsonObject(with: s) as? [String: Any] { speed = o["train_images_per_second"] as? Double ?? 0 }
    var r = RunResult(metrics: m, predictions: preds, labels: labels, imagesPerSecond: eval["images_per_second"] as? Double ?? 0,
                      trainImagesPerSecond: speed, params: eval["params"] as? Int ?? 0, epoch: eval["epoch"] as? Int ?? 0,
                      split: eval["split"] as? String ?? "val")
    r.aucOverride = eval["auc_macro_ovr"] as? Double
    return r
}

/// One run of a multi-run command (`adnn ablate`, `adnn tune`) in its own folder `dir`: a finished
/// run (with eval.json) is reloaded, an interrupted one (with last.safetensors) resumes, otherwise
/// `cfg` trains from scratch. Writes `dir/config.yaml` and `dir/train_speed.json`.
/// - Returns: the run's result and whether it was reloaded rather than trained.
public func trainOrReuseRun(_ cfg: Config, configPath: String, dataset: Dataset, dir: String, label: String) throws -> (result: RunResult, reused: Bool) {
    if let done = try loadFinishedRun(dir, classes: dataset.classes) {
        print("\(label): done (\(String(format: "%.2f", done.metrics.accuracy * 100)) %), skipped")
        return (done, true)
    }
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let resume = FileManager.default.fileExists(atPath: dir + "/last.safetensors")
    try cfg.yamlString().write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
    print("== \(label)\(resume ? " (resuming)" : "")")
    let r = try runTraining(cfg, configPath: configPath, dataset: dataset, runDir: dir, resume: resume, tta: .none, quiet: true)
    try jsonLine(["train_images_per_second": r.trainImagesPerSecond]).write(toFile: dir + "/train_speed.json",
                                                                             atomically: true, encoding: .utf8)
    print(String(format: "   accuracy %.2f %%, macro-F1 %.2f %%", r.metrics.accuracy * 100, r.metrics.macroF1 * 100))
    return (r, false)
}

/// Crash-safety helpers for run folders.
public enum RunFolder {
    /// The checkpoint a resume starts from: `last.safetensors`, else `best.safetensors` (a kill can
    /// lose `last` between its removal and rename only on file systems without atomic rename, and a
    /// user can delete it), else nil.
    public static func resumeCheckpoint(_ dir: String) -> String? {
        for name in ["last.safetensors", "best.safetensors"] where FileManager.default.fileExists(atPath: dir + "/" + name) {
            return dir + "/" + name
        }
        return nil
    }

    /// Removes `*.tmp-<pid>` files that an interrupted atomic write left behind (their writer is gone).
    /// - Returns: the removed file names.
    @discardableResult
    public static func removeStaleTemporaryFiles(_ dir: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var removed: [String] = []
        for name in names {
            guard let r = name.range(of: ".tmp-", options: .backwards), let pid = Int32(name[r.upperBound...]) else { continue }
            if pid != getpid() && kill(pid, 0) == 0 { continue }   // a live writer
            if (try? FileManager.default.removeItem(atPath: dir + "/" + name)) != nil { removed.append(name) }
        }
        if !removed.isEmpty { print("removed \(removed.count) unfinished temporary file(s) in \(dir): \(removed.joined(separator: ", "))") }
        return removed
    }

    /// A short reason from a Foundation file error (no domain dump).
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        switch ns.code {
        case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return "permission denied"
        case NSFileWriteOutOfSpaceError: return "no space left on the device"
        case NSFileWriteVolumeReadOnlyError: return "read-only file system"
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "no such file or folder"
        default: return ns.localizedDescription
        }
    }
}
