import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNKernels

final class TrainingTests: XCTestCase {
    func testAdamWKernelMatchesNaive() {
        let n = 1000
        let p1 = randn([n], seed: 1), m1 = randn([n], seed: 2).abs(), v1 = randn([n], seed: 3).abs(), g = randn([n], seed: 4)
        let p2 = p1.copy(), m2 = m1.copy(), v2 = v1.copy()
        adamwStep(p1.ptr, m1.ptr, v1.ptr, g.ptr, n: n, lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, bc1: 0.19, bc2: 0.002)
        adamwStepNaive(p2.ptr, m2.ptr, v2.ptr, g.ptr, n: n, lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, bc1: 0.19, bc2: 0.002)
        assertClose(p1, p2, atol: 1e-6, rtol: 1e-5, "p"); assertClose(m1, m2, atol: 1e-6, rtol: 1e-6, "m"); assertClose(v1, v2, atol: 1e-6, rtol: 1e-6, "v")
    }

    /// AdamW against PyTorch's update rule on a hand-checkable case: first step moves every
    /// coordinate by lr (sign of the gradient) after decoupled decay.
    func testAdamWFirstStep() {
        let p = Tensor([1, -2, 3], shape: [3], requiresGrad: true)
        p.grad = Tensor([0.5, -0.1, 0], shape: [3])
        let opt = AdamW(entries: [ParamGroupEntry(name: "p", tensor: p, lrScale: 1, weightDecay: 0.1)], lr: 0.01)
        opt.step()
        assertClose(p.scalars, [1 * 0.999 - 0.01, -2 * 0.999 + 0.01, 3 * 0.999], atol: 1e-6, rtol: 1e-6)
    }

    func testGradientClipping() {
        let p = Tensor([0, 0], shape: [2], requiresGrad: true)
        p.grad = Tensor([3, 4], shape: [2])
        let opt = SGD(entries: [ParamGroupEntry(name: "p", tensor: p, lrScale: 1, weightDecay: 0)], lr: 1)
        XCTAssertEqual(opt.clipGradNorm(1), 5, accuracy: 1e-5)
        assertClose(p.grad!.scalars, [0.6, 0.8], atol: 1e-5, rtol: 1e-5)
    }

    func testWarmupCosineSchedule() {
        let s = WarmupCosineSchedule(baseLR: 1, minLR: 0.1, warmupSteps: 10, totalSteps: 110)
        XCTAssertEqual(s.lr(at: 0), 0.1, accuracy: 1e-6)
        XCTAssertEqual(s.lr(at: 9), 1, accuracy: 1e-6)
        XCTAssertEqual(s.lr(at: 10), 1, accuracy: 1e-6)
        XCTAssertEqual(s.lr(at: 60), 0.55, accuracy: 1e-5)
        XCTAssertEqual(s.lr(at: 110), 0.1, accuracy: 1e-6)
    }

    func testLayerDecayAndNoDecayGroups() throws {
        var cfg = Config.Model()
        cfg.backbone = "efficientnet_b0"; cfg.inputSize = 32; cfg.numClasses = 3
        cfg.transformer = Config.TransformerConfig(layers: 1, heads: 2, dModel: 16, dFF: 32, dropout: 0)
        let m = try ADNNFER(cfg)
        let groups = Dictionary(uniqueKeysWithValues: m.parameterGroups(weightDecay: 0.05, layerDecay: 0.5).map { ($0.name, $0) })
        XCTAssertEqual(groups["head.weight"]!.lrScale, 1)
        XCTAssertEqual(groups["backbone.conv_head.weight"]!.lrScale, 0.5)
        XCTAssertEqual(groups["backbone.blocks.6.0.conv_pw.weight"]!.lrScale, 0.25)
        XCTAssertEqual(groups["backbone.conv_stem.weight"]!.lrScale, Float(pow(0.5, 9.0)), accuracy: 1e-9)
        XCTAssertEqual(groups["backbone.bn1.weight"]!.weightDecay, 0)
        XCTAssertEqual(groups["head.bias"]!.weightDecay, 0)
        XCTAssertEqual(groups["pos_embed"]!.weightDecay, 0)
        XCTAssertEqual(groups["head.weight"]!.weightDecay, 0.05)
    }

