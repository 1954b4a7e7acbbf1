import XCTest
import Foundation

/// Runs the built `adnn` binary on bad input: one clear error line naming the file or key, exit ≠ 0.
final class CLITests: XCTestCase {
    var binary: URL {
        // The test bundle sits in (Linux) or next to (Darwin) the products folder of the same build.
        let b = Bundle(for: CLITests.self).bundleURL
        let candidates = [b.appendingPathComponent("adnn"), b.deletingLastPathComponent().appendingPathComponent("adnn")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("adnn binary not built next to the tests (\(binary.path))")
        }
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("adnn-cli-\(getpid())-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func assertOneLineError(_ r: (status: Int32, stdout: String, stderr: String), mentions: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "exit status", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one error line, got: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(mentions), "error names \(mentions): \(r.stderr)", file: file, line: line)
    }

    func testMissingDataFolder() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try "model: {backbone: efficientnet_b0, input_size: 32, cbam: null, transformer: null}\n".write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        assertOneLineError(try run(["train", "--config", d + "/c.yaml", "--data", d + "/nope", "--out", d + "/run"]), mentions: d + "/nope")
    }

    func testUnknownConfigKey() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try "model: {backbone: efficientnet_b0}\noptim: {learning_rate: 0.1}\n".write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        let r = try run(["train", "--config", d + "/c.yaml", "--data", "synthetic", "--out", d + "/run"])
        assertOneLineError(r, mentions: "optim.learning_rate")
        XCTAssertTrue(r.stderr.contains(d + "/c.yaml"))
    }

    func testWrongCSVHeader() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try "label,pixels,split\n0,1 2 3,Training\n".write(toFile: d + "/fer2013.csv", atomically: true, encoding: .utf8)
        try "model: {backbone: efficientnet_b0, input_size: 32, cbam: null, transformer: null}\n".write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        assertOneLineError(try run(["train", "--config", d + "/c.yaml", "--data", d + "/fer2013.csv", "--out", d + "/run"]),
                           mentions: d + "/fer2013.csv")
    }

    func testTruncatedCheckpoint() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        var bytes = [UInt8](repeating: 0, count: 8); bytes[0] = 200
        try Data(bytes + Array("{\"a\":".utf8)).write(to: URL(fileURLWithPath: d + "/ck.safetensors"))
        assertOneLineError(try run(["eval", "--checkpoint", d + "/ck.safetensors", "--data", "synthetic"]), mentions: d + "/ck.safetensors")
    }

    func testNaNLossStopsWithStep() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try """
        model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, cbam: null, transformer: null}
        optim: {lr: 1.0e+30, grad_clip: 0}
        schedule: {epochs: 1, warmup_epochs: 0}
        data: {format: synthetic, synthetic_count: 64, batch_size: 16, mean: [0.5], std: [0.25]}
        """.write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        let r = try run(["train", "--config", d + "/c.yaml", "--out", d + "/run"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("not finite") && r.stderr.contains("step"), r.stderr)
    }
}
