import XCTest
import Foundation
@testable import ADNN
@testable import ADNNTrain
import ADNNData

/// Test-time augmentation views, shipped-model resolution and `adnn predict`'s face search.
final class InferenceOptionsTests: XCTestCase {
    func ramp(_ n: Int, _ s: Int) -> Tensor {
        Tensor((0..<(n * s * s)).map { Float($0 % (s * s)) + Float($0 / (s * s)) * 1000 }, shape: [n, s, s, 1])
    }

    func testViews() {
        let x = ramp(2, 8)
        XCTAssertEqual(TestTimeAugmentation.none.views(of: x).count, 1)
        let flip = TestTimeAugmentation.flip.views(of: x)
        XCTAssertEqual(flip.count, 2)
        XCTAssertEqual(flip[1].scalars[0], x.scalars[7], "the second view is the mirror image")
        let crops = TestTimeAugmentation.crops.views(of: x)
        XCTAssertEqual(crops.count, 10)
        XCTAssertEqual(TestTimeAugmentation.crops.views, 10)
        for v in crops { XCTAssertEqual(v.shape, [2, 8, 8, 1]) }
        // Each crop is followed by its mirror; the corner crops differ from each other.
        for k in stride(from: 0, to: 10, by: 2) {
            XCTAssertEqual(crops[k + 1].scalars[0], crops[k].scalars[7], accuracy: 1e-4)
        }
        XCTAssertNotEqual(crops[2].scalars, crops[8].scalars)
        // A constant image gives ten equal views (resampling keeps constants).
        let c = Tensor([Float](repeating: 0.25, count: 64), shape: [1, 8, 8, 1])
        for v in TestTimeAugmentation.crops.views(of: c) { for s in v.scalars { XCTAssertEqual(s, 0.25, accuracy: 1e-6) } }
        XCTAssertEqual(TestTimeAugmentation(flip: true, crops: false), .flip)
        XCTAssertEqual(TestTimeAugmentation(flip: true, crops: true), .crops)
    }

    func testAveragedProbabilitiesSumToOne() throws {
        var cfg = ADNNFERConfig()
        cfg.backbone = "efficientnet_b0"; cfg.inChans = 1; cfg.inputSize = 24; cfg.numClasses = 7
        cfg.cbam = nil; cfg.transformer = nil
        let model = try ADNNFER(cfg)
        model.eval()
        let x = ramp(3, 24) * (1 / 1000)
        for tta in TestTimeAugmentation.allCases {
            let p = tta.probabilities(model, x)
            XCTAssertEqual(p.shape, [3, 7])
            for i in 0..<3 { XCTAssertEqual((0..<7).map { p.scalars[i * 7 + $0] }.reduce(0, +), 1, accuracy: 1e-5) }
        }
        // flip = mean of the two single-view softmaxes
        let a = noGrad { model(x).softmax(axis: -1) }.scalars
        let b = noGrad { model(TestTimeAugmentation.flip.views(of: x)[1]).softmax(axis: -1) }.scalars
        let f = TestTimeAugmentation.flip.probabilities(model, x).scalars
        for i in 0..<a.count { XCTAssertEqual(f[i], (a[i] + b[i]) / 2, accuracy: 1e-6) }
    }

