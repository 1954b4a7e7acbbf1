import Foundation
import XCTest
@testable import ADNN
@testable import ADNNTrain

/// Whole-model parity with the PyTorch reference (Scripts/adnn_torch.py, fixtures written by
/// Scripts/make_model_fixtures.py — its docstring describes the fixture format), checkpoint interop,
/// timm architecture names/shapes, and the pretrained tf_efficientnet_lite0 on ImageNet samples.
///
/// What is compared, per fixture: every state-dict name and shape (ours vs PyTorch's), strict loading,
/// logits and pooled features (|Δ| ≤ max(1e-4, 3·torch f32 error) + 1e-4·|ref|), the input gradient and every parameter
/// gradient of L = (logits · r).sum() (|Δ| ≤ 1e-3·|ref| + 1e-3·s, s = max|ref grad| of that tensor, at
/// least 1e-3 × the largest over all tensors; full gradients for tensors of ≤ 1024 elements, 192 sampled
/// elements of larger ones, plus the L2 norm and max |·| of every full gradient within 1e-3·s), and in
/// train mode the BN running statistics. The references are float64; PyTorch's own float32 run of each
/// fixture is within 5e-4·s of them (metadata `torch_f32_grad_err`, printed next to ours).
final class ModelParityTests: XCTestCase {
    static let forwardTol: (atol: Float, rtol: Float) = (1e-4, 1e-4)
    static let gradRtol: Float = 1e-3
    /// Absolute gradient tolerance as a fraction of the tensor's gradient scale s (see the class comment).
    static let gradAtolFraction: Float = 1e-3
    /// Floor of s relative to the largest |reference gradient| of the model.
    static let gradScaleFloor: Float = 1e-3

    // MARK: fixtures

    /// A model fixture: config, PyTorch state-dict keys, stored and generated weights, reference values.
    struct ModelFixture {
        let name: String
        let file: SafeTensors
        let config: Config
        let keys: [(name: String, shape: [Int], dtype: String)]
        let generated: [String: Int]
        let mode: String

        init(_ name: String) throws {
            self.name = name
            file = try SafeTensors.read(fixturePath("models/" + name + ".safetensors"))
            let meta = file.metadata
            guard meta["generator"] == "splitmix64-fnv1a-v1",
                  let cfgText = meta["config"], let keysText = meta["keys"], let genText = meta["generated"],
                  let cfgObj = try JSONSerialization.jsonObject(with: Data(cfgText.utf8)) as? [String: Any],
                  let keysObj = try JSONSerialization.jsonObject(with: Data(keysText.utf8)) as? [[Any]],
                  let genObj = try JSONSerialization.jsonObject(with: Data(genText.utf8)) as? [String: Int] else {
                throw ADNNError.invalid("\(name): not a model fixture")
            }
            var c = Config()
            try c.apply(["model": cfgObj], file: name)
            config = c
            keys = keysObj.map { ($0[0] as! String, $0[1] as! [Int], $0[2] as! String) }
            generated = genObj
            mode = meta["mode"] ?? "eval"
        }

        func raw(_ key: String) throws -> Tensor { try file.tensor(key, path: name).copy() }
        func nhwc(_ key: String) throws -> Tensor { try file.tensor(key, path: name).permuted([0, 2, 3, 1]) }

        /// The full PyTorch-layout state dict: stored tensors plus generated large weights.
        func stateDict() throws -> [String: Tensor] {
            var sd: [String: Tensor] = [:]
            for (k, shape, _) in keys {
                if let kk = generated[k] {
                    sd[k] = Tensor(portableUniform(k, count: shape.reduce(1, *), k: kk), shape: shape)
                } else {
                    sd[k] = try raw(k)
                }
            }
            return sd
        }
    }

