import Yams

/// A YAML document read for a configuration, checked before it is turned into Foundation values.
///
/// `Yams.load` traps on a mapping key that is not a scalar (`? [a]: 1`, `{{a: 1}: 2}`) and on a long
/// base-60 integer (`1:2:3:4:5:6:7:8:9:10:11:12`, Int overflow), and expands aliases without a bound (an "alias bomb" of a few hundred bytes becomes billions of values). This
/// reader composes the node tree first and rejects all three, and duplicate keys, with one line naming the
/// place; only then are values constructed.
enum YAMLReader {
    /// Largest number of nodes a document may expand to, aliases counted at every use.
    static let maxNodes = 100_000

    /// A structural problem of a document; `description` is one line without the file name.
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// The document's value as `Yams.load` returns it (`nil` for an empty document).
    /// - Throws: a Yams parse error, or `Problem`.
    static func load(_ text: String) throws -> Any? {
        guard let node = try Yams.compose(yaml: text) else { return nil }
        return try value(of: node)
    }

    /// The value of a composed document, after the checks.
    /// - Throws: `Problem`.
    static func value(of node: Node) throws -> Any {
        var budget = maxNodes
        try check(node, &budget)
        return node.any
    }

    private static func place(_ mark: Mark?) -> String {
        mark.map { "line \($0.line), column \($0.column)" } ?? "unknown place"
    }

    private static func check(_ node: Node, _ budget: inout Int) throws {
        budget -= 1
        guard budget >= 0 else {
            throw Problem(description: "document expands to more than \(maxNodes) values (alias bomb?)")
        }
        switch node {
        case .scalar(let scalar):
            // YAML 1.1 base-60 numbers (`1:30`): Yams overflows (and traps) on long ones; no config value needs them.
            let tag = node.tag.description                          // resolved (plain `1:30` → int)
            if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float") && scalar.string.contains(":") {
                throw Problem(description: "base-60 number '\(scalar.string.prefix(40))' at \(place(scalar.mark)) "
                              + "is not supported (quote it if it is text)")
            }
        case .sequence(let sequence):
            for item in sequence { try check(item, &budget) }
        case .mapping(let mapping):
            var seen = Set<String>()
            for (key, value) in mapping {
                guard let scalar = key.scalar else {
                    throw Problem(description: "mapping key at \(place(key.mark)) is not a plain value")
                }
                if scalar.string != "<<" && !seen.insert(scalar.string).inserted {
                    throw Problem(description: "duplicate key '\(scalar.string)' at \(place(key.mark))")
                }
                try check(value, &budget)
            }
        }
    }
}
