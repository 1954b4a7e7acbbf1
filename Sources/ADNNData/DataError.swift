/// An error from the data pipeline. Every case names the file (or key) it concerns, and its
/// `description` is one line suitable for printing as the whole error message.
public enum DataError: Error, CustomStringConvertible, Sendable {
    /// A file or folder could not be read.
    case io(path: String, reason: String)
    /// An image file could not be decoded (corrupt, truncated or an unsupported format).
    case decode(path: String, reason: String)
    /// A CSV file has the wrong header.
    case badHeader(path: String, expected: String, found: String)
    /// A dataset file has malformed content (`line` 0 when not line-oriented).
    case malformed(path: String, line: Int, reason: String)
    /// A folder does not look like any supported dataset layout.
    case unknownLayout(path: String, reason: String)
    /// An invalid argument or configuration value.
    case invalid(key: String, reason: String)

    public var description: String {
        switch self {
        case let .io(path, reason): return "\(path): \(reason)"
        case let .decode(path, reason): return "\(path): cannot decode image: \(reason)"
        case let .badHeader(path, expected, found):
            return "\(path): wrong CSV header \"\(found)\", expected \"\(expected)\""
        case let .malformed(path, line, reason):
            return line > 0 ? "\(path):\(line): \(reason)" : "\(path): \(reason)"
        case let .unknownLayout(path, reason): return "\(path): \(reason)"
        case let .invalid(key, reason): return "\(key): \(reason)"
        }
    }
}
