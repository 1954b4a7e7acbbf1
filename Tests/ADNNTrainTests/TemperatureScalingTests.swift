import XCTest
import Foundation
@testable import ADNN
@testable import ADNNTrain
import ADNNData

/// Temperature scaling (`ViewLogits`, `CalibrationRequest`, `adnn calibrate`), the stored temperature
/// (`Checkpoint.temperature`, `ADNNFER.temperature`) and the ECE in the eval metrics.
final class TemperatureScalingTests: XCTestCase {
    let data = "synthetic:train=0,val=40,test=0,size=24"

    /// Logits `[n, k]` of spread 3 and labels drawn from softmax(logits / trueT), seeded.
    func sample(n: Int, k: Int, trueT: Float, seed: UInt64) -> ViewLogits {
        var rng = SeededRNG(seed: seed)
        var z = [Float](repeating: 0, count: n * k), labels = [Int]()
        for i in 0..<n {
            for j in 0..<k { z[i * k + j] = (Float(rng.next() % 10_000) / 10_000 - 0.5) * 6 }
            let e = (0..<k).map { Foundation.exp(z[i * k + $0] / trueT) }
            var u = Float(rng.next() % 1_000_000) / 1_000_000 * e.reduce(0, +)
            var y = k - 1
            for j in 0..<k { u -= e[j]; if u <= 0 { y = j; break } }
            labels.append(y)
        }
        return ViewLogits(views: [z], labels: labels, classes: k)
    }

    func testFitRecoversTheTemperatureTheLabelsWereDrawnAt() {
        for trueT: Float in [0.5, 2.0] {
            let v = sample(n: 6000, k: 7, trueT: trueT, seed: 11)
            let t = v.fitTemperature()
            XCTAssertEqual(t, trueT, accuracy: trueT * 0.12, "drawn at T = \(trueT)")
            // A minimum of the NLL: no better a little either side, and better than no scaling.
            XCTAssertLessThanOrEqual(v.nll(temperature: t), v.nll(temperature: t * 0.95) + 1e-9)
            XCTAssertLessThanOrEqual(v.nll(temperature: t), v.nll(temperature: t * 1.05) + 1e-9)
            let fit = v.fit()
            XCTAssertEqual(fit.temperature, t)
            XCTAssertLessThan(fit.nllAfter, fit.nllBefore)
            XCTAssertLessThan(fit.eceAfter, fit.eceBefore)
            XCTAssertLessThan(fit.eceHeldOut, 0.03, "cross-fitted ECE of a well-specified model")
            XCTAssertEqual(fit.n, 6000)
        }
    }

    func testViewProbabilitiesAreTheMeanOfEachViewsScaledSoftmax() {
        let a: [Float] = [1, 2, 0.5, -1, 0, 3], b: [Float] = [0, 0, 0, 2, 1, -2]   // 2 images × 3 classes, 2 views
        let v = ViewLogits(views: [a, b], labels: [1, 2], classes: 3)
        let t: Float = 0.7
        func softmax(_ x: ArraySlice<Float>) -> [Float] {
            let e = x.map { Foundation.exp($0 / t) }; let s = e.reduce(0, +); return e.map { $0 / s }
        }
        let p = v.probabilities(temperature: t)
        for i in 0..<2 {
            let pa = softmax(a[(i * 3)..<(i * 3 + 3)]), pb = softmax(b[(i * 3)..<(i * 3 + 3)])
            for j in 0..<3 { XCTAssertEqual(p[i * 3 + j], (pa[j] + pb[j]) / 2, accuracy: 1e-6) }
        }
        let nll = -(Foundation.log(Double(p[1])) + Foundation.log(Double(p[5]))) / 2
        XCTAssertEqual(v.nll(temperature: t), nll, accuracy: 1e-6)
        XCTAssertEqual(v.subset([1]).labels, [2])
        XCTAssertEqual(v.subset([1]).views, [[-1, 0, 3], [2, 1, -2]])
    }

    func testExpectedCalibrationErrorByHand() {
        // Two images at confidence 0.9 (one right), one at 0.55 (right): bins 9 and 5.
        let p: [Float] = [0.9, 0.1, 0.9, 0.1, 0.45, 0.55]
        let e = expectedCalibrationError(probabilities: p, labels: [0, 1, 1], classes: 2)
        XCTAssertEqual(e, 2.0 / 3 * abs(0.5 - 0.9) + 1.0 / 3 * abs(1 - 0.55), accuracy: 1e-6)
        XCTAssertEqual(expectedCalibrationError(probabilities: [], labels: [], classes: 2), 0)
        let m = EvalMetrics(probabilities: p, labels: [0, 1, 1], classes: ["a", "b"])
        XCTAssertEqual(m.ece, e)
        XCTAssertEqual(m.json(dataset: "d", split: "val", imagesPerSecond: 1)["ece"] as? Double, e)
        XCTAssertTrue(m.markdown(title: "t").contains("| ECE (10 bins) |"))
    }

    func testModelProbabilitiesUseItsTemperature() throws {
        var cfg = Config()
        cfg.model.backbone = "efficientnet_b0"; cfg.model.inChans = 1; cfg.model.inputSize = 24; cfg.model.numClasses = 5
        cfg.model.cbam = nil; cfg.model.transformer = nil
        let model = try ADNNFER(cfg.model)
        model.eval()
        let x = Tensor((0..<(2 * 24 * 24)).map { Float(($0 * 7) % 13) / 13 }, shape: [2, 24, 24, 1])
        let logits = noGrad { model(x) }.scalars
        model.temperature = 0.25
        let p = noGrad { model.probabilities(x) }.scalars
        for i in 0..<2 {
            let row = logits[(i * 5)..<(i * 5 + 5)].map { Foundation.exp(Double($0) / 0.25) }
            let s = row.reduce(0, +)
            for j in 0..<5 { XCTAssertEqual(Double(p[i * 5 + j]), row[j] / s, accuracy: 1e-5) }
        }
    }

