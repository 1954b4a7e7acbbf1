import XCTest
@testable import ADNNData

final class ColorCLAHETests: XCTestCase {
    func testLabMatchesOpenCV() throws {
        let photo = try fixtureImage("photo.png")
        let lab = photo.rgbToLab()
        let cvLab = try fixtureImage("photo_lab.png")
        let a = agreement(lab, cvLab, tolerance: 0)
        print("RGB→Lab exact agreement with OpenCV: \(a.fraction * 100)% (max diff \(a.maxDiff))")
        XCTAssertEqual(a.fraction, 1.0, "OpenCV's 8-bit Lab is integer arithmetic; we reproduce it bit for bit")
        let back = cvLab.labToRGB()
        let b = agreement(back, try fixtureImage("photo_lab_rgb.png"), tolerance: 0)
        print("Lab→RGB exact agreement with OpenCV: \(b.fraction * 100)% (max diff \(b.maxDiff))")
        XCTAssertEqual(b.fraction, 1.0)
    }

    func testGrayConversion() {
        let img = PixelImage(width: 2, height: 1, channels: 3, pixels: [255, 0, 0, 10, 200, 30])
        // OpenCV: (4899·R + 9617·G + 1868·B + 8192) >> 14
        XCTAssertEqual(img.toGray().pixels, [76, 124])
        XCTAssertEqual(img.toGray().toRGB().pixels, [76, 76, 76, 124, 124, 124])
    }

    func testCLAHEMatchesOpenCVOnFER2013() throws {
        let inputs = try fixtureImage("fer_inputs.png"), expected = try fixtureImage("fer_clahe.png")
        let clahe = CLAHE()
        var ok = 0, total = 0, worst = 0
        for k in 0..<64 {
            let out = clahe.apply(to: mosaicTile(inputs, k, side: 48, perRow: 8))
            let a = agreement(out, mosaicTile(expected, k, side: 48, perRow: 8))
            ok += Int((a.fraction * Double(out.count)).rounded()); total += out.count; worst = max(worst, a.maxDiff)
        }
        let frac = Double(ok) / Double(total)
        print("CLAHE FER2013 (64 images) within ±1 of OpenCV: \(frac * 100)% (max diff \(worst))")
        XCTAssertGreaterThanOrEqual(frac, 0.995)
    }

    func testCLAHEOddSizeUsesReflectPadding() throws {
        let out = CLAHE().apply(to: try fixtureImage("odd_gray.png"))
        let a = agreement(out, try fixtureImage("odd_gray_clahe.png"))
        print("CLAHE 61×45 within ±1 of OpenCV: \(a.fraction * 100)% (max diff \(a.maxDiff))")
        XCTAssertGreaterThanOrEqual(a.fraction, 0.995)
    }

    func testCLAHEMatchesOpenCVOnColourPhotoThroughLab() throws {
        let out = CLAHE().apply(to: try fixtureImage("photo.png"))
        let a = agreement(out, try fixtureImage("photo_clahe.png"))
        print("CLAHE colour (Lab) within ±1 of OpenCV: \(a.fraction * 100)% (max diff \(a.maxDiff))")
        XCTAssertGreaterThanOrEqual(a.fraction, 0.995)
    }

    func testReflect101() {
        XCTAssertEqual((-3...7).map { reflect101($0, 5) }, [3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1])
    }
}
