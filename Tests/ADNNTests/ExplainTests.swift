import XCTest
import Foundation
@testable import ADNN
@testable import ADNNTrain
import ADNNData

/// Kernel SHAP on toy functions, Grad-CAM against finite differences, patch SHAP on a tiny model.
final class ExplainTests: XCTestCase {
    /// f(z) = Σ w_i·(z_i ? x_i : b_i): the Shapley values are exactly w_i·(x_i − b_i), sampled or not.
    func testKernelSHAPRecoversLinearModel() {
        var rng = SeededRNG(seed: 11)
        let m = 64
        let w = (0..<m).map { _ in rng.nextNormal() }, x = (0..<m).map { _ in rng.nextNormal() }, b = (0..<m).map { _ in rng.nextNormal() }
        let f: ([Bool]) -> Float = { z in (0..<m).reduce(0) { $0 + w[$1] * (z[$1] ? x[$1] : b[$1]) } }
        let r = KernelSHAP(samples: 512, seed: 3).explain(featureCount: m) { $0.map(f) }
        XCTAssertFalse(r.isExact, "2⁶⁴ coalitions cannot be enumerated")
        XCTAssertEqual(r.evaluations, 514)
        assertClose(r.values, (0..<m).map { w[$0] * (x[$0] - b[$0]) }, atol: 1e-4, rtol: 1e-4, "φ of a linear model")
        assertClose([r.baseValue, r.fullValue], [f([Bool](repeating: false, count: m)), f([Bool](repeating: true, count: m))],
                    atol: 0, rtol: 0, "base and full values")
        assertClose([r.values.reduce(0, +)], [r.fullValue - r.baseValue], atol: 1e-4, rtol: 1e-5, "efficiency")
    }

    /// With every coalition enumerated the values are the exact Shapley values: an interaction term
    /// of k features with coefficient c gives each of them c/k.
    func testKernelSHAPExactWithInteractions() {
        let f: ([Bool]) -> Float = { z in
            let v = z.map { $0 ? Float(1) : 0 }
            return 2 * v[0] - v[1] + 3 * v[2] * v[3] + 1.5 * v[0] * v[2] * v[4]
        }
        let shap = KernelSHAP(samples: 64, seed: 0)
        XCTAssertEqual(shap.coalitions(featureCount: 5).masks.count, 30, "all 2⁵ − 2 coalitions")
        let r = shap.explain(featureCount: 5) { $0.map(f) }
        XCTAssertTrue(r.isExact)
        assertClose(r.values, [2.5, -1, 2, 1.5, 0.5], atol: 1e-5, rtol: 1e-5, "exact Shapley values")
        assertClose([r.values.reduce(0, +)], [5.5], atol: 1e-5, rtol: 0, "efficiency")
    }

    /// Sampled coalitions with interactions: efficiency is exact, symmetric features get (nearly)
    /// equal values, and a feature the function ignores gets (nearly) zero.
    func testKernelSHAPSampledEfficiencyAndSymmetry() {
        let m = 12
        let f: ([Bool]) -> Float = { z in
            let v = z.map { $0 ? Float(1) : 0 }
            return 4 * v[0] * v[1] + v[2] + v[3] + 2 * v[4] * v[5] * v[6] - v[7] * v[8] + 0.5 * v[9] + v[10]
        }
        let r = KernelSHAP(samples: 2000, seed: 7).explain(featureCount: m) { $0.map(f) }
        XCTAssertFalse(r.isExact)
        assertClose([r.values.reduce(0, +)], [r.fullValue - r.baseValue], atol: 1e-5, rtol: 1e-5, "efficiency")
        XCTAssertEqual(r.fullValue - r.baseValue, 8.5)
        let exact: [Float] = [2, 2, 1, 1, 2.0 / 3, 2.0 / 3, 2.0 / 3, -0.5, -0.5, 0.5, 1, 0]
        assertClose(r.values, exact, atol: 0.06, rtol: 0, "sampled estimates near the Shapley values")
        for (i, j) in [(0, 1), (2, 3), (4, 5), (5, 6), (7, 8)] {
            XCTAssertEqual(r.values[i], r.values[j], accuracy: 0.08, "symmetric features \(i) and \(j)")
        }
        XCTAssertEqual(r.values[11], 0, accuracy: 0.04, "dummy feature")
    }

