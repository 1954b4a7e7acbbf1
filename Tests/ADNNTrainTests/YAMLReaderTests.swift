import Foundation
import XCTest
@testable import ADNNTrain

/// Config YAML that used to trap inside Yams or expand without bound (found by Fuzz/fuzz-config):
/// each is one error line naming the file.
final class YAMLReaderTests: XCTestCase {
    private func message(_ yaml: String) -> String {
        do { _ = try Config.parse(yaml: yaml, file: "run.yaml"); return "" } catch { return "\(error)" }
    }

    func testNonScalarMappingKeysAreErrors() throws {
        // The minimised fuzz input, as committed in Fuzz/corpus/fuzz-config/crash-mapping-key.yaml.
        XCTAssertEqual(message("? _:"), "run.yaml: invalid YAML: mapping key at line 1, column 3 is not a plain value")
        XCTAssertTrue(message("model:\n  ? [a, b]\n  : 1\n").hasPrefix("run.yaml: invalid YAML: mapping key at line 2"),
                      message("model:\n  ? [a, b]\n  : 1\n"))
        XCTAssertTrue(message("{{seed: 1}: 2}").contains("is not a plain value"), message("{{seed: 1}: 2}"))
    }

    func testDuplicateKeysAreErrors() throws {
        XCTAssertEqual(message("seed: 1\nseed: 2\n"), "run.yaml: key 'seed' appears twice")
        XCTAssertEqual(message("optim: {lr: 0.1, lr: 0.2}"), "run.yaml: key 'optim.lr' appears twice")
        // The reader's own check, behind Config.parse's (which names the key path).
        XCTAssertThrowsError(try YAMLReader.load("a: 1\nb: 2\na: 3\n")) { error in
            XCTAssertEqual("\(error)", "duplicate key 'a' at line 3, column 1")
        }
        // A merge key may be overridden by an explicit one; that is not a duplicate.
        let c = try Config.parse(yaml: "schedule:\n  <<: {epochs: 3, patience: 2}\n  epochs: 5\n", file: "run.yaml")
        XCTAssertEqual(c.schedule.epochs, 5)
        XCTAssertEqual(c.schedule.patience, 2)
    }

    /// Found by fuzz-config: a base-60 integer whose place values overflow Int trapped inside Yams.
    func testSexagesimalNumbersAreErrors() throws {
        XCTAssertEqual(message("seed: 1:2:3:4:5:6:7:8:9:10:11:12\n"),
                       "run.yaml: invalid YAML: base-60 number '1:2:3:4:5:6:7:8:9:10:11:12' at line 1, column 7 "
                       + "is not supported (quote it if it is text)")
        XCTAssertTrue(message("optim: {lr: 1:30.5}").contains("base-60 number '1:30.5'"), message("optim: {lr: 1:30.5}"))
        XCTAssertTrue(message("seed: \"1:2\"").contains("wrong type"), message("seed: \"1:2\""))
    }

    func testAliasBombIsBounded() throws {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 { yaml += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let start = Date()
        // Config.parse refuses anchors outright; the reader bounds the expansion by itself too.
        XCTAssertTrue(message(yaml).hasPrefix("run.yaml: YAML anchors and aliases are not supported"), message(yaml))
        XCTAssertThrowsError(try YAMLReader.load(yaml)) { error in
            XCTAssertTrue("\(error)".hasPrefix("document expands to more than 100000 values"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testShippedConfigsStillParse() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent("Configs")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertFalse(files.isEmpty)
        for f in files { XCTAssertNoThrow(try Config.load(path: dir.appendingPathComponent(f).path), f) }
    }
}
