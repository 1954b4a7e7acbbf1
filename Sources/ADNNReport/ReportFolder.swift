import Foundation
import ADNNTrain

/// The folder kinds `adnn report` reads (JSON helpers: `JSONFiles` in ADNNTrain).
public enum ReportFolder {
    /// The kinds of folder `adnn report` understands, detected from their files.
    public enum Kind: String, Sendable {
        /// `adnn train`: `metrics.jsonl` (and usually `eval.json`, `predictions.json`, `config.yaml`).
        case run
        /// `adnn ablate`: `ablation.json`.
        case ablation
        /// `adnn tune`: `trials.jsonl` (and `best.yaml` when finished).
        case tuning
    }

    /// The kind of `dir`: `ablation.json` → ablation, `trials.jsonl` → tuning, `metrics.jsonl` or
    /// `eval.json` → run.
    /// - Throws: `ReportError` naming the folder when it is missing or none of the three kinds.
    public static func kind(of dir: String) throws -> Kind {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ReportError("\(dir): no such folder")
        }
        func has(_ f: String) -> Bool { FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(f)) }
        if has("ablation.json") { return .ablation }
        if has("trials.jsonl") { return .tuning }
        if has("metrics.jsonl") || has("eval.json") { return .run }
        throw ReportError("\(dir): not a run folder (metrics.jsonl, eval.json), an ablation folder (ablation.json) or a tuning folder (trials.jsonl)")
    }
}