    /// The fixture's model with its weights loaded strictly, after checking names and shapes.
    func makeModel(_ f: ModelFixture, file: StaticString = #filePath, line: UInt = #line) throws -> ADNNFER {
        let model = try ADNNFER(f.config.model)
        let ours = model.stateDict()
        let theirs = Dictionary(uniqueKeysWithValues: f.keys.map { ($0.name, $0.shape) })
        let onlyOurs = ours.map { $0.0 }.filter { theirs[$0] == nil }
        let onlyTheirs = f.keys.map { $0.name }.filter { n in !ours.contains { $0.0 == n } }
        XCTAssertEqual(onlyOurs, [], "\(f.name): names only adnn has", file: file, line: line)
        XCTAssertEqual(onlyTheirs, [], "\(f.name): names only PyTorch has", file: file, line: line)
        for (k, t) in ours where theirs[k] != nil && theirs[k]! != t.shape {
            XCTFail("\(f.name): \(k) has shape \(t.shape) in adnn, \(theirs[k]!) in PyTorch", file: file, line: line)
        }
        // Trainable parameters vs buffers: PyTorch's named_parameters() are the fixture's `gstat.*` entries.
        let torchParams = Set(f.file.order.filter { $0.hasPrefix("gstat.") }.map { String($0.dropFirst("gstat.".count)) })
        XCTAssertEqual(Set(model.namedParameters().map { $0.0 }), torchParams, "\(f.name): trainable parameters",
                       file: file, line: line)
        let sd = try f.stateDict()
        try model.load(stateDict: sd, strict: true)
        // The state dict read back is the one loaded (conv OIHW ↔ OHWI round trip, int64 counters).
        for (k, t) in model.stateDict() {
            guard let src = sd[k] else { continue }
            if t.scalars != src.scalars { XCTFail("\(f.name): \(k) differs after load → stateDict()", file: file, line: line) }
        }
        return model
    }

    struct Report: CustomStringConvertible {
        var logitsErr: Float = 0, featuresErr: Float = 0, gradXErr: Float = 0
        /// PyTorch float32 vs the float64 reference (fixture metadata).
        var torchLogitsErr = "", torchGradErr = "", torchGradXErr = ""
        /// Worst |Δ| / s over parameter gradients, and where.
        var gradErr: Float = 0, gradWorst = ""
        /// Worst |Δ| / (|reference| + 1e-3·max|reference|) (relative error with a small floor).
        var gradRel: Float = 0, gradRelWorst = ""
        var normErr: Float = 0, bufferErr: Float = 0
        var compared = 0, sampled = 0
        var description: String {
            "logits max|Δ| \(logitsErr) [torch f32 \(torchLogitsErr)], features \(featuresErr), "
                + "grad_x max|Δ|/max|ref| \(gradXErr) [torch f32 \(torchGradXErr)]; params: \(compared) full + "
                + "\(sampled) sampled, worst max|Δ|/s \(gradErr) (\(gradWorst)) [torch f32 \(torchGradErr)], "
                + "worst |Δ|/(|ref| + 1e-3·s) \(gradRel) (\(gradRelWorst)), L2/max-norm |Δ|/s \(normErr)"
                + (bufferErr > 0 ? ", BN running stats max|Δ| \(bufferErr)" : "")
        }
    }

