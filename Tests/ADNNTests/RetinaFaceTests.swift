import Foundation
import XCTest
@testable import ADNN
@testable import ADNNTrain

/// RetinaFace MobileNet-0.25: names, anchors, NMS, and the forward pass against PyTorch
/// (Scripts/make_retinaface_fixture.py).
final class RetinaFaceTests: XCTestCase {
    func testStateDictNamesAndParameterCount() {
        let model = RetinaFace()
        let names = model.stateDict().map { $0.0 }
        XCTAssertEqual(names.count, 300)
        XCTAssertEqual(Set(names).count, 300)
        for name in ["body.stage1.0.0.weight", "body.stage1.0.1.num_batches_tracked", "body.stage1.1.3.weight",
                     "body.stage3.1.4.running_var", "fpn.output1.0.weight", "fpn.merge2.1.bias",
                     "ssh1.conv3X3.0.weight", "ssh3.conv5X5_1.1.weight", "ssh2.conv7X7_2.0.weight",
                     "ssh2.conv7x7_3.1.running_mean", "ClassHead.0.conv1x1.weight", "BboxHead.2.conv1x1.bias",
                     "LandmarkHead.1.conv1x1.weight"] {
            XCTAssertTrue(names.contains(name), name)
        }
        XCTAssertEqual(model.parameterCount, 426_608)
        XCTAssertFalse(model.training)
    }

    /// Names and PyTorch-layout shapes equal those of the shared safetensors weights.
    func testMatchesSharedWeightsFile() throws {
        guard let path = sharedAssetPath("models/retinaface_mobilenet0.25.safetensors") else {
            throw XCTSkip("shared RetinaFace weights are absent")
        }
        let reference = try SafeTensors.read(path).tensors
        let ours = Dictionary(RetinaFace().stateDict().filter { !$0.0.hasSuffix("num_batches_tracked") },
                              uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(Set(ours.keys), Set(reference.keys))
        for (name, t) in reference { XCTAssertEqual(ours[name]?.shape, t.shape, name) }
        let model = try RetinaFace.load(path)
        assertClose(model.stateDict().first { $0.0 == "fpn.output3.0.weight" }!.1, reference["fpn.output3.0.weight"]!,
                    atol: 0, rtol: 0, "round trip")
    }

    func testWrongWeightsNameTheFile() throws {
        let path = fixturePath("tiny_state.pth")
        XCTAssertThrowsError(try RetinaFace.load(path)) { error in
            XCTAssertTrue("\(error)".hasPrefix(path + ": not RetinaFace MobileNet-0.25 weights"), "\(error)")
        }
    }

    func testPriors() {
        let p = RetinaFace.priors(height: 350, width: 350)
        XCTAssertEqual(p.count, (44 * 44 + 22 * 22 + 11 * 11) * 2 * 4)
        XCTAssertEqual(Array(p[0..<8]), [4, 4, 10, 10, 4, 4, 20, 20].map { Float($0) / 350 })
        // Anchor 4961: level 3 (after 3872 + 968), cell 60 = row 5, column 5, second size (256).
        XCTAssertEqual(Array(p[(4 * 4961)..<(4 * 4962)]), [Float(5.5 * 32 / 350), Float(5.5 * 32 / 350), 256 / 350, 256 / 350])
        let q = RetinaFace.priors(height: 45, width: 70)
        XCTAssertEqual(q.count, (6 * 9 + 3 * 5 + 2 * 3) * 2 * 4)
        XCTAssertEqual(q[1], Float(4.0 / 45))
        XCTAssertEqual(q[2], Float(10.0 / 70))
    }

    func testNearestResizeMatchesPyTorch() {
        func check(_ inSize: Int, _ outSize: Int, _ expected: [Int]) {
            let x = Tensor((0..<inSize).map(Float.init), shape: [1, inSize, 1, 1])
            let y = nearestResize(x, like: Tensor(zeros: [1, outSize, 1, 1]))
            XCTAssertEqual(y.scalars.map { Int($0) }, expected, "\(inSize)→\(outSize)")
        }
        check(3, 7, [0, 0, 0, 1, 1, 2, 2])
        check(29, 57, (0..<57).map { $0 / 2 })
        check(57, 113, (0..<113).map { $0 / 2 })
        check(5, 5, [0, 1, 2, 3, 4])
    }

    func testNonMaximumSuppression() {
        func face(_ box: [Float], _ score: Float) -> FaceDetection {
            FaceDetection(box: box, score: score, landmarks: [Float](repeating: 0, count: 10))
        }
        let faces = [face([0, 0, 9, 9], 0.8), face([1, 1, 10, 10], 0.9), face([20, 20, 29, 29], 0.7),
                     face([0, 0, 9, 4], 0.6)]
        // [1,1,10,10] vs [0,0,9,9]: inclusive areas 100 each, intersection 81 → IoU 0.68 (suppressed).
        // [0,0,9,4] vs [1,1,10,10]: areas 50 and 100, intersection 9·4 = 36 → IoU 0.316 (kept at 0.4).
        let kept = RetinaFace.nonMaximumSuppression(faces, iouThreshold: 0.4)
        XCTAssertEqual(kept.map { $0.score }, [0.9, 0.7, 0.6])
        XCTAssertEqual(RetinaFace.nonMaximumSuppression(faces, iouThreshold: 0.3).map { $0.score }, [0.9, 0.7])
        XCTAssertEqual(RetinaFace.nonMaximumSuppression([], iouThreshold: 0.4), [])
    }

    func testPreprocessGrayAndRGB() {
        let rgb: [UInt8] = [200, 100, 50, 0, 255, 10]
        let t = rgb.withUnsafeBufferPointer { RetinaFace.preprocess(pixels: $0, width: 2, height: 1, channels: 3) }
        XCTAssertEqual(t.shape, [1, 1, 2, 3])
        XCTAssertEqual(t.scalars, [-54, -17, 77, -94, 138, -123] as [Float])
        let gray: [UInt8] = [7]
        let g = gray.withUnsafeBufferPointer { RetinaFace.preprocess(pixels: $0, width: 1, height: 1, channels: 1) }
        XCTAssertEqual(g.scalars, [-97, -110, -116] as [Float])
    }

    /// Network outputs equal PyTorch's on a random 45×70 input.
    func testForwardMatchesPyTorch() throws {
        guard let weights = sharedAssetPath("models/retinaface_mobilenet0.25_Final.pth") else {
            throw XCTSkip("shared RetinaFace weights are absent")
        }
        let model = try RetinaFace.load(weights)
        let ref = try SafeTensors.read(fixturePath("retinaface/forward.safetensors")).tensors
        let out = noGrad { model(ref["x"]!) }
        assertClose(out.loc, ref["loc"]!, atol: 2e-4, rtol: 1e-4, "loc")
        assertClose(out.conf, ref["conf"]!, atol: 2e-5, rtol: 1e-4, "conf")
        assertClose(out.landmarks, ref["landmarks"]!, atol: 2e-4, rtol: 1e-4, "landmarks")
    }
}
