import XCTest
import Foundation

/// A fresh folder under the system temporary directory, unique per test.
func makeTemporaryFolder(_ tag: String) throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("adnn-\(tag)-\(getpid())-\(UUID().uuidString.prefix(6))").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}
