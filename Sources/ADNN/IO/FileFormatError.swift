import Foundation

/// A problem with a file that `adnn` reads or writes; `description` is one line naming the file
/// and what is wrong, which the CLI prints as is.
///
/// `Kind` classifies the problem for callers that react to it (tests, "skip a corrupt file"
/// paths); each format defines its own set of kinds, e.g. `SafeTensorsError.Kind` and
/// `TorchPickleError.Kind`.
public struct FileFormatError<K: Sendable & Equatable>: Error, CustomStringConvertible, LocalizedError {
    /// The format's classification of problems (`SafeTensorsError.Kind`, `TorchPickleError.Kind`).
    public typealias Kind = K

    public let path: String
    public let kind: Kind
    public let message: String

    public init(path: String, kind: Kind, message: String) {
        self.path = path
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
    public var errorDescription: String? { description }
}
