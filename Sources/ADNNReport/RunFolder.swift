import Foundation

/// Reading the JSON files of run, ablation and tuning folders.
public enum RunFolder {
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

    /// A JSON number as a `Double` (booleans and non-numbers are nil).
    public static func number(_ v: Any) -> Double? {
        if v is Bool, !(v is NSNumber) { return nil }
        guard let n = v as? NSNumber else { return nil }
        let t = String(cString: n.objCType)
        if t == "c" || t == "B" { return nil }
        return n.doubleValue
    }

    /// One JSON object read from `path`.
    /// - Throws: `ReportError` naming the file when it is missing or not a JSON object.
    public static func readJSON(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ReportError("\(path): cannot read") }
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ReportError("\(path): not a JSON object")
        }
        return o
    }

    /// One JSON object per non-empty line of `path`.
    /// - Throws: `ReportError` naming the file and line on a malformed line.
    public static func readJSONLines(_ path: String) throws -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ReportError("\(path): cannot read") }
        var out: [[String: Any]] = []
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw ReportError("\(path): line \(i + 1) is not a JSON object")
            }
            out.append(o)
        }
        return out
    }

    /// An array of numbers (nil when `v` is not one).
    public static func numbers(_ v: Any?) -> [Double]? {
        guard let a = v as? [Any] else { return nil }
        let n = a.compactMap(number)
        return n.count == a.count ? n : nil
    }
}
