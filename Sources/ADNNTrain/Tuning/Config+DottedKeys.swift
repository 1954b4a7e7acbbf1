import Foundation
import ADNN

/// Generic access to numeric settings by dotted key (`optim.lr`, `model.transformer.layers`),
/// through the config's JSON form, so that every numeric key can be tuned.
extension Config {
    /// The value of a numeric setting, or nil when it is not a number (a string, list or bool).
    /// - Throws: `ADNNError` naming `file` and `key` when the key does not exist or lies inside a
    ///   section that is null in this config.
    public func numericValue(forKey key: String, file: String) throws -> Double? {
        var node: Any = try JSONSerialization.jsonObject(with: Data(jsonString().utf8))
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var path = ""
        for (i, part) in parts.enumerated() {
            path = path.isEmpty ? part : path + "." + part
            guard let dict = node as? [String: Any] else { throw ADNNError.invalid("\(file): unknown config key '\(key)'") }
            let next = dict[part]
            if i < parts.count - 1 && (next == nil || next is NSNull) && Config.nullableKeys.contains(path) {
                throw ADNNError.invalid("\(file): key '\(key)' lies in '\(path)', which is null in the config")
            }
            guard let next else { throw ADNNError.invalid("\(file): unknown config key '\(key)'") }
            node = next
        }
        if node is [String: Any] || node is [Any] || node is String || node is NSNull { return nil }
        // JSON booleans arrive as NSNumber too; their Objective-C type code is "c".
        guard let n = node as? NSNumber, String(cString: n.objCType) != "c" else { return nil }
        return n.doubleValue
    }

    /// This config with the given dotted keys set (integral values are written as integers), then
    /// validated.
    /// - Throws: `ADNNError` naming `file` and the key for unknown keys, wrong types or values the
    ///   config's range checks reject.
    public func setting(_ assignments: [(key: String, value: Double)], file: String) throws -> Config {
        var patch: [String: Any] = [:]
        for (key, value) in assignments {
            let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !parts.contains("") else { throw ADNNError.invalid("\(file): unknown config key '\(key)'") }
            let number: Any = value == value.rounded() && abs(value) < 9e15 ? Int(value) : value
            patch = Config.inserting(number, at: parts[...], into: patch)
        }
        var c = self
        try c.apply(patch, file: file)
        return c
    }

    private static func inserting(_ value: Any, at path: ArraySlice<String>, into dict: [String: Any]) -> [String: Any] {
        var out = dict
        let head = path.first!
        if path.count == 1 {
            out[head] = value
        } else {
            out[head] = inserting(value, at: path.dropFirst(), into: (dict[head] as? [String: Any]) ?? [:])
        }
        return out
    }
}
