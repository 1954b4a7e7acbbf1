import Foundation
import ADNN
import Yams

/// The settings `adnn tune` searches over: a list of ``SearchDimension``s, in order.
///
/// The default (``standard``) is
///
/// | key | range | scale |
/// |---|---|---|
/// | `optim.lr` | 1e-4 … 3e-3 | log |
/// | `optim.weight_decay` | 1e-3 … 0.1 | log |
/// | `augment.mixup` | 0 … 0.5 | linear |
/// | `loss.dls_epsilon` | 0 … 0.2 | linear |
/// | `model.drop_rate` | 0 … 0.5 | linear |
///
/// A `--space` YAML file replaces it, one entry per key, in the order given:
/// ```yaml
/// optim.lr: {low: 1.0e-4, high: 3.0e-3, log: true}
/// model.transformer.layers: {low: 1, high: 4, integer: true}
/// ```
public struct SearchSpace: Equatable, Sendable {
    public var dimensions: [SearchDimension]

    public init(_ dimensions: [SearchDimension]) {
        precondition(!dimensions.isEmpty, "SearchSpace: no dimensions")
        precondition(Set(dimensions.map(\.key)).count == dimensions.count, "SearchSpace: a key appears twice")
        self.dimensions = dimensions
    }

    /// The dotted keys, in order.
    public var keys: [String] { dimensions.map(\.key) }

    /// The default space (see the type's documentation and README).
    public static let standard = SearchSpace([
        SearchDimension(key: "optim.lr", low: 1e-4, high: 3e-3, log: true),
        SearchDimension(key: "optim.weight_decay", low: 1e-3, high: 0.1, log: true),
        SearchDimension(key: "augment.mixup", low: 0, high: 0.5),
        SearchDimension(key: "loss.dls_epsilon", low: 0, high: 0.2),
        SearchDimension(key: "model.drop_rate", low: 0, high: 0.5),
    ])

    /// Reads a space file (see the type's documentation).
    /// - Throws: `ADNNError` naming `path` (and the key) for unreadable files and bad entries.
    public static func load(path: String) throws -> SearchSpace {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ADNNError.io("\(path): cannot read search-space file")
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses space YAML: a mapping from dotted config key to `{low, high, log, integer}`.
    /// Only the file's own structure is checked here; ``validate(against:file:)`` checks the keys.
    public static func parse(yaml text: String, file: String = "<space>") throws -> SearchSpace {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw ADNNError.invalid("\(file): invalid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        guard let mapping = root?.mapping, !mapping.isEmpty else {
            throw ADNNError.invalid("\(file): expected a mapping from config keys to {low, high, log, integer}")
        }
        var dims: [SearchDimension] = []
        for (keyNode, entry) in mapping {
            guard let key = keyNode.string, !key.isEmpty else { throw ADNNError.invalid("\(file): a key is not a string") }
            guard !dims.contains(where: { $0.key == key }) else { throw ADNNError.invalid("\(file): key '\(key)' appears twice") }
            guard let fields = entry.mapping else { throw ADNNError.invalid("\(file): key '\(key)' must map to {low, high, log, integer}") }
            var low: Double?, high: Double?, log = false, integer = false
            for (fieldNode, value) in fields {
                let field = fieldNode.string ?? ""
                switch field {
                case "low", "high":
                    guard let v = value.int.map(Double.init) ?? value.float, v.isFinite else {
                        throw ADNNError.invalid("\(file): key '\(key).\(field)' must be a number")
                    }
                    if field == "low" { low = v } else { high = v }
                case "log", "integer":
                    guard let b = value.bool else { throw ADNNError.invalid("\(file): key '\(key).\(field)' must be true or false") }
                    if field == "log" { log = b } else { integer = b }
                default:
                    throw ADNNError.invalid("\(file): unknown field '\(field)' of key '\(key)' (expected low, high, log, integer)")
                }
            }
            guard let low, let high else { throw ADNNError.invalid("\(file): key '\(key)' needs low and high") }
            guard low < high else { throw ADNNError.invalid("\(file): key '\(key)' needs low < high") }
            if log && low <= 0 { throw ADNNError.invalid("\(file): key '\(key)' is log-scaled and needs low > 0") }
            if integer && (low != low.rounded() || high != high.rounded()) {
                throw ADNNError.invalid("\(file): key '\(key)' is integer and needs integer low and high")
            }
            if log && integer && low < 1 { throw ADNNError.invalid("\(file): key '\(key)' is log-scaled integer and needs low ≥ 1") }
            dims.append(SearchDimension(key: key, low: low, high: high, log: log, integer: integer))
        }
        return SearchSpace(dims)
    }

    /// Checks that every key names a numeric setting of `config` that accepts both bounds.
    /// - Throws: `ADNNError` naming `file` and the key (unknown key, a key inside a section that is
    ///   null in `config`, a non-numeric key, or a bound the config rejects).
    public func validate(against config: Config, file: String) throws {
        for d in dimensions {
            guard try config.numericValue(forKey: d.key, file: file) != nil else {
                throw ADNNError.invalid("\(file): key '\(d.key)' is not a numeric setting")
            }
            for v in [d.low, d.high] {
                do { _ = try config.setting([(d.key, v)], file: file) } catch {
                    throw ADNNError.invalid("\(file): key '\(d.key)' cannot be \(v)\(d.integer ? "" : " (integer settings need integer: true)"): \(error)")
                }
            }
        }
    }

    /// The values of the unit-cube point `point`, one per dimension.
    public func values(atNormalized point: [Double]) -> [Double] {
        precondition(point.count == dimensions.count, "SearchSpace: point of \(point.count) coordinates for \(dimensions.count) dimensions")
        return zip(dimensions, point).map { $0.value(atNormalized: $1) }
    }

    /// The unit-cube point of `values`, one per dimension.
    public func normalized(_ values: [Double]) -> [Double] {
        precondition(values.count == dimensions.count, "SearchSpace: \(values.count) values for \(dimensions.count) dimensions")
        return zip(dimensions, values).map { $0.normalized($1) }
    }

    /// `config` with every key set to its value (then validated).
    public func applying(_ values: [Double], to config: Config, file: String) throws -> Config {
        precondition(values.count == dimensions.count, "SearchSpace: \(values.count) values for \(dimensions.count) dimensions")
        return try config.setting(Array(zip(keys, values)), file: file)
    }

    /// The current values of the space's keys in `config`.
    /// - Throws: `ADNNError` when a key is missing or not numeric.
    public func values(in config: Config, file: String) throws -> [Double] {
        try keys.map { key in
            guard let v = try config.numericValue(forKey: key, file: file) else {
                throw ADNNError.invalid("\(file): key '\(key)' is not a numeric setting")
            }
            return v
        }
    }
}