    func testDistributionAwareSmoothing() {
        let dls = DistributionAwareSmoothing(classCounts: [100, 10, 50], epsilon: 0.1, epsilonMax: 0.4)
        // w = (1/n)/mean(1/n): 1/n = [0.01, 0.1, 0.02], mean = 0.04333…
        assertClose(dls.weights, [0.230769, 2.307692, 0.461538], atol: 1e-5, rtol: 1e-5)
        let q1 = dls.target(1)                   // ε = min(0.1·2.3077, 0.4) = 0.23077
        XCTAssertEqual(q1.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(q1[1], 1 - 0.230769 + 0.230769 * 2.307692 / 3.0, accuracy: 1e-5)
        let q0 = dls.target(0)                   // ε = 0.023077
        XCTAssertEqual(q0[0], 1 - 0.0230769 + 0.0230769 * 0.230769 / 3.0, accuracy: 1e-5)
        let capped = DistributionAwareSmoothing(classCounts: [1000, 1], epsilon: 0.3, epsilonMax: 0.4)   // 0.3·1.998 > 0.4
        XCTAssertEqual(capped.target(1)[1], 0.6 + 0.4 * capped.weights[1] / capped.weights.reduce(0, +), accuracy: 1e-5)
    }

    func testCenterLossValueGradientAndUpdate() {
        let center = CenterLoss(classes: 2, dim: 2, alpha: 0.5)
        center.centers.assign(Tensor([0, 0, 1, 1], shape: [2, 2]))
        let f = Tensor([1, 0, 1, 3, 3, 1], shape: [3, 2])
        // ½·mean(‖(1,0)‖², ‖(0,2)‖², ‖(3,1)‖²) = ½·(1 + 4 + 10)/3 = 2.5
        XCTAssertEqual(center(f, labels: [0, 1, 0]).item, 2.5, accuracy: 1e-6)
        gradCheck([randn([3, 2], seed: 3)], "center loss") { center($0[0], labels: [0, 1, 0]) }
        center.update(features: f, labels: [0, 1, 0])
        // class 0: Δ = ((0−1)+(0−3), (0−0)+(0−1))/(1+2) = (−4/3, −1/3); c ← c − 0.5Δ = (2/3, 1/6)
        assertClose(center.centers.scalars, [2.0 / 3, 1.0 / 6, 1, 1 + 0.5 * 2 / 2], atol: 1e-6, rtol: 1e-6)
    }

    func testCompoundLossGradients() {
        let loss = CompoundLoss(config: Config.Loss(), numClasses: 3, featureDim: 4, classCounts: [10, 5, 20])
        loss.center.centers.assign(randn([3, 4], seed: 8))
        let t = BatchTargets(labels: [0, 2], mixLabels: [1, 0], lambda: [0.7, 0.3])
        XCTAssertEqual(t.dominantLabels, [0, 0])
        gradCheck([randn([2, 3], seed: 1), randn([2, 4], seed: 2)], "compound") { xs in
            loss(logits: xs[0], features: xs[1], targets: t).total
        }
    }

    /// Soft labels (annotator vote distributions): CE targets are the distributions, DLS targets are
    /// linear in them, one-hot distributions give exactly the hard-label targets.
    func testCompoundLossWithLabelDistributions() {
        let loss = CompoundLoss(config: Config.Loss(), numClasses: 3, featureDim: 4, classCounts: [10, 5, 20])
        let p: [Float] = [0.5, 0.25, 0.25, 0, 0, 1]
        let t = BatchTargets(labels: [0, 2], distributions: p)
        XCTAssertEqual(loss.hardTargets(t).scalars, p)
        let q = loss.smoothing.targets(t).scalars
        let q0 = loss.smoothing.target(0), q1 = loss.smoothing.target(1), q2 = loss.smoothing.target(2)
        assertClose(Array(q[0..<3]), (0..<3).map { 0.5 * q0[$0] + 0.25 * q1[$0] + 0.25 * q2[$0] }, atol: 1e-6, rtol: 1e-6)
        assertClose(Array(q[3..<6]), q2, atol: 1e-6, rtol: 1e-6)
        // One-hot distributions (mixed by λ) = the mixup targets.
        let mixed = BatchTargets(labels: [0, 2], mixLabels: [1, 0], lambda: [0.7, 0.3])
        var asDistributions = mixed
        asDistributions.distributions = [0.7, 0.3, 0, 0.7, 0, 0.3]
        assertClose(loss.hardTargets(asDistributions).scalars, loss.hardTargets(mixed).scalars, atol: 1e-7, rtol: 0)
        assertClose(loss.smoothing.targets(asDistributions).scalars, loss.smoothing.targets(mixed).scalars, atol: 1e-6, rtol: 1e-6)
        loss.center.centers.assign(randn([3, 4], seed: 8))
        gradCheck([randn([2, 3], seed: 1), randn([2, 4], seed: 2)], "compound, soft labels") { xs in
            loss(logits: xs[0], features: xs[1], targets: t).total
        }
    }

    func testMetrics() {
        // 4 samples, 2 classes; probabilities for class 1: 0.9, 0.4, 0.35, 0.8; labels 1, 0, 1, 0
        let probs: [Float] = [0.1, 0.9, 0.6, 0.4, 0.65, 0.35, 0.2, 0.8]
        let m = EvalMetrics(probabilities: probs, labels: [1, 0, 1, 0], classes: ["a", "b"])
        XCTAssertEqual(m.accuracy, 0.5)
        XCTAssertEqual(m.confusion, [[1, 1], [1, 1]])
        // AUC for class 1: positives {0.9, 0.35}, negatives {0.4, 0.8}: pairs won 2 of 4 → 0.5
        XCTAssertEqual(m.aucMacroOvR, 0.5, accuracy: 1e-9)
        XCTAssertEqual(m.macroF1, 0.5, accuracy: 1e-9)
        let perfect = EvalMetrics(probabilities: [0.9, 0.1, 0.2, 0.8, 0.3, 0.7], labels: [0, 1, 1], classes: ["a", "b"])
        XCTAssertEqual(perfect.accuracy, 1); XCTAssertEqual(perfect.aucMacroOvR, 1); XCTAssertEqual(perfect.macroF1, 1)
    }

    func testConfigUnknownKeyAndTypeErrors() {
        XCTAssertThrowsError(try Config.parse(yaml: "model: {backbon: efficientnet_b0}", file: "x.yaml")) {
            XCTAssertEqual("\($0)", "x.yaml: unknown config key 'model.backbon'")
        }
        XCTAssertThrowsError(try Config.parse(yaml: "optim: {lr: fast}", file: "x.yaml")) {
            XCTAssertTrue("\($0)".contains("optim.lr"), "\($0)")
        }
        XCTAssertThrowsError(try Config.parse(yaml: "model: {backbone: efficientnet_b9}", file: "x.yaml")) {
            XCTAssertTrue("\($0)".contains("model.backbone"), "\($0)")
        }
        XCTAssertThrowsError(try Config.parse(yaml: "seed: null", file: "x.yaml"))
        let c = try! Config.parse(yaml: "model: {transformer: null, cbam: {stage: false}}\nseed: 7")
        XCTAssertNil(c.model.transformer)
        XCTAssertEqual(c.model.cbam, Config.CBAMConfig(stage: false, head: true, reduction: 16, kernelSize: 7))
        XCTAssertEqual(c.seed, 7)
        XCTAssertEqual(try! Config.fromJSON(c.jsonString()), c, "JSON round trip")
    }

    func testCheckpointRoundTripAndTruncation() throws {
        var cfg = Config()
        cfg.model.backbone = "efficientnet_b0"; cfg.model.inputSize = 32; cfg.model.numClasses = 3
        cfg.model.transformer = nil
        let m = try ADNNFER(cfg.model)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adnn-ck-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/m.safetensors"
        try Checkpoint(tensors: m.stateDict(), config: cfg, classes: ["a", "b", "c"], epoch: 3, metric: 0.5).write(to: path)
        let ck = try Checkpoint.read(path)
        XCTAssertEqual(ck.classes, ["a", "b", "c"]); XCTAssertEqual(ck.epoch, 3); XCTAssertEqual(ck.config, cfg)
        let m2 = try ck.makeModel()
        let x = randn([1, 32, 32, 3], seed: 1)
        m.eval()
        assertClose(noGrad { m2(x) }, noGrad { m(x) }, atol: 0, rtol: 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Checkpoint.read(path)) { XCTAssertTrue("\($0)".contains(path), "\($0)") }
    }
}