    func testLeastSquaresSolvesWeightedProblem() {
        // y = 1 + 2x exactly on three points, plus an outlier with zero weight.
        let rows: [[Double]] = [[1, 0], [1, 1], [1, 2], [1, 3]]
        let beta = LeastSquares.weighted(rows: rows, targets: [1, 3, 5, 100], weights: [1, 2, 1, 0], ridge: 0)
        assertClose(beta.map { Float($0) }, [1, 2], atol: 1e-6, rtol: 0)
        XCTAssertNil(LeastSquares.choleskySolve([1, 2, 2, 1], [1, 1], size: 2), "indefinite matrix")
    }

    func tinyModel(transformer: Bool, inputSize: Int) throws -> ADNNFER {
        var cfg = Config.Model()
        cfg.backbone = "efficientnet_b0"; cfg.inChans = 1; cfg.inputSize = inputSize; cfg.numClasses = 4
        cfg.dropRate = 0.3; cfg.dropPathRate = 0.1
        cfg.transformer = transformer ? Config.TransformerConfig(layers: 1, heads: 2, dModel: 16, dFF: 32, dropout: 0.1) : nil
        GlobalRNG.seed(21)
        return try ADNNFER(cfg)
    }

    /// The split forward is the old forward; α_k equals the finite-difference derivative of the
    /// target logit under a uniform shift of channel k, divided by h·w.
    func testGradCAMMatchesFiniteDifferences() throws {
        let model = try tinyModel(transformer: true, inputSize: 64)
        let x = randn([1, 64, 64, 1], seed: 4)
        let parameterCount = model.parameters().count
        model.train()
        let cam = GradCAM(model: model).explain(x)
        XCTAssertTrue(model.training && model.cbamHead!.training, "training mode restored")
        XCTAssertTrue(model.parameters().allSatisfy { $0.grad == nil }, "parameters receive no gradient")
        XCTAssertEqual(model.parameters().count, parameterCount, "requiresGrad restored")

        model.eval()
        let a = noGrad { model.featureMap(x) }
        XCTAssertEqual(a.shape, [1, 2, 2, 1280])
        let logits = noGrad { model(x) }
        assertClose(noGrad { model.classify(featureMap: a).logits }, logits, atol: 0, rtol: 0, "forward = classify ∘ featureMap")
        assertClose(cam.logits, logits.scalars, atol: 0, rtol: 0, "Grad-CAM logits")
        XCTAssertEqual(cam.target, cam.logits.indices.max { cam.logits[$0] < cam.logits[$1] })
        XCTAssertEqual(cam.probabilities.reduce(0, +), 1, accuracy: 1e-5)

        let target = (cam.target + 1) % 4
        let (alpha, _, t) = GradCAM(model: model).channelWeights(featureMap: a, target: target)
        XCTAssertEqual(t, target)
        let eps: Float = 1e-2, hw = Float(4)
        let av = a.scalars
        var fd: [Float] = [], picked: [Float] = []
        for k in stride(from: 3, to: 1280, by: 97) {
            func shifted(_ d: Float) -> Float {
                var v = av
                for p in 0..<4 { v[p * 1280 + k] += d }
                return noGrad { model.classify(featureMap: Tensor(v, shape: a.shape)).logits }.scalars[target]
            }
            fd.append((shifted(eps) - shifted(-eps)) / (2 * eps * hw))
            picked.append(alpha[k])
        }
        let scale = fd.map { abs($0) }.max()!
        XCTAssertGreaterThan(scale, 0)
        assertClose(picked, fd, atol: 2e-3 * scale, rtol: 1e-2, "α against finite differences")

        XCTAssertEqual(cam.heatMap.count, 64 * 64)
        XCTAssertEqual(cam.height, 64); XCTAssertEqual(cam.width, 64)
        XCTAssertTrue(cam.heatMap.allSatisfy { $0 >= 0 && $0 <= 1 }, "cam in [0, 1]")
        XCTAssertEqual(cam.heatMap.max(), cam.coarseMap.contains { $0 > 0 } ? 1 : 0)
        let (alphaTop, _, _) = GradCAM(model: model).channelWeights(featureMap: a, target: cam.target)
        let coarse = (0..<4).map { p in max(0, (0..<1280).reduce(Float(0)) { $0 + alphaTop[$1] * av[p * 1280 + $1] }) }
        assertClose(cam.coarseMap, coarse, atol: 1e-4, rtol: 1e-4, "cam = ReLU(Σ α_k A_k)")
    }

