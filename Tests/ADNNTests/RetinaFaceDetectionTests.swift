import Foundation
import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNData

/// End to end: decode the shared photos, detect, and compare with the reference implementation's
/// detections (`shared/data/faces/retinaface_expected.jsonl`).
final class RetinaFaceDetectionTests: XCTestCase {
    private func iou(_ a: [Float], _ b: [Float]) -> Float {
        let iw = max(0, min(a[2], b[2]) - max(a[0], b[0])), ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
        let inter = iw * ih
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
    }

    /// Every expected face is matched at IoU ≥ 0.9 with landmarks within 2 px and score within 0.01,
    /// and no other face is found. A face whose score is within 0.01 of the 0.5 threshold may fall on
    /// either side of it (the score tolerance), so it is neither required nor counted as extra.
    func testMatchesReferenceDetections() throws {
        guard let weights = sharedAssetPath("models/retinaface_mobilenet0.25_Final.pth"),
              let expectedPath = sharedAssetPath("data/faces/retinaface_expected.jsonl") else {
            throw XCTSkip("shared RetinaFace weights or face photos are absent")
        }
        let model = try RetinaFace.load(weights)
        let folder = (expectedPath as NSString).deletingLastPathComponent
        let lines = try String(contentsOfFile: expectedPath, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 13)
        let threshold: Float = 0.5, scoreTolerance: Float = 0.01
        for line in lines {
            let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let name = try XCTUnwrap(record["image"] as? String)
            let expected = try XCTUnwrap(record["faces"] as? [[String: Any]]).map { face in
                FaceDetection(box: (face["box"] as! [Double]).map(Float.init), score: Float(face["score"] as! Double),
                              landmarks: (face["landmarks"] as! [Double]).map(Float.init))
            }
            let image = try loadImage((folder as NSString).appendingPathComponent(name))
            let found = image.pixels.withUnsafeBufferPointer {
                model.detect(pixels: $0, width: image.width, height: image.height, channels: image.channels, threshold: threshold)
            }
            var used = Set<Int>()
            var worst = (iou: Float(1), landmark: Float(0), score: Float(0))
            for e in expected {
                let candidates = found.indices.filter { !used.contains($0) }
                guard let best = candidates.max(by: { iou(found[$0].box, e.box) < iou(found[$1].box, e.box) }),
                      iou(found[best].box, e.box) >= 0.9 else {
                    if e.score > threshold + scoreTolerance { XCTFail("\(name): no detection matches expected face \(e.box) (score \(e.score))") }
                    continue
                }
                used.insert(best)
                let f = found[best]
                worst.iou = min(worst.iou, iou(f.box, e.box))
                worst.landmark = max(worst.landmark, zip(f.landmarks, e.landmarks).map { abs($0 - $1) }.max()!)
                worst.score = max(worst.score, abs(f.score - e.score))
            }
            let extra = found.indices.filter { !used.contains($0) && found[$0].score > threshold + scoreTolerance }
            XCTAssertEqual(extra.map { found[$0].box }, [], "\(name): detections not in the reference")
            XCTAssertGreaterThanOrEqual(worst.iou, 0.9, name)
            XCTAssertLessThanOrEqual(worst.landmark, 2, name)
            XCTAssertLessThanOrEqual(worst.score, scoreTolerance, name)
            print("\(name): \(found.count) found, \(expected.count) expected; min IoU \(worst.iou), "
                  + "max landmark error \(worst.landmark) px, max score error \(worst.score)")
        }
    }
}
