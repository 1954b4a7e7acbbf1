/// A report or event-file error with a one-line message naming the file or key.
public struct ReportError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ message: String) { description = message }
}