    /// `adnn calibrate` end to end: the fitted temperature is stored, loaded by every reader, keeps the
    /// file's precision and accuracy, lowers the NLL; nothing is overwritten without --force; a damaged
    /// temperature is one error naming the file.
    func testCalibrateWritesACheckpointThatEvalAndPredictUse() throws {
        let d = try makeTemporaryFolder("calibrate")
        defer { try? FileManager.default.removeItem(atPath: d) }
        var cfg = Config()
        cfg.model.backbone = "efficientnet_b0"; cfg.model.inChans = 1; cfg.model.inputSize = 24; cfg.model.numClasses = 7
        cfg.model.cbam = nil; cfg.model.transformer = nil
        cfg.data.mean = [0.5]; cfg.data.std = [0.25]
        let model = try ADNNFER(cfg.model)
        // An untrained model: its confidence has nothing to do with being right, so the fit moves T well off 1.
        let tensors = model.stateDict().map { (name, t) -> (String, Tensor) in name == "head.weight" ? (name, t * 40) : (name, t) }
        let raw = d + "/raw.safetensors", half = d + "/half.safetensors", cal = d + "/cal.safetensors"
        try Checkpoint(tensors: tensors, config: cfg, classes: [], epoch: 1, metric: 0).write(to: raw)
        try ExportRequest(checkpoint: raw, out: half, half: true).run(printing: false)

        let fit = try CalibrationRequest(checkpoint: half, data: data, out: cal, tta: .flip, batchSize: 16).run(printing: false)
        XCTAssertGreaterThan(abs(Foundation.log(fit.temperature)), 0.1, "T = \(fit.temperature)")
        XCTAssertLessThan(fit.nllAfter, fit.nllBefore)
        let ck = try Checkpoint.read(cal)
        XCTAssertEqual(ck.temperature, fit.temperature)
        XCTAssertEqual(try ck.makeModel().temperature, fit.temperature)
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(ck.extra["calibration"]).utf8)) as? [String: Any])
        XCTAssertEqual(record["tta"] as? String, "flip")
        XCTAssertEqual(record["split"] as? String, "val")
        XCTAssertEqual(record["n"] as? Int, 40)
        XCTAssertTrue(try SafeTensors.read(cal).dtypes.values.allSatisfy { $0 == "F16" }, "a float16 file stays float16")

        let before = try EvaluationRequest(checkpoint: half, data: data, split: "val", tta: .flip).run(printing: false).metrics
        let after = try EvaluationRequest(checkpoint: cal, data: data, split: "val", tta: .flip).run(printing: false).metrics
        XCTAssertEqual(after.loss, fit.nllAfter, accuracy: 1e-4, "eval reads the stored temperature")
        XCTAssertEqual(before.loss, fit.nllBefore, accuracy: 1e-4)
        XCTAssertEqual(after.ece, fit.eceAfter, accuracy: 1e-6)
        XCTAssertEqual(after.accuracy, fit.accuracy, accuracy: 1e-9)
        XCTAssertEqual(after.confusion, before.confusion, "one temperature does not move a flip-averaged arg-max here")

        var img = PixelImage(width: 24, height: 24, channels: 1)
        for i in 0..<img.pixels.count { img.pixels[i] = UInt8((i * 29) % 256) }
        let pRaw = try ImageClassifier(checkpoint: half).probabilities(img), pCal = try ImageClassifier(checkpoint: cal).probabilities(img)
        if fit.temperature > 1 { XCTAssertLessThan(pCal.max()!, pRaw.max()!, "a temperature above 1 lowers the top probability") }
        else { XCTAssertGreaterThan(pCal.max()!, pRaw.max()!, "a temperature below 1 raises the top probability") }
        XCTAssertEqual(pCal.indices.max { pCal[$0] < pCal[$1] }, pRaw.indices.max { pRaw[$0] < pRaw[$1] })

        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: cal))
        let e1 = message { try CalibrationRequest(checkpoint: half, data: data, out: cal).run(printing: false) }
        XCTAssertTrue(e1.contains(cal) && e1.contains("--force"), e1)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: cal)), bytes, "not overwritten")
        let e2 = message { try CalibrationRequest(checkpoint: half, data: data, split: "test", out: d + "/x.safetensors").run(printing: false) }
        XCTAssertTrue(e2.contains("test"), e2)
        XCTAssertNoThrow(try CalibrationRequest(checkpoint: cal, data: data, out: cal, force: true).run(printing: false),
                         "--force may recalibrate a file in place")

        var bad = try Checkpoint.read(raw)
        bad.extra[Checkpoint.temperatureKey] = "-3"
        try bad.write(to: d + "/bad.safetensors")
        let e3 = message { _ = try Checkpoint.read(d + "/bad.safetensors") }
        XCTAssertTrue(e3.contains(d + "/bad.safetensors") && e3.contains("temperature"), e3)
        var one = try Checkpoint.read(cal)
        one.temperature = 1
        XCTAssertNil(one.extra[Checkpoint.temperatureKey], "T = 1 is stored as no temperature")
    }
}
