import XCTest
import Foundation
import ADNN
import ADNNData
@testable import ADNNVideo

/// The FFmpeg reader and writer, the tracker, the smoother and the font, without shared assets.
final class VideoIOTests: XCTestCase {
    /// A frame of four colour quadrants whose boundary moves with `t`.
    func pattern(_ t: Int, width: Int = 96, height: Int = 64) -> PixelImage {
        var img = PixelImage(width: width, height: height, channels: 3)
        for y in 0..<height {
            for x in 0..<width {
                let q = (x < width / 2 + t ? 0 : 1) + (y < height / 2 ? 0 : 2)
                let c: (UInt8, UInt8, UInt8) = [(220, 30, 30), (30, 200, 40), (40, 40, 210), (230, 230, 230)][q]
                img[x, y, 0] = c.0; img[x, y, 1] = c.1; img[x, y, 2] = c.2
            }
        }
        return img
    }

    /// Frames written by `VideoWriter` decode back with the same count, size, rate, timestamps and
    /// (within compression error) colours; the file appears only when finished.
    func testWriteThenRead() throws {
        let d = try makeTempDir("io")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let path = d + "/p.mp4"
        let w = try VideoWriter(path: path, width: 96, height: 64, fps: (15, 1))
        XCTAssertEqual(w.codecName, VideoWriter.hasH264Encoder ? "libx264" : "mpeg4")
        for t in 0..<10 { try w.write(pattern(t)) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "no file before finish")
        try w.finish()
        let r = try VideoReader(path: path)
        XCTAssertEqual(r.width, 96); XCTAssertEqual(r.height, 64)
        XCTAssertEqual(r.fps ?? 0, 15, accuracy: 1e-6)
        XCTAssertEqual(r.frameCountEstimate, 10)
        var n = 0
        while let f = try r.next() {
            XCTAssertEqual(f.index, n)
            XCTAssertEqual(f.time, Double(n) / 15, accuracy: 1e-6)
            let want = pattern(n)
            for (x, y) in [(10, 10), (85, 10), (10, 55), (85, 55)] {
                for c in 0..<3 { XCTAssertLessThan(abs(Int(f.image[x, y, c]) - Int(want[x, y, c])), 24, "frame \(n) (\(x), \(y)) c\(c)") }
            }
            n += 1
        }
        XCTAssertEqual(n, 10)
        // MPEG-4 (the fallback when there is no H.264 encoder) round-trips too.
        let m = try VideoWriter(path: d + "/m.mp4", width: 96, height: 64, fps: (25, 1), preferH264: false)
        XCTAssertEqual(m.codecName, "mpeg4")
        for t in 0..<5 { try m.write(pattern(t)) }
        try m.finish()
        let rm = try VideoReader(path: d + "/m.mp4")
        XCTAssertEqual(rm.codecName, "mpeg4")
        var k = 0
        while try rm.next() != nil { k += 1 }
        XCTAssertEqual(k, 5)
        XCTAssertThrowsError(try VideoWriter(path: d + "/no/such/dir/x.mp4", width: 32, height: 32)) { e in
            XCTAssertTrue(String(describing: e).contains(d + "/no/such/dir/x.mp4"))
        }
    }

    func face(_ x: Float, _ y: Float, _ s: Float = 40) -> FaceDetection {
        FaceDetection(box: [x, y, x + s, y + s], score: 0.9,
                      landmarks: [x + 0.3 * s, y + 0.4 * s, x + 0.7 * s, y + 0.4 * s, x + 0.5 * s, y + 0.6 * s,
                                  x + 0.35 * s, y + 0.8 * s, x + 0.65 * s, y + 0.8 * s])
    }