    static func maxAbs(_ a: [Float]) -> Float { a.reduce(0) { max($0, abs($1)) } }
    static func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) } }

    /// Forward, backward and the comparisons described in the class comment.
    @discardableResult
    func runParity(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> Report {
        let f = try ModelFixture(name)
        let model = try makeModel(f, file: file, line: line)
        model.train(f.mode == "train")
        var report = Report()
        report.torchLogitsErr = f.file.metadata["torch_f32_logits_err"] ?? "?"
        report.torchGradErr = f.file.metadata["torch_f32_grad_err"] ?? "?"
        report.torchGradXErr = f.file.metadata["torch_f32_grad_x_err"] ?? "?"
        // Forward tolerance: 1e-4, or three times PyTorch's own float32 error on this fixture when that
        // is larger (ResNet-50's ReLU kinks: torch f32 is already 7.6e-5 off the float64 reference, and
        // an AVX-512 machine's summation order lands ours at 1.5e-4).
        let torchErr = Float(f.file.metadata["torch_f32_logits_err"] ?? "") ?? 0
        let (fa, fr) = (max(Self.forwardTol.atol, 3 * torchErr), Self.forwardTol.rtol)
        let globalMax = try f.file.order.filter { $0.hasPrefix("gstat.") }.map { try f.raw($0).scalars[1] }.max() ?? 0

        let x = try f.nhwc("fixture.x")
        x.requiresGrad = true
        let (logits, features) = model.forward(x)
        let refLogits = try f.raw("fixture.logits"), refFeatures = try f.raw("fixture.features")
        assertClose(logits.detached(), refLogits, atol: fa, rtol: fr, "\(name): logits", file: file, line: line)
        assertClose(features.detached(), refFeatures, atol: fa, rtol: fr, "\(name): pooled features", file: file, line: line)
        report.logitsErr = Self.maxDiff(logits.scalars, refLogits.scalars)
        report.featuresErr = Self.maxDiff(features.scalars, refFeatures.scalars)
        if f.mode != "train" {
            // The deployed path: fused conv + BN + activation on weights packed once (`withFrozenWeights`).
            let frozen = withFrozenWeights { noGrad { model.forward(x.detached()) } }
            assertClose(frozen.logits, refLogits, atol: fa, rtol: fr, "\(name): logits with frozen weights", file: file, line: line)
            assertClose(frozen.features, refFeatures, atol: fa, rtol: fr, "\(name): features with frozen weights", file: file, line: line)
        }

        (logits * (try f.raw("fixture.r"))).sum().backward()

        // Input gradient (NHWC → NCHW).
        let refGX = try f.raw("fixture.grad_x")
        if let gx = x.grad {
            let ours = noGrad { gx.permuted([0, 3, 1, 2]) }
            let scale = Self.maxAbs(refGX.scalars)
            assertClose(ours, refGX, atol: Self.gradAtolFraction * scale, rtol: Self.gradRtol, "\(name): grad_x",
                        file: file, line: line)
            report.gradXErr = Self.maxDiff(ours.scalars, refGX.scalars) / scale
        } else {
            XCTFail("\(name): no input gradient", file: file, line: line)
        }

        // Parameter gradients in PyTorch layout.
        for entry in model.namedTensors() where entry.tensor.requiresGrad {
            let key = entry.name
            let stat = try f.raw("gstat." + key).scalars        // [L2 norm, max |g|] of the full reference
            guard let g = entry.tensor.grad else {
                if stat[1] != 0 { XCTFail("\(name): no gradient for \(key)", file: file, line: line) }
                continue
            }
            let torchLayout = entry.owner.checkpointLayout(of: entry.local) == .convOHWI
                ? noGrad { g.permuted([0, 3, 1, 2]) } : g
            let all = torchLayout.scalars
            let ref = try f.raw("grad." + key).scalars
            let ours: [Float]
            if let idx = f.file.tensors["gidx." + key] {
                ours = idx.scalars.map { all[Int($0)] }
                report.sampled += 1
            } else {
                ours = all
                report.compared += 1
            }
            let scale = max(stat[1], Self.gradScaleFloor * globalMax)
            assertClose(ours, ref, atol: Self.gradAtolFraction * scale, rtol: Self.gradRtol, "\(name): grad \(key)",
                        file: file, line: line)
            let err = Self.maxDiff(ours, ref) / scale
            if err > report.gradErr { report.gradErr = err; report.gradWorst = key }
            for (a, e) in zip(ours, ref) {
                let rel = abs(a - e) / (abs(e) + 1e-3 * scale)
                if rel > report.gradRel { report.gradRel = rel; report.gradRelWorst = key }
            }
            let l2 = Float(all.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
            let mx = Self.maxAbs(all)
            let normErr = max(abs(l2 - stat[0]), abs(mx - stat[1])) / scale
            report.normErr = max(report.normErr, normErr)
            XCTAssertLessThanOrEqual(normErr, Self.gradAtolFraction, "\(name): L2/max norm of grad \(key): ours \(l2), \(mx); "
                                     + "PyTorch \(stat[0]), \(stat[1])", file: file, line: line)
        }

        // Train mode: BN running statistics after the forward pass.
        if f.mode == "train" {
            for (k, b) in model.namedBuffers() where k.hasSuffix("running_mean") || k.hasSuffix("running_var") {
                let ref = try f.raw("after." + k)
                assertClose(b, ref, atol: 1e-5, rtol: 1e-4, "\(name): \(k) after the training step", file: file, line: line)
                report.bufferErr = max(report.bufferErr, Self.maxDiff(b.scalars, ref.scalars))
            }
        }
        print("\(name): \(report)")
        return report
    }

    // MARK: whole-model parity

    /// efficientnet_b0 + CBAM (stage, head) + 2-layer transformer (d 64, 4 heads, d_ff 128), 64×64, eval.
    func testEfficientNetB0CBAMTransformerEval() throws { try runParity("model_effb0_cbam_tfm_eval") }

    /// The same architecture in train mode (batch statistics, running-stat updates; dropouts 0).
    func testEfficientNetB0CBAMTransformerTrain() throws { try runParity("model_effb0_cbam_tfm_train") }

    /// tf_efficientnet_b0 (TF "SAME" padding, asymmetric at 65×65, BN eps 1e-3) + CBAM, no transformer.
    func testTFEfficientNetB0CBAM65() throws { try runParity("model_tf_b0_cbam_65_eval") }

    /// tf_efficientnet_lite0, 1-channel 48×48 input, CBAM on the head only, a transformer with
    /// d_model = 1280 (no `proj`), 8 classes.
    func testTFEfficientNetLite0Gray48() throws { try runParity("model_tf_lite0_gray48_eval") }

    /// resnet50 + CBAM (after layer3 and after layer4), 32×32, batch 1, eval (ReLU kinks make larger
    /// ResNet inputs ill-conditioned in float32; see make_model_fixtures.py).
    func testResNet50CBAM() throws { try runParity("model_resnet50_cbam_eval") }

    /// The portable generator of the fixtures, against values printed by the Python twin.
    func testPortableGeneratorMatchesPython() {
        let v = portableUniform("backbone.conv_head.weight", count: 5, k: 3000)
        XCTAssertEqual(v, [0x1.4bdc68p-2, 0x1.21c814p-4, 0x1.8a09f2p-3, -0x1.e2b5fep-2, -0x1.72fcb0p-2])
    }

    // MARK: architectures

    /// Names and shapes of every supported backbone (with a 1000-class classifier) equal timm's
    /// (Fixtures/models/timm_architectures.json). Debug builds check the smaller half (initialising B6/B7 is slow there).
    func testTimmArchitectureNamesAndShapes() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixturePath("models/timm_architectures.json")))
        let models = try XCTUnwrap((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["models"] as? [String: [String: Any]])
        var names = models.keys.sorted()
        #if DEBUG
        names = names.filter { ($0.hasPrefix("efficientnet_b") && "0235".contains($0.last!)) || $0 == "tf_efficientnet_b1"
                               || $0.hasPrefix("tf_efficientnet_lite") && "024".contains($0.last!) || $0 == "resnet50" }
        #endif
        XCTAssertEqual(models.count, 22)
        for name in names {
            let ref = models[name]!
            let net: Module
            if name == "resnet50" {
                net = ResNet(numClasses: 1000)
            } else {
                net = try EfficientNet(try XCTUnwrap(EfficientNetSpec.named(name)), numClasses: 1000)
            }
            let sd = net.stateDict()
            let lines = sd.map { "\($0.0):\($0.1.shape.map(String.init).joined(separator: ","))" }
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            let digest = String(fnv1a64(lines.joined(separator: "\n")), radix: 16)
            XCTAssertEqual(sd.count, ref["tensors"] as? Int, "\(name): state-dict tensors")
            XCTAssertEqual(net.parameterCount, ref["parameters"] as? Int, "\(name): parameters")
            XCTAssertEqual(String(repeating: "0", count: 16 - digest.count) + digest, ref["digest"] as? String,
                           "\(name): digest of names and shapes")
        }
    }

    // MARK: checkpoints

    /// A checkpoint written by adnn reads back bit for bit and rebuilds the same model; with
    /// ADNN_INTEROP_OUT=DIR it is also left in DIR (with `io.safetensors`: `x` NCHW and adnn's `logits`)
    /// for `make_model_fixtures.py --check-adnn-checkpoint DIR/adnn_effb0.safetensors --io DIR/io.safetensors`.
    func testCheckpointRoundTrip() throws {
        let f = try ModelFixture("model_effb0_cbam_tfm_eval")
        let model = try makeModel(f)
        model.eval()
        var cfg = f.config
        cfg.seed = 7
        let classes = ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger"]
        let centers = randn([7, 64], seed: 3)
        let env = ProcessInfo.processInfo.environment["ADNN_INTEROP_OUT"]
        let dir = env ?? FileManager.default.temporaryDirectory.appendingPathComponent("adnn-ckpt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if env == nil { try? FileManager.default.removeItem(atPath: dir) } }
        let path = dir + "/adnn_effb0.safetensors"
        try Checkpoint(tensors: model.stateDict() + [("center_loss.centers", centers)], config: cfg, classes: classes,
                       epoch: 3, metric: 0.5).write(to: path)

        let raw = try SafeTensors.read(path)
        XCTAssertEqual(raw.metadata["format"], "adnn/1")
        XCTAssertEqual(Set(raw.dtypes.values), ["F32"])
        XCTAssertEqual(raw.tensors["backbone.bn1.num_batches_tracked"]?.shape, [])
        XCTAssertEqual(raw.tensors["backbone.conv_stem.weight"]?.shape, [32, 3, 3, 3], "conv weights are OIHW in files")
        let ck = try Checkpoint.read(path)
        XCTAssertEqual(ck.config, cfg)
        XCTAssertEqual(ck.classes, classes)
        XCTAssertEqual(ck.epoch, 3)
        let back = try ck.makeModel()
        let x = try f.nhwc("fixture.x")
        let a = noGrad { model(x) }, b = noGrad { back(x) }
        XCTAssertEqual(a.scalars, b.scalars, "reloaded model gives different logits")
        for (k, t) in model.stateDict() { XCTAssertEqual(ck.tensorDict[k]?.scalars, t.scalars, k) }
        if env != nil {
            try SafeTensors.write([("x", try f.raw("fixture.x")), ("logits", a)], to: dir + "/io.safetensors")
            print("wrote \(path) and \(dir)/io.safetensors")
        }
    }

    /// A full state dict written by PyTorch (`make_model_fixtures.py --write-torch-state-dict OUT`:
    /// save_file(model.state_dict()), int64 num_batches_tracked) loads strictly and gives PyTorch's logits.
    /// Needs ADNN_TORCH_STATE_DICT=OUT (17 MB, not committed); the committed fixtures are partial
    /// PyTorch-written state dicts and go through the same strict load in every parity test.
    func testLoadsFullTorchStateDict() throws {
        guard let path = ProcessInfo.processInfo.environment["ADNN_TORCH_STATE_DICT"] else {
            throw XCTSkip("set ADNN_TORCH_STATE_DICT to a file from make_model_fixtures.py --write-torch-state-dict")
        }
        let f = try ModelFixture("model_effb0_cbam_tfm_eval")
        let st = try SafeTensors.read(path)
        XCTAssertEqual(Set(st.dtypes.values), ["F32", "I64"])
        XCTAssertEqual(Set(st.order), Set(f.keys.map { $0.name }))
        let model = try ADNNFER(f.config.model)
        try model.load(stateDict: st.tensors, strict: true)
        model.eval()
        let io = try SafeTensors.read(path + ".io.safetensors")
        let y = noGrad { model(try! io.tensor("x").permuted([0, 2, 3, 1])) }
        let ref = try io.tensor("logits")
        assertClose(y, ref, atol: Self.forwardTol.atol, rtol: Self.forwardTol.rtol, "logits after loading \(path)")
        print("\(path): \(st.order.count) tensors loaded strictly, logits max|Δ| \(Self.maxDiff(y.scalars, ref.scalars))")
    }

    // MARK: pretrained weights

    /// The shared tf_efficientnet_lite0 ImageNet weights, loaded through `loadTimmClassifierWeights`,
    /// give the reference top-5 classes and probabilities (±1e-3) on the four sample photos
    /// (decoded once with PIL into Fixtures/models/imagenet_samples_u8.safetensors; RGB/255, ImageNet mean/std).
    func testPretrainedLite0ImageNetSamples() throws {
        let weights = try sharedPathOrSkip("models/tf_efficientnet_lite0.in1k.safetensors")
        let expectedPath = try sharedPathOrSkip("data/imagenet_samples/expected.json")
        var cfg = Config()
        try cfg.apply(["model": ["backbone": "tf_efficientnet_lite0", "num_classes": 1000, "cbam": NSNull(),
                                 "transformer": NSNull(), "input_size": 224]], file: "test")
        let model = try ADNNFER(cfg.model)
        try loadTimmClassifierWeights(into: model, from: weights)
        model.eval()

        let px = try SafeTensors.read(fixturePath("models/imagenet_samples_u8.safetensors"))
        let names = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((px.metadata["names"] ?? "").utf8)) as? [String])
        let pixels = try px.tensor("pixels")                           // [4, 224, 224, 3] 0…255
        XCTAssertEqual(pixels.shape, [names.count, 224, 224, 3])
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        let x = Tensor.empty(pixels.shape)
        for i in 0..<pixels.count { let c = i % 3; x.ptr[i] = (pixels.ptr[i] / 255 - mean[c]) / std[c] }
        let probs = noGrad { model(x).softmax(axis: -1) }

        let expected = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: expectedPath)))
                                      as? [String: Any])?["expected"] as? [String: [String: [Double]]])
        var worst: Float = 0
        for (i, name) in names.enumerated() {
            let p = Array(probs.scalars[(i * 1000)..<((i + 1) * 1000)])
            let top = p.indices.sorted { p[$0] > p[$1] }.prefix(5)
            let exp = try XCTUnwrap(expected[name])
            XCTAssertEqual(Array(top), exp["top5"]!.map { Int($0) }, "\(name): top-5 classes")
            for (j, c) in exp["top5"]!.enumerated() {
                let d = abs(p[Int(c)] - Float(exp["probs"]![j]))
                worst = max(worst, d)
                XCTAssertLessThanOrEqual(d, 1e-3, "\(name): probability of class \(Int(c))")
            }
            print("\(name): top-5 \(Array(top)) p \(top.map { p[$0] })")
        }
        print("pretrained tf_efficientnet_lite0: worst |Δp| over the expected top-5 \(worst)")
    }
}

