import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNKernels

final class ModelTests: XCTestCase {
    func model(_ backbone: String, classes: Int = 1000) throws -> ADNNFER {
        var m = Config.Model()
        m.backbone = backbone; m.numClasses = classes; m.cbam = nil; m.transformer = nil
        return try ADNNFER(m)
    }

    /// `adnn summary` totals must equal timm's parameter counts (SPEC §1.1).
    func testParameterCountsMatchTimm() throws {
        XCTAssertEqual(try model("efficientnet_b0").parameterCount, 5_288_548)
        XCTAssertEqual(try model("efficientnet_b5").parameterCount, 30_389_784)
        XCTAssertEqual(try model("tf_efficientnet_lite0").parameterCount, 4_652_008)
        XCTAssertEqual(try model("resnet50").parameterCount, 25_557_032)
    }

    func testB5StageWidthsAndRepeats() throws {
        let spec = EfficientNetSpec.named("efficientnet_b5")!
        let stages = try spec.decodedStages()
        XCTAssertEqual(stages.map { $0.count }, [3, 5, 5, 7, 7, 9, 3])
        XCTAssertEqual(stages.map { $0[0].outChannels }, [24, 40, 64, 128, 176, 304, 512])
        XCTAssertEqual(spec.headChannels, 2048)
        XCTAssertEqual(spec.stemChannels, 48)
    }

    func testBlockStringDecoder() throws {
        let a = try BlockArgs(decoding: "ir_r2_k5_s2_e6_c40_se0.25")
        XCTAssertEqual(a.kind, .ir); XCTAssertEqual(a.repeats, 2); XCTAssertEqual(a.kernel, 5)
        XCTAssertEqual(a.stride, 2); XCTAssertEqual(a.expansion, 6); XCTAssertEqual(a.outChannels, 40); XCTAssertEqual(a.seRatio, 0.25)
        XCTAssertThrowsError(try BlockArgs(decoding: "zz_r1"))
        XCTAssertThrowsError(try BlockArgs(decoding: "ir_q3"))
    }

    func testParameterNamesFollowTimm() throws {
        let names = Set(try model("efficientnet_b0").stateDict().map { $0.0 })
        for n in ["backbone.conv_stem.weight", "backbone.bn1.running_var", "backbone.blocks.0.0.conv_dw.weight",
                  "backbone.blocks.0.0.se.conv_reduce.bias", "backbone.blocks.1.0.conv_pwl.weight", "backbone.blocks.6.0.bn3.weight",
                  "backbone.conv_head.weight", "backbone.bn2.num_batches_tracked", "head.weight"] {
            XCTAssertTrue(names.contains(n), n)
        }
        let r = Set(try model("resnet50").stateDict().map { $0.0 })
        for n in ["backbone.conv1.weight", "backbone.layer1.0.downsample.0.weight", "backbone.layer4.2.bn3.running_mean"] {
            XCTAssertTrue(r.contains(n), n)
        }
        var cfg = Config.Model()
        cfg.backbone = "efficientnet_b0"; cfg.inputSize = 64
        cfg.transformer = Config.TransformerConfig(layers: 2, heads: 4, dModel: 64, dFF: 128, dropout: 0.1)
        let full = Dictionary(uniqueKeysWithValues: try ADNNFER(cfg).stateDict().map { ($0.0, $0.1.shape) })
        XCTAssertEqual(full["backbone.blocks.0.0.conv_dw.weight"], [32, 1, 3, 3], "conv weights exported as OIHW")
        XCTAssertEqual(full["transformer.layers.1.self_attn.in_proj_weight"], [192, 64])
        XCTAssertEqual(full["transformer.layers.0.self_attn.out_proj.weight"], [64, 64])
        XCTAssertEqual(full["cbam_stage.channel.fc1.weight"], [7, 112])
        XCTAssertEqual(full["cbam_head.spatial.conv.weight"], [1, 2, 7, 7])
        XCTAssertEqual(full["pos_embed"], [1, 4, 64])
        XCTAssertEqual(full["proj.weight"], [64, 1280])
        XCTAssertNotNil(full["transformer.norm.weight"])
    }

    func testStateDictRoundTripAndErrors() throws {
        var cfg = Config.Model()
        cfg.backbone = "efficientnet_b0"; cfg.inputSize = 32; cfg.numClasses = 3
        cfg.transformer = Config.TransformerConfig(layers: 1, heads: 2, dModel: 16, dFF: 32, dropout: 0)
        GlobalRNG.seed(1)
        let a = try ADNNFER(cfg)
        GlobalRNG.seed(2)
        let b = try ADNNFER(cfg)
        let sd = Dictionary(uniqueKeysWithValues: a.stateDict())
        try b.load(stateDict: sd)
        a.eval(); b.eval()
        let x = randn([2, 32, 32, 3], seed: 5)
        let ya = noGrad { a(x) }, yb = noGrad { b(x) }
        assertClose(yb, ya, atol: 0, rtol: 0, "same weights, same logits")
        var missing = sd; missing.removeValue(forKey: "head.bias")
        XCTAssertThrowsError(try b.load(stateDict: missing)) { XCTAssertTrue("\($0)".contains("head.bias")) }
        var extra = sd; extra["bogus.weight"] = Tensor(zeros: [1])
        XCTAssertThrowsError(try b.load(stateDict: extra)) { XCTAssertTrue("\($0)".contains("bogus.weight")) }
        var wrong = sd; wrong["head.weight"] = Tensor(zeros: [4, 16])
        XCTAssertThrowsError(try b.load(stateDict: wrong)) { XCTAssertTrue("\($0)".contains("head.weight")) }
        var noTracked = sd; noTracked = noTracked.filter { !$0.key.hasSuffix("num_batches_tracked") }
        XCTAssertNoThrow(try b.load(stateDict: noTracked), "old BN checkpoints without num_batches_tracked load")
    }

