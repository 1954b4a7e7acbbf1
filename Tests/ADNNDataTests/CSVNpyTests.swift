import XCTest
@testable import ADNNData

final class CSVNpyTests: XCTestCase {
    func testCSVQuotesEscapesAndLineEnds() throws {
        let text = "\u{FEFF}a,b,c\r\n1,\"x,y\",\"say \"\"hi\"\"\"\n\n2,\"multi\nline\",\n3,,last"
        let csv = CSVFile(path: "t.csv", bytes: Array(text.utf8))
        var rows: [(Int, [String])] = []
        try csv.forEachRecord { line, f in rows.append((line, f.map { csvString($0) })) }
        XCTAssertEqual(rows.map(\.1), [["a", "b", "c"], ["1", "x,y", "say \"hi\""], ["2", "multi\nline", ""], ["3", "", "last"]])
        XCTAssertEqual(rows.map(\.0), [1, 2, 4, 6])
        XCTAssertEqual(try csv.header(), ["a", "b", "c"])
        let bad = CSVFile(path: "bad.csv", bytes: Array("a,\"open\n".utf8))
        XCTAssertThrowsError(try bad.forEachRecord { _, _ in }) { e in XCTAssertTrue("\(e)".contains("bad.csv:1")) }
        XCTAssertEqual(csvInt(Array(" 42 ".utf8)[...]), 42)
        XCTAssertEqual(csvInt(Array("-7".utf8)[...]), -7)
        XCTAssertEqual(csvInt(Array("3.0".utf8)[...]), 3)
        XCTAssertNil(csvInt(Array("3.5".utf8)[...]))
        XCTAssertNil(csvInt(Array("".utf8)[...]))
    }

    func testNpyDtypes() throws {
        XCTAssertEqual(try NpyReader.firstInteger(npyFile(descr: "<i4", payload: [0xFE, 0xFF, 0xFF, 0xFF]), path: "a"), -2)
        XCTAssertEqual(try NpyReader.firstInteger(npyFile(descr: ">i2", payload: [0x01, 0x02]), path: "a"), 258)
        XCTAssertEqual(try NpyReader.firstInteger(npyFile(descr: "<f4", payload: [0, 0, 0xA0, 0x40]), path: "a"), 5)
        XCTAssertEqual(try NpyReader.firstInteger(npyFile(descr: "|S1", payload: Array("4".utf8)), path: "a"), 4)
        XCTAssertEqual(try NpyReader.firstInteger(npyFile(descr: "<U2", payload: utf32("10")), path: "a"), 10)
        XCTAssertThrowsError(try NpyReader.firstInteger(npyFile(descr: "|O", payload: [1]), path: "x.npy")) { e in
            XCTAssertTrue("\(e)".contains("x.npy"))
        }
        XCTAssertThrowsError(try NpyReader.firstInteger([1, 2, 3], path: "y.npy")) { e in XCTAssertTrue("\(e)".contains("y.npy")) }
        XCTAssertThrowsError(try NpyReader.firstInteger(npyFile(descr: "<f8", payload: int64LE(Int64(bitPattern: (2.5).bitPattern))),
                                                        path: "z.npy"))
    }

    func testDataRNGStreamsAndDistributions() {
        var a = DataRNG(seed: 5, 1, 2, 3), b = DataRNG(seed: 5, 1, 2, 3), c = DataRNG(seed: 5, 1, 2, 4)
        let xa = (0..<4).map { _ in a.next() }
        XCTAssertEqual(xa, (0..<4).map { _ in b.next() })
        XCTAssertNotEqual(xa, (0..<4).map { _ in c.next() })
        var r = DataRNG(seed: 9)
        let n = 20000
        var sum = 0.0, sq = 0.0, beta = 0.0
        for _ in 0..<n { let z = r.normal(); sum += z; sq += z * z; beta += r.beta(0.2, 0.2) }
        XCTAssertEqual(sum / Double(n), 0, accuracy: 0.03)
        XCTAssertEqual(sq / Double(n), 1, accuracy: 0.05)
        XCTAssertEqual(beta / Double(n), 0.5, accuracy: 0.02)
        XCTAssertEqual(Set(r.permutation(50)), Set(0..<50))
        // The noise table is a discretised N(0, 1).
        let t = NormalTable.values
        XCTAssertEqual(t.reduce(0, +) / Float(t.count), 0, accuracy: 1e-4)
        XCTAssertEqual(t.map { $0 * $0 }.reduce(0, +) / Float(t.count), 1, accuracy: 0.01)
    }
}