    func testShippedModelResolution() throws {
        XCTAssertThrowsError(try ShippedModel.resolve("/nonexistent/m.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/m.safetensors") && "\(e)".contains("ferplus"), "\(e)")
        }
        let d = try makeTemporaryFolder("ship")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let f = d + "/x.safetensors"
        try Data().write(to: URL(fileURLWithPath: f))
        XCTAssertEqual(try ShippedModel.resolve(f), [f], "a file is taken as it is")
        XCTAssertEqual(try ShippedModel.resolve(all: [f]), [f])
        for m in ShippedModel.allCases {
            if let p = m.paths {
                XCTAssertEqual(try ShippedModel.resolve(m.rawValue), p)
                XCTAssertEqual(p.map { ($0 as NSString).lastPathComponent }, m.fileNames)
                XCTAssertEqual(try ShippedModel.resolve(all: [m.rawValue, f]), p + [f], "names and files concatenate")
            } else { XCTAssertThrowsError(try ShippedModel.resolve(m.rawValue)) }
        }
    }

    /// A small image (a face crop) is classified whole; a large photo is searched with the detector,
    /// and with `.always` an image with no face gives no prediction.
    func testPredictFaceSearch() throws {
        let detector = defaultDetectorPath()
        guard FileManager.default.fileExists(atPath: detector) else {
            throw XCTSkip("RetinaFace weights not found at \(detector)")
        }
        let d = try makeTemporaryFolder("pred")
        defer { try? FileManager.default.removeItem(atPath: d) }
        try trainTinyModel(in: d)
        let ck = d + "/run/best.safetensors"
        let small = PixelImage(width: 40, height: 40, channels: 1, pixels: [UInt8](repeating: 128, count: 1600))
        let big = PixelImage(width: 200, height: 160, channels: 3, pixels: [UInt8](repeating: 90, count: 200 * 160 * 3))
        try savePNG(small, to: d + "/small.png")
        try savePNG(big, to: d + "/big.png")
        let auto = try PredictionRequest(checkpoint: ck, images: [d + "/small.png", d + "/big.png"], tta: .flip).run()
        XCTAssertEqual(auto.map(\.count), [1, 1], "a crop and a photo with no face are classified whole")
        XCTAssertNil(auto[1][0].score)
        XCTAssertEqual(auto[1][0].box, [0, 0, 200, 160])
        let always = try PredictionRequest(checkpoint: ck, images: [d + "/big.png"], faces: .always).run()
        XCTAssertEqual(always[0].count, 0, "a blank photo has no face")
        XCTAssertThrowsError(try PredictionRequest(checkpoint: ck, images: []).run())
    }
}

/// Every recipe in `Configs/` decodes and validates; the shipped models load and predict with no flags.
final class ShippedFilesTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func testEveryConfigLoads() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/Configs").filter { $0.hasSuffix(".yaml") }
        XCTAssertGreaterThanOrEqual(names.count, 8)
        for n in names.sorted() {
            XCTAssertNoThrow(try Config.load(path: root + "/Configs/" + n), n)
        }
        XCTAssertEqual(try Config.load(path: root + "/Configs/fer2013-cpu.yaml").schedule.timeBudgetMinutes, 60)
        XCTAssertEqual(try Config.load(path: root + "/Configs/ferplus-cpu.yaml").schedule.timeBudgetMinutes, 60)
    }

    /// `adnn predict FACE.jpg` with no model named uses a shipped model and gives a distribution over
    /// its classes (a 48×48 FER2013 crop from the committed fixtures: classified whole).
    func testShippedModelPredictsWithNoFlags() throws {
        let shipped = ShippedModel.allCases.compactMap { m in
            FileManager.default.fileExists(atPath: root + "/models/" + m.fileName) ? root + "/models/" + m.fileName : nil
        }
        guard !shipped.isEmpty else { throw XCTSkip("no expression model under \(root)/models yet") }
        let face = root + "/Tests/ADNNDataTests/Fixtures/fer_jpeg/" + (try FileManager.default.contentsOfDirectory(
            atPath: root + "/Tests/ADNNDataTests/Fixtures/fer_jpeg").filter { $0.hasSuffix(".jpg") }.sorted()[0])
        for path in shipped {
            let ck = try Checkpoint.read(path)
            XCTAssertTrue(ck.tensors.allSatisfy { !$0.0.hasPrefix("optim.") }, "\(path): inference copy")
            let r = try PredictionRequest(checkpoint: path, images: [face]).run()
            XCTAssertEqual(r[0].count, 1)
            XCTAssertEqual(r[0][0].probabilities.reduce(0, +), 1, accuracy: 1e-4)
            XCTAssertEqual(r[0][0].probabilities.count, ck.config.model.numClasses)
        }
        XCTAssertEqual(try PredictionRequest(checkpoint: nil, images: [face]).run()[0].count, 1)
    }
}
