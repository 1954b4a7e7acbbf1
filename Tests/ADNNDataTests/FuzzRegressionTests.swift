import Foundation
import XCTest
@testable import ADNNData

/// Inputs found by the libFuzzer targets in Fuzz/ (`Scripts/fuzz.sh`) and the image size limits: each used
/// to trap, corrupt memory or exhaust it; each must now fail with one error naming the file.
final class DataFuzzRegressionTests: XCTestCase {
    private func assertMalformed(_ bytes: [UInt8], _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try NpyReader.firstInteger(bytes, path: "label.npy"), file: file, line: line) { error in
            guard case .malformed(let path, _, let reason)? = error as? DataError else {
                return XCTFail("\(error)", file: file, line: line)
            }
            XCTAssertEqual(path, "label.npy", file: file, line: line)
            XCTAssertTrue(reason.contains(expected), reason, file: file, line: line)
        }
    }

    /// `|S-11` (a negative width) read a negative-length slice; `<i9`, `<u8` above Int.max and a float label
    /// beyond Int's range trapped.
    func testNpyBadWidthsAndLabels() {
        assertMalformed(npyFile(descr: "|S-11", payload: Array("12".utf8)), "bad dtype '|S-11'")
        assertMalformed(npyFile(descr: "<i0", payload: [1]), "bad dtype '<i0'")
        assertMalformed(npyFile(descr: "<i9", payload: [UInt8](repeating: 1, count: 9)), "unsupported integer width 9")
        assertMalformed(npyFile(descr: "<u8", payload: [UInt8](repeating: 0xff, count: 8)), "too large")
        assertMalformed(npyFile(descr: "<f8", payload: int64LE(Int64(bitPattern: (1e300).bitPattern))), "is not an integer")
        assertMalformed(npyFile(descr: "<f8", payload: int64LE(Int64(bitPattern: Double.nan.bitPattern))), "is not an integer")
        XCTAssertEqual(try NpyReader.firstInteger(npyFile(descr: "<u8", payload: int64LE(6)), path: "ok.npy"), 6)
    }

    /// The JPEG of a small image whose SOF header is patched to announce `width`×`height`.
    private func jpegAnnouncing(width: Int, height: Int) throws -> [UInt8] {
        var bytes = try encodeJPEG(PixelImage(width: 8, height: 8, channels: 1, pixels: [UInt8](repeating: 90, count: 64)))
        let sof = try XCTUnwrap((2..<(bytes.count - 9)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        bytes[sof + 5] = UInt8(height >> 8); bytes[sof + 6] = UInt8(height & 0xff)
        bytes[sof + 7] = UInt8(width >> 8); bytes[sof + 8] = UInt8(width & 0xff)
        return bytes
    }

    /// A 1 KB JPEG announcing 65500×65500 (12 GB of pixels) fails before allocating; a raised limit admits it.
    func testImageSizeLimitBeforeAllocation() throws {
        let bomb = try jpegAnnouncing(width: 65500, height: 65500)
        XCTAssertThrowsError(try decodeImage(bomb, name: "bomb.jpg")) { error in
            XCTAssertTrue("\(error)".hasPrefix("bomb.jpg: cannot decode image: image size 65500x65500 exceeds the limit"), "\(error)")
        }
        let wide = try jpegAnnouncing(width: 20000, height: 8)       // within 2^28 pixels but wider than 16384
        XCTAssertThrowsError(try decodeImage(wide, name: "wide.jpg")) { error in
            XCTAssertTrue("\(error)".contains("20000x8 exceeds the limit"), "\(error)")
        }
        let saved = (ImageLimits.maxSide, ImageLimits.maxPixels)
        defer { (ImageLimits.maxSide, ImageLimits.maxPixels) = saved }
        ImageLimits.maxSide = 32768
        do {                                                           // now past the limit check
            let image = try decodeImage(wide, name: "wide.jpg")
            XCTAssertEqual([image.width, image.height], [20000, 8])
        } catch {
            XCTAssertFalse("\(error)".contains("exceeds the limit"), "\(error)")
        }
        let png = try encodePNG(PixelImage(width: 8, height: 8, channels: 1, pixels: [UInt8](repeating: 7, count: 64)))
        ImageLimits.maxSide = 4
        XCTAssertThrowsError(try decodeImage(png, name: "small.png")) { error in
            XCTAssertTrue("\(error)".contains("8x8 exceeds the limit of 4 pixels a side"), "\(error)")
        }
        ImageLimits.maxSide = 16384; ImageLimits.maxPixels = 63
        XCTAssertThrowsError(try decodeImage(png, name: "small.png")) { error in
            XCTAssertTrue("\(error)".contains("and 63 pixels"), "\(error)")
        }
        ImageLimits.maxPixels = 64
        XCTAssertEqual(try decodeImage(png, name: "small.png").pixels, [UInt8](repeating: 7, count: 64))
    }

    /// FER2013 CSV bytes parse in memory as from a file.
    func testParseFER2013InMemory() throws {
        let csv = Array("emotion,pixels,Usage\n3,1 2 3 4,Training\n9,1 2 3 4,Training\n1,5 6 7 8,PublicTest\n".utf8)
        let d = try Dataset.parseFER2013(csv: csv, name: "mem.csv")
        XCTAssertEqual(try d.split("train").labels, [3])
        XCTAssertEqual(try d.loadImage(d.split("val").samples[0]).pixels, [5, 6, 7, 8])
        XCTAssertEqual(d.skipped.map(\.path), ["mem.csv:3"])
        XCTAssertThrowsError(try Dataset.parseFER2013(csv: Array("a,b\n".utf8), name: "mem.csv")) { error in
            XCTAssertTrue("\(error)".hasPrefix("mem.csv: wrong CSV header"), "\(error)")
        }
    }
}
