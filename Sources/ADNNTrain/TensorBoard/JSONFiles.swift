import Foundation

/// Reading the JSON files of run, ablation and tuning folders (`metrics.jsonl`, `eval.json`, …).
public enum JSONFiles {
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