// MARK: helpers

/// FNV-1a 64 of the UTF-8 bytes.
func fnv1a64(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in s.utf8 { h ^= UInt64(b); h = h &* 0x100_0000_01B3 }
    return h
}

/// The fixtures' portable generator (Scripts/make_model_fixtures.py `portable_uniform`): splitmix64 of
/// FNV-1a(name) + (i + 1)·golden, top 24 bits → u ∈ [0, 1), value float32((2u − 1)·k/4096), exact in Double.
func portableUniform(_ name: String, count: Int, k: Int) -> [Float] {
    let seed = fnv1a64(name)
    let bound = Double(k) / 4096
    var out = [Float](repeating: 0, count: count)
    out.withUnsafeMutableBufferPointer { buf in
        for i in 0..<count {
            var z = seed &+ UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let u = Double(z >> 40) / 16_777_216
            buf[i] = Float((2 * u - 1) * bound)
        }
    }
    return out
}

/// `../shared/<relative>` next to the package root, or skip with a printed reason.
private func sharedPathOrSkip(_ relative: String) throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = root.appendingPathComponent("../shared/" + relative).standardizedFileURL.path
    guard FileManager.default.fileExists(atPath: path) else {
        print("skipping: \(path) is absent (shared assets not installed)")
        throw XCTSkip("\(path) is absent (shared assets not installed)")
    }
    return path
}