    func testTrainingStepReducesLossOnTinyModel() throws {
        var cfg = Config.Model()
        cfg.backbone = "efficientnet_b0"; cfg.inputSize = 32; cfg.numClasses = 3; cfg.dropRate = 0; cfg.dropPathRate = 0
        cfg.transformer = Config.TransformerConfig(layers: 1, heads: 2, dModel: 32, dFF: 64, dropout: 0)
        GlobalRNG.seed(3)
        let m = try ADNNFER(cfg)
        let opt = AdamW(entries: m.parameterGroups(weightDecay: 0.01, layerDecay: 0.9), lr: 1e-3)
        let x = randn([6, 32, 32, 3], seed: 9)
        let labels = [0, 1, 2, 0, 1, 2]
        var first: Float = 0, last: Float = 0
        for i in 0..<15 {
            let l = softmaxCrossEntropy(m(x), labels: labels)
            if i == 0 { first = l.item }
            last = l.item
            opt.zeroGrad(); l.backward(); opt.step()
        }
        XCTAssertLessThan(last, first * 0.5, "15 AdamW steps on 6 images should overfit")
        XCTAssertTrue(m.parameters().allSatisfy { $0.grad != nil }, "every parameter receives a gradient")
    }

    func testSlicedBatchInferenceMatchesWholeBatch() throws {
        // Batched inference runs the early stages over slices of images (`InferenceTuning.sliceBytes`):
        // same features as the whole batch at once, with SE and a per-stage hook in the path.
        let eff = try EfficientNet(EfficientNetSpec.named("efficientnet_b0")!, inChannels: 1, numClasses: 0)
        eff.eval()
        let x = randn([5, 40, 40, 1], seed: 31)
        let saved = InferenceTuning.sliceBytes
        defer { InferenceTuning.sliceBytes = saved }
        func run(_ bytes: Int) -> (Tensor, [(steps: [Int], images: Int)]) {
            InferenceTuning.sliceBytes = bytes
            return noGrad { withFrozenWeights { (eff.features(x) { $1 * 2 }, eff.inferenceGroups(x)) } }
        }
        let (whole, one) = run(0)
        let (sliced, groups) = run(64 << 10)
        XCTAssertEqual(one.count, 1)
        XCTAssertEqual(one[0].images, 5)
        XCTAssertTrue(groups.contains { $0.images < 5 }, "a 64 KiB budget slices the early stages: \(groups)")
        XCTAssertEqual(groups.flatMap { $0.steps }, Array(-1..<eff.blocks.count), "every step once, in order")
        assertClose(sliced, whole, atol: 1e-5, rtol: 1e-5, "sliced vs whole-batch features")
        // Outside inference (gradients recorded) the batch is never sliced.
        InferenceTuning.sliceBytes = 64 << 10
        XCTAssertEqual(withFrozenWeights { eff.inferenceGroups(x) }.count, 1)
    }

    func testBackboneStructureDerivesGridAttentionStageAndDepths() throws {
        let eff = try EfficientNet(EfficientNetSpec.named("efficientnet_b0")!, inChannels: 1, numClasses: 0)
        let res = ResNet(inChannels: 1, numClasses: 0)
        eff.eval(); res.eval()
        for (net, hook) in [(eff as Backbone, 4), (res as Backbone, 2)] {
            XCTAssertEqual(net.outputStride, 32)
            XCTAssertEqual(net.attentionStageIndex, hook, "CBAM goes after the last stride-16 stage")
            XCTAssertEqual(net.stages[net.attentionStageIndex].outputStride, 16)
            for n in [48, 65, 224] {
                // The derived token grid equals the real feature map's side.
                let f = noGrad { net.features(Tensor(zeros: [1, n, n, 1])) { $1 } }
                XCTAssertEqual(f.shape[1], net.featureSide(forInput: n), "input \(n)")
            }
            // Every backbone parameter has a depth: stem 0, stages 1…S, head S + 1.
            let depths = net.layerDepths()
            XCTAssertEqual(depths.count, net.parameters().count)
            XCTAssertEqual(Set(depths.values).count, net.stages.count + (net.headModules.isEmpty ? 1 : 2))
        }
        XCTAssertEqual(eff.featureSide(forInput: 224), 7)
        XCTAssertEqual(eff.featureSide(forInput: 65), 3)
        XCTAssertEqual(eff.featureSide(forInput: 48), 2)
    }
}