    /// Ids stay with moving faces whatever the detection order, a new face gets a new id, a face
    /// missing for more than `maxMissed` rounds ends its track, and `predict` extrapolates.
    func testTrackerKeepsIdsAndEndsTracks() {
        let t = FaceTracker(maxMissed: 2)
        let a0 = t.update([face(10, 10), face(100, 10)], frame: 0)
        XCTAssertEqual(a0.map(\.track), [1, 2])
        // Detection order reversed, both moved by 6 px.
        let a1 = t.update([face(106, 10), face(16, 10)], frame: 1)
        XCTAssertEqual(a1.map(\.track), [1, 2])
        XCTAssertEqual(a1[0].box[0], 16); XCTAssertEqual(a1[1].box[0], 106)
        // Carried one frame: constant velocity (+6 px per frame).
        let p = t.predict(frame: 2)
        XCTAssertEqual(p.map(\.track), [1, 2])
        XCTAssertEqual(p[0].box[0], 22, accuracy: 1e-4); XCTAssertFalse(p[0].detected)
        XCTAssertEqual(p[0].landmarks[0], 22 + 12, accuracy: 1e-4)
        // Face 2 vanishes; a third face appears.
        let a3 = t.update([face(28, 10), face(200, 100)], frame: 3)
        XCTAssertEqual(a3.map(\.track), [1, 3])
        XCTAssertEqual(t.predict(frame: 4).map(\.track), [1, 3], "missed tracks are not carried")
        _ = t.update([face(34, 10), face(200, 100)], frame: 4)
        XCTAssertEqual(t.takeEnded(), [])
        _ = t.update([face(40, 10), face(200, 100)], frame: 5)
        XCTAssertEqual(t.takeEnded(), [2], "track 2 missed 3 rounds > maxMissed 2")
        // Face 2 coming back now gets a new id.
        let back = t.update([face(46, 10), face(200, 100), face(106, 10)], frame: 6)
        XCTAssertEqual(back.map(\.track), [1, 3, 4])
        XCTAssertEqual(t.trackCount, 4)
    }

    /// The detector's frame shrink: block means for integer factors.
    func testDetectorShrinkAveragesBlocks() {
        var img = PixelImage(width: 8, height: 4, channels: 3)
        for y in 0..<4 { for x in 0..<8 { for c in 0..<3 { img[x, y, c] = UInt8(10 * x + 40 * y + c) } } }
        let s = RetinaFaceDetector.shrink(img, width: 4, height: 2)
        XCTAssertEqual(s.width, 4); XCTAssertEqual(s.height, 2)
        for y in 0..<2 {
            for x in 0..<4 {
                for c in 0..<3 {
                    let sum = [(0, 0), (1, 0), (0, 1), (1, 1)].map { Int(img[2 * x + $0.0, 2 * y + $0.1, c]) }.reduce(0, +)
                    XCTAssertEqual(Int(s[x, y, c]), (sum + 2) / 4)
                }
            }
        }
        XCTAssertEqual(RetinaFaceDetector.shrink(img, width: 5, height: 3).width, 5, "non-integer factors resize")
    }

    func testSmootherAndIoU() {
        let s = TemporalSmoother(alpha: 0.75)
        XCTAssertEqual(s.update(track: 1, probabilities: [1, 0]), [1, 0])
        XCTAssertEqual(s.update(track: 1, probabilities: [0, 1]), [0.75, 0.25])
        XCTAssertEqual(s.update(track: 2, probabilities: [0, 1]), [0, 1], "tracks are independent")
        s.remove(track: 1)
        XCTAssertEqual(s.update(track: 1, probabilities: [0, 1]), [0, 1])
        XCTAssertEqual(boxIoU([0, 0, 10, 10], [5, 0, 15, 10]), 50 / 150, accuracy: 1e-6)
        XCTAssertEqual(boxIoU([0, 0, 10, 10], [20, 20, 30, 30]), 0)
    }

    /// The font draws the glyph bits at the requested scale and clips at the image border.
    func testFontDrawsGlyphs() {
        var img = PixelImage(width: 20, height: 16, channels: 3)
        BitmapFont.draw("1", into: &img, x: 2, y: 1, scale: 2, color: (255, 255, 255))
        let rows = BitmapFont.glyph("1")
        for r in 0..<7 {
            for c in 0..<5 {
                let on = rows[r] & (0x10 >> UInt8(c)) != 0
                for (dx, dy) in [(0, 0), (1, 1)] {
                    XCTAssertEqual(img[2 + 2 * c + dx, 1 + 2 * r + dy, 0], on ? 255 : 0, "row \(r) col \(c)")
                }
            }
        }
        var small = PixelImage(width: 4, height: 4, channels: 3)
        BitmapFont.draw("W?", into: &small, x: -3, y: -2, color: (9, 9, 9))   // clipped, no trap
        XCTAssertEqual(BitmapFont.textWidth("ab", scale: 2), 22)
        XCTAssertNotEqual(BitmapFont.glyph("é"), BitmapFont.glyph(" "), "unknown characters draw a box")
    }
}