    /// Patch SHAP on a tiny model: the full and base values are the logits of the image and of the
    /// baseline, efficiency holds, and the heat map is the per-patch values.
    func testImageSHAPOnTinyModel() throws {
        let model = try tinyModel(transformer: false, inputSize: 32)
        model.eval()
        let x = randn([1, 32, 32, 1], seed: 8)
        let shap = ImageSHAP(model: model, grid: 4, samples: 40, seed: 1, baseline: .constant(0), batchSize: 16)
        let r = shap.explain(x, target: 2)
        XCTAssertEqual(r.target, 2)
        XCTAssertEqual(r.evaluations, 42)
        let full = noGrad { model(x) }.scalars[2], base = noGrad { model(Tensor(zeros: [1, 32, 32, 1])) }.scalars[2]
        assertClose([r.fullValue, r.baseValue], [full, base], atol: 1e-4, rtol: 1e-4, "full and baseline logits")
        assertClose([r.values.reduce(0, +)], [full - base], atol: 1e-4, rtol: 1e-4, "efficiency")
        XCTAssertEqual(r.values.count, 16)
        XCTAssertEqual(r.heatMap[0], r.values[0]); XCTAssertEqual(r.heatMap[31 * 32 + 31], r.values[15])
        XCTAssertEqual(r.heatMap[9 * 32 + 17], r.values[1 * 4 + 2])

        let blurred = ImageSHAP(model: model, grid: 4, samples: 8).explain(x)
        XCTAssertEqual(blurred.target, blurred.logits.indices.max { blurred.logits[$0] < blurred.logits[$1] })
        assertClose([blurred.values.reduce(0, +)], [blurred.fullValue - blurred.baseValue], atol: 1e-4, rtol: 1e-4, "efficiency")
    }

    func testPatchIndicesAndBlur() {
        let p = ImageSHAP.patchIndices(height: 10, width: 7, grid: 3)
        XCTAssertEqual(p[0], 0); XCTAssertEqual(p[6], 2); XCTAssertEqual(p[4 * 7 + 3], 4); XCTAssertEqual(p[9 * 7 + 6], 8)
        XCTAssertEqual(Set(p).count, 9)
        let constant = [Float](repeating: 0.7, count: 10 * 7 * 3)
        assertClose(ImageSHAP.gaussianBlur(constant, height: 10, width: 7, channels: 3, sigma: 2), constant, atol: 1e-6, rtol: 0)
        var impulse = [Float](repeating: 0, count: 9 * 9)
        impulse[4 * 9 + 4] = 1
        let blurred = ImageSHAP.gaussianBlur(impulse, height: 9, width: 9, channels: 1, sigma: 1)
        XCTAssertEqual(blurred.reduce(0, +), 1, accuracy: 1e-5, "mass kept away from the borders")
        XCTAssertEqual(blurred[4 * 9 + 3], blurred[3 * 9 + 4], accuracy: 1e-7, "isotropic")
        XCTAssertLessThan(blurred[4 * 9 + 4], 0.2)
    }

    func testColorMapsAndOverlay() {
        XCTAssertTrue(ColorMap.jet.color(0) == (0, 0, 0.5) && ColorMap.jet.color(1) == (0.5, 0, 0))
        XCTAssertTrue(ColorMap.blueWhiteRed.color(0) == (1, 1, 1))
        XCTAssertGreaterThan(ColorMap.blueWhiteRed.color(1).red, ColorMap.blueWhiteRed.color(1).blue)
        XCTAssertGreaterThan(ColorMap.blueWhiteRed.color(-1).blue, ColorMap.blueWhiteRed.color(-1).red)
        let gray = PixelImage(width: 4, height: 2, channels: 1, fill: 100)
        let o = gray.overlaid(heatMap: [1, -1], mapWidth: 2, mapHeight: 1, colorMap: .blueWhiteRed, alpha: 1, smooth: false)
        XCTAssertEqual(o.channels, 3)
        XCTAssertEqual([o[0, 0, 0], o[0, 0, 2]], [204, 13], "left half red")
        XCTAssertEqual([o[3, 1, 0], o[3, 1, 2]], [13, 204], "right half blue")
        let none = gray.overlaid(heatMap: [0, 0], mapWidth: 2, mapHeight: 1, colorMap: .blueWhiteRed, alpha: 1)
        XCTAssertEqual(none.pixels, [UInt8](repeating: 100, count: 24), "zero SHAP leaves the image")
    }
}

