import XCTest
@testable import ADNNData

final class ImageCodecTests: XCTestCase {
    func testPNGRoundTripGrayAndRGB() throws {
        var gray = PixelImage(width: 7, height: 5, channels: 1)
        for i in 0..<gray.count { gray.pixels[i] = UInt8(i * 7 % 256) }
        XCTAssertEqual(try decodeImage(try encodePNG(gray), name: "g.png"), gray)
        var rgb = PixelImage(width: 5, height: 3, channels: 3)
        for i in 0..<rgb.count { rgb.pixels[i] = UInt8(i * 13 % 256) }
        XCTAssertEqual(try decodeImage(try encodePNG(rgb), name: "c.png"), rgb)
    }

    func testJPEGRoundTripIsClose() throws {
        var rgb = PixelImage(width: 32, height: 24, channels: 3)
        for y in 0..<24 { for x in 0..<32 { rgb[x, y, 0] = UInt8(x * 8); rgb[x, y, 1] = UInt8(y * 10); rgb[x, y, 2] = 128 } }
        let back = try decodeImage(try encodeJPEG(rgb, quality: 98), name: "c.jpg")
        XCTAssertEqual(back.width, 32); XCTAssertEqual(back.height, 24); XCTAssertEqual(back.channels, 3)
        XCTAssertLessThanOrEqual(agreement(back, rgb, tolerance: 8).maxDiff, 12)
        let g = rgb.toGray()
        let gBack = try decodeImage(try encodeJPEG(g, quality: 98), name: "g.jpg")
        XCTAssertEqual(gBack.channels, 1)
    }

    func testSixteenBitPaletteAndAlphaPNG() throws {
        XCTAssertEqual(try fixtureImage("png16_gray.png"), try fixtureImage("png16_expected.png"))
        XCTAssertEqual(try fixtureImage("rgba.png"), try fixtureImage("rgba_expected.png"))
        XCTAssertEqual(try fixtureImage("palette.png"), try fixtureImage("palette_expected.png"))
    }

    func testExifOrientationIsApplied() throws {
        let img = try fixtureImage("exif6.jpg")
        let expected = try fixtureImage("exif6_expected.png")
        XCTAssertEqual(img.width, 24); XCTAssertEqual(img.height, 40)
        XCTAssertEqual(agreement(img, expected, tolerance: 1).fraction, 1.0)
        let bytes = try readFileBytes(fixturePath("exif6.jpg"))
        XCTAssertEqual(bytes.withUnsafeBytes { exifOrientation(jpeg: $0) }, 6)
    }

    func testOrientationsAreInverses() {
        var img = PixelImage(width: 3, height: 2, channels: 1)
        for i in 0..<6 { img.pixels[i] = UInt8(i) }
        // 6 (90° clockwise) then 8 (90° counter-clockwise) restores the image; 2, 3, 4 are involutions.
        XCTAssertEqual(img.oriented(exif: 6).oriented(exif: 8), img)
        for o in [2, 3, 4, 5, 7] { XCTAssertEqual(img.oriented(exif: o).oriented(exif: o), img, "orientation \(o)") }
        XCTAssertEqual(img.oriented(exif: 6).pixels, [3, 0, 4, 1, 5, 2])
    }

    func testCMYKJPEG() throws {
        let img = try fixtureImage("cmyk.jpg")
        let expected = try fixtureImage("cmyk_expected.png")
        XCTAssertEqual(img.channels, 3)
        XCTAssertLessThanOrEqual(agreement(img, expected, tolerance: 2).maxDiff, 2)
    }

    func testCorruptAndTruncatedFilesThrowNamingTheFile() throws {
        let good = try readFileBytes(fixturePath("exif6.jpg"))
        let truncated = Array(good[0..<(good.count / 2)])
        XCTAssertThrowsError(try decodeImage(truncated, name: "half.jpg")) { e in
            XCTAssertTrue("\(e)".contains("half.jpg"), "\(e)")
        }
        var garbage = Array(good[0..<200]) + [UInt8](repeating: 0x55, count: 300)
        garbage[150] = 0xFF; garbage[151] = 0xC4; garbage[152] = 0; garbage[153] = 1     // bad DHT length
        XCTAssertThrowsError(try decodeImage(garbage, name: "bad.jpg")) { e in XCTAssertTrue("\(e)".contains("bad.jpg")) }
        XCTAssertThrowsError(try decodeImage([0xFF, 0xD8, 0xFF], name: "tiny.jpg"))
        XCTAssertThrowsError(try decodeImage([UInt8](repeating: 7, count: 100), name: "noise.bin")) { e in
            XCTAssertTrue("\(e)".contains("noise.bin"))
        }
        let png = try readFileBytes(fixturePath("rgba.png"))
        XCTAssertThrowsError(try decodeImage(Array(png[0..<(png.count - 40)]), name: "cut.png")) { e in
            XCTAssertTrue("\(e)".contains("cut.png"), "\(e)")
        }
        XCTAssertThrowsError(try loadImage("/nonexistent/x.png")) { e in XCTAssertTrue("\(e)".contains("/nonexistent/x.png")) }
    }

    /// Our libjpeg decode of FER2013 files equals PIL's (both libjpeg-turbo, islow IDCT). The 64 JPEG
    /// files `fer_files.txt` lists are committed under `Fixtures/fer_jpeg/` (path with `/` → `_`), so the
    /// test needs no shared data and the shared copy can change.
    func testFERDecodeMatchesPIL() throws {
        let files = try String(contentsOfFile: fixturePath("fer_files.txt"), encoding: .utf8).split(separator: "\n")
        let mosaic = try fixtureImage("fer_inputs.png")
        var worst = 0
        for (k, rel) in files.enumerated() {
            let img = try loadImage(fixturePath("fer_jpeg/" + rel.replacingOccurrences(of: "/", with: "_")))
            XCTAssertEqual(img.channels, 1)
            worst = max(worst, agreement(img, mosaicTile(mosaic, k, side: 48, perRow: 8)).maxDiff)
        }
        XCTAssertLessThanOrEqual(worst, 1)
    }
}
