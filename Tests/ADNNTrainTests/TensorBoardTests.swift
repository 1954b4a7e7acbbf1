import Foundation
@testable import ADNNTrain
import XCTest

final class TensorBoardTests: XCTestCase {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "adnn-report-tb-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// CRC-32C check values (the "123456789" check value of the Castagnoli CRC, and RFC 3720 B.4).
    func testCRC32CVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        // The mask is a 15-bit rotation plus a constant (mod 2³²).
        let crc: UInt32 = 0xE306_9283
        XCTAssertEqual(CRC32C.masked(crc), ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(0), 0xA282_EAD8)
    }

    func testFrameLayoutAndCorruption() throws {
        let data = Array("hello".utf8)
        let f = TFRecord.frame(data)
        XCTAssertEqual(f.count, 8 + 4 + data.count + 4)
        XCTAssertEqual(Array(f[0..<8]), [5, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(f[12..<17]), data)
        XCTAssertEqual(try TFRecord.records(f + f, name: "x"), [data, data])
        var bad = f
        bad[13] ^= 1
        XCTAssertThrowsError(try TFRecord.records(bad, name: "bad.events")) { e in
            XCTAssertTrue(String(describing: e).contains("bad.events: data CRC mismatch"), "\(e)")
        }
        XCTAssertThrowsError(try TFRecord.records(Array(f.dropLast(2)), name: "t")) { e in
            XCTAssertTrue(String(describing: e).contains("truncated"), "\(e)")
        }
    }

    /// The hand-encoded Event bytes of one scalar, field by field.
    func testScalarEventEncoding() {
        let e = TensorBoardWriter.scalarEvent(TensorBoardScalar(tag: "a", step: 300, wallTime: 1.5, value: 0.25))
        var expected: [UInt8] = [0x09] + TFRecord.littleEndian((1.5).bitPattern)          // wall_time, fixed64
        expected += [0x10, 0xAC, 0x02]                                                    // step 300, varint
        let value: [UInt8] = [0x0A, 0x01, 0x61, 0x15] + TFRecord.littleEndian(Float(0.25).bitPattern)
        let summary: [UInt8] = [0x0A, UInt8(value.count)] + value
        expected += [0x2A, UInt8(summary.count)] + summary                                // summary, field 5
        XCTAssertEqual(e, expected)
    }

    func testRoundTrip() throws {
        let d = try tempDir()
        let w = try TensorBoardWriter(logDir: d, wallTime: 1_700_000_000)
        XCTAssertTrue((w.path as NSString).lastPathComponent.hasPrefix("events.out.tfevents.1700000000."))
        var written: [TensorBoardScalar] = []
        for step in 1...5 {
            for tag in ["loss/ce", "val/accuracy", "lr"] {
                let v = Float(step) * (tag == "lr" ? 1e-4 : 0.1) + (tag == "loss/ce" ? 1 : 0)
                let wall = 1_700_000_000 + Double(step) * 10.25
                w.add(scalar: v, tag: tag, step: step, wallTime: wall)
                written.append(TensorBoardScalar(tag: tag, step: step, wallTime: wall, value: v))
            }
            try w.flush()
        }
        let second = try TensorBoardWriter(logDir: d, wallTime: 1_700_000_000)
        XCTAssertNotEqual(second.path, w.path, "a second file of the same second is kept apart")
        let read = try TensorBoardReader.read(w.path)
        XCTAssertEqual(read.fileVersion, "brain.Event:2")
        XCTAssertEqual(read.scalars, written)
        XCTAssertEqual(TensorBoardWriter.eventFiles(in: d).count, 2)
    }

    func testTagsAndEpochRecords() throws {
        XCTAssertEqual(TensorBoardWriter.tag(forKey: "loss"), "loss/total")
        XCTAssertEqual(TensorBoardWriter.tag(forKey: "loss_ce"), "loss/ce")
        XCTAssertEqual(TensorBoardWriter.tag(forKey: "val_loss"), "loss/val")
        XCTAssertEqual(TensorBoardWriter.tag(forKey: "val_macro_f1"), "val/macro_f1")
        XCTAssertEqual(TensorBoardWriter.tag(forKey: "train_accuracy"), "train/accuracy")
        XCTAssertEqual(TensorBoardWriter.tag(forKey: "lr"), "lr")
        XCTAssertEqual(TensorBoardWriter.tag(forKey: "seconds"), "speed/seconds")
        let d = try tempDir()
        let w = try TensorBoardWriter(logDir: d)
        struct Rec: Encodable { var epoch = 3; var lr: Float = 0.001; var loss_ce: Float = 0.5; var note = "text"; var done = true }
        XCTAssertEqual(try w.logEpoch(encoding: Rec()), 2)
        XCTAssertEqual(try w.logEpoch(["epoch": 4, "val_accuracy": 0.75, "flag": true, "name": "x"]), 1)
        let s = try TensorBoardReader.read(w.path).scalars
        XCTAssertEqual(s.map(\.tag), ["loss/ce", "lr", "val/accuracy"])
        XCTAssertEqual(s.map(\.step), [3, 3, 4])
        XCTAssertEqual(s.map(\.value), [0.5, 0.001, 0.75])
    }

    func testExportMetricsJSONL() throws {
        let d = try tempDir()
        var lines = ""
        var expected: [(String, Int, Float)] = []
        for e in 1...4 {
            let r: [String: Any] = ["epoch": e, "loss": 2.0 / Double(e), "loss_ce": 1.5 / Double(e), "lr": 0.002 * Double(5 - e) / 4,
                                    "val_accuracy": 0.2 * Double(e), "seconds": 10.0]
            lines += String(decoding: try JSONSerialization.data(withJSONObject: r, options: [.sortedKeys]), as: UTF8.self) + "\n"
            for k in r.keys.sorted() where k != "epoch" {
                expected.append((TensorBoardWriter.tag(forKey: k), e, Float(JSONFiles.number(r[k]!)!)))
            }
        }
        try lines.write(toFile: d + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let (path, n) = try TensorBoardWriter.exportTensorBoard(runDir: d)
        XCTAssertEqual(n, 20)
        let s = try TensorBoardReader.read(path).scalars
        XCTAssertEqual(s.count, expected.count)
        for (a, b) in zip(s, expected) {
            XCTAssertEqual(a.tag, b.0); XCTAssertEqual(a.step, b.1); XCTAssertEqual(a.value, b.2)
        }
        XCTAssertEqual(s.last!.wallTime - s.first!.wallTime, 30, accuracy: 1e-6, "wall times follow the epochs' seconds")
        XCTAssertThrowsError(try TensorBoardWriter.exportTensorBoard(runDir: d)) { e in
            XCTAssertTrue(String(describing: e).contains("an event file exists already"), "\(e)")
        }
        let again = try TensorBoardWriter.exportTensorBoard(runDir: d, replace: true)
        XCTAssertEqual(TensorBoardWriter.eventFiles(in: d), [again.path])
    }
}