extension CLITests {
    /// `adnn explain` with both methods on one image: PNG overlays and explain.jsonl; bad input fails
    /// with one error line.
    func testExplainWritesOverlaysAndJSON() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeTinyCheckpoint(d + "/ck.safetensors")
        var img = PixelImage(width: 30, height: 20, channels: 3, fill: 0)
        for i in 0..<img.pixels.count { img.pixels[i] = UInt8((i * 37) % 256) }
        try savePNG(img, to: d + "/face.png")
        for method in ["gradcam", "shap"] {
            let r = try run(["explain", "--checkpoint", d + "/ck.safetensors", "--method", method, "--grid", "4", "--samples", "20",
                             "--target", "angry", "--json", d + "/face.png", "--out", d + "/out"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let png = d + "/out/face_\(method).png"
            let overlay = try loadImage(png)
            XCTAssertEqual([overlay.width, overlay.height, overlay.channels], [240, 240, 3], "24 px scaled ×10 to ≥ 224")
            let lines = try String(contentsOfFile: d + "/out/explain.jsonl", encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(lines.count, 1)
            XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), String(lines[0]))
            let obj = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
            XCTAssertEqual(obj["image"] as? String, d + "/face.png")
            XCTAssertEqual(obj["method"] as? String, method)
            XCTAssertEqual(obj["target"] as? String, "anger")
            XCTAssertEqual(obj["output"] as? String, png)
            let probs = obj["probs"] as! [String: Double]
            XCTAssertEqual(Set(probs.keys), ["happiness", "anger", "neutral"])
            XCTAssertEqual(probs.values.reduce(0, +), 1, accuracy: 1e-4)
        }
        let base = ["explain", "--checkpoint", d + "/ck.safetensors", "--out", d + "/out"]
        assertOneLineError(try run(base + ["--method", "gradcam", "--target", "contempt", d + "/face.png"]), mentions: "--target contempt")
        assertOneLineError(try run(base + ["--method", "gradcam", d + "/missing.png"]), mentions: d + "/missing.png")
        assertOneLineError(try run(base + ["--method", "lime", d + "/face.png"]), mentions: "--method lime")
        assertOneLineError(try run(["explain", "--checkpoint", d + "/nope.safetensors", "--method", "shap", "--out", d + "/out", d + "/face.png"]),
                           mentions: d + "/nope.safetensors")
    }
}

extension ModelParityTests {
    /// Grad-CAM against the float64 PyTorch reference (Scripts/make_gradcam_fixtures.py) on two model
    /// fixtures: the feature map entering the head stage, α for every class, the coarse map and the
    /// normalised, bilinearly upsampled cam (2×2 → 64×64 with a transformer; 3×3 → 65×65 without).
    func testGradCAMMatchesPyTorch() throws {
        for name in ["effb0_cbam_tfm_eval", "tf_b0_cbam_65_eval"] {
            let path = "models/gradcam_\(name).safetensors"
            let ref = try SafeTensors.read(fixturePath(path))
            let model = try makeModel(ModelFixture("model_" + name))
            model.eval()
            let x = try ref.tensor("x", path: path).permuted([0, 2, 3, 1])
            let target = Int(ref.metadata["target"] ?? "") ?? -1
            let a = noGrad { model.featureMap(x) }
            let refA = try ref.tensor("feature_map", path: path).permuted([0, 2, 3, 1])
            assertClose(a, refA, atol: 1e-4 * Self.maxAbs(refA.scalars), rtol: 1e-3, "\(name): feature map")
            let refAlpha = try ref.tensor("alpha", path: path)
            let classes = refAlpha.shape[0], channels = refAlpha.shape[1]
            let gradcam = GradCAM(model: model)
            for t in 0..<classes {
                let expected = Array(refAlpha.scalars[(t * channels)..<((t + 1) * channels)])
                let (alpha, logits, _) = gradcam.channelWeights(featureMap: a, target: t)
                assertClose(alpha, expected, atol: 1e-3 * Self.maxAbs(expected), rtol: 1e-3, "\(name): α for class \(t)")
                if t == 0 { assertClose(logits, try ref.tensor("logits", path: path).scalars, atol: 1e-4, rtol: 1e-4, "\(name): logits") }
            }
            let r = gradcam.explain(x)
            XCTAssertEqual(r.target, target, "\(name): predicted class")
            let coarse = try ref.tensor("coarse", path: path).scalars
            assertClose(r.coarseMap, coarse, atol: 1e-3 * Self.maxAbs(coarse), rtol: 1e-3, "\(name): coarse map")
            assertClose(r.heatMap, try ref.tensor("cam", path: path).scalars, atol: 1e-3, rtol: 0, "\(name): cam")
        }
    }
}
