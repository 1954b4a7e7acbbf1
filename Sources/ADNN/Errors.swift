/// Errors raised by the library with a one-line, user-facing description.
public enum ADNNError: Error, CustomStringConvertible {
    /// Invalid argument, configuration value or file content (message names the key or file).
    case invalid(String)
    /// I/O failure (message names the file).
    case io(String)

    public var description: String {
        switch self {
        case .invalid(let m), .io(let m): return m
        }
    }
}
