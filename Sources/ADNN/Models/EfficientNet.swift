import Foundation

/// One decoded block-string entry of a timm architecture definition.
///
/// Block strings (timm `_decode_block_str`) are underscore-separated: the block type first
/// (`ds` depthwise-separable, `ir` inverted residual), then options, each a letter code and a value:
/// `r` repeats, `k` depthwise kernel size, `s` stride, `e` expansion ratio, `c` output channels,
/// `se` squeeze-excite ratio (relative to the block *input* channels), and the flag `noskip`.
/// Example: `ir_r2_k5_s2_e6_c40_se0.25` = two inverted-residual blocks, 5×5 depthwise, first of
/// them stride 2, expansion 6, 40 output channels, SE width 0.25 × input channels.
public struct BlockArgs: Equatable, Sendable {
    public enum Kind: String, Sendable { case ds, ir }
    public var kind: Kind
    public var repeats: Int
    public var kernel: Int
    public var stride: Int
    public var expansion: Float
    public var outChannels: Int
    public var seRatio: Float
    public var noSkip: Bool

    /// Decodes one block string; throws with the offending string.
    public init(decoding s: String) throws {
        let parts = s.split(separator: "_").map(String.init)
        guard let first = parts.first, let kind = Kind(rawValue: first) else {
            throw ADNNError.invalid("block string '\(s)': unknown block type")
        }
        self.kind = kind
        repeats = 1; kernel = 3; stride = 1; expansion = 1; outChannels = 0; seRatio = 0; noSkip = false
        for p in parts.dropFirst() {
            if p == "noskip" { noSkip = true; continue }
            let key: String, value: String
            if p.hasPrefix("se") { key = "se"; value = String(p.dropFirst(2)) }
            else { key = String(p.prefix(1)); value = String(p.dropFirst()) }
            switch key {
            case "r": guard let v = Int(value) else { throw ADNNError.invalid("block string '\(s)': bad '\(p)'") }; repeats = v
            case "k": guard let v = Int(value) else { throw ADNNError.invalid("block string '\(s)': bad '\(p)'") }; kernel = v
            case "s": guard let v = Int(value.prefix(1)) else { throw ADNNError.invalid("block string '\(s)': bad '\(p)'") }; stride = v
            case "e": guard let v = Float(value) else { throw ADNNError.invalid("block string '\(s)': bad '\(p)'") }; expansion = v
            case "c": guard let v = Int(value) else { throw ADNNError.invalid("block string '\(s)': bad '\(p)'") }; outChannels = v
            case "se": guard let v = Float(value) else { throw ADNNError.invalid("block string '\(s)': bad '\(p)'") }; seRatio = v
            default: throw ADNNError.invalid("block string '\(s)': unknown option '\(p)'")
            }
        }
    }
}

/// An EfficientNet variant: base architecture plus scaling and style (timm semantics, SPEC §1.1).
public struct EfficientNetSpec: Sendable {
    public var name: String
    public var width: Float
    public var depth: Float
    /// TF "SAME" padding and BN eps 1e-3 (`tf_` variants).
    public var tfStyle: Bool
    /// Lite: no SE, ReLU6, stem/head widths fixed, first/last stage depth not scaled.
    public var lite: Bool
    public var stages: [String]

    public var bnEps: Float { tfStyle ? 1e-3 : 1e-5 }
    public var activation: Activation { lite ? .relu6 : .silu }

    static let baseStages = ["ds_r1_k3_s1_e1_c16_se0.25", "ir_r2_k3_s2_e6_c24_se0.25", "ir_r2_k5_s2_e6_c40_se0.25",
                             "ir_r3_k3_s2_e6_c80_se0.25", "ir_r3_k5_s1_e6_c112_se0.25", "ir_r4_k5_s2_e6_c192_se0.25",
                             "ir_r1_k3_s1_e6_c320_se0.25"]
    static let liteStages = ["ds_r1_k3_s1_e1_c16", "ir_r2_k3_s2_e6_c24", "ir_r2_k5_s2_e6_c40", "ir_r3_k3_s2_e6_c80",
                             "ir_r3_k5_s1_e6_c112", "ir_r4_k5_s2_e6_c192", "ir_r1_k3_s1_e6_c320"]
    static let scaling: [(Float, Float)] = [(1.0, 1.0), (1.0, 1.1), (1.1, 1.2), (1.2, 1.4), (1.4, 1.8), (1.6, 2.2), (1.8, 2.6), (2.0, 3.1)]

    /// Every supported name.
    public static var allNames: [String] {
        (0...7).map { "efficientnet_b\($0)" } + (0...7).map { "tf_efficientnet_b\($0)" } + (0...4).map { "tf_efficientnet_lite\($0)" }
    }

    /// The spec for a timm model name, or nil.
    public static func named(_ name: String) -> EfficientNetSpec? {
        if name.hasPrefix("tf_efficientnet_lite"), let i = Int(name.dropFirst("tf_efficientnet_lite".count)), (0...4).contains(i) {
            let (w, d) = scaling[i]
            return EfficientNetSpec(name: name, width: w, depth: d, tfStyle: true, lite: true, stages: liteStages)
        }
        for (prefix, tf) in [("tf_efficientnet_b", true), ("efficientnet_b", false)] where name.hasPrefix(prefix) {
            if let i = Int(name.dropFirst(prefix.count)), (0...7).contains(i) {
                let (w, d) = scaling[i]
                return EfficientNetSpec(name: name, width: w, depth: d, tfStyle: tf, lite: false, stages: baseStages)
            }
        }
        return nil
    }

    /// timm `round_channels` / `make_divisible(v·width, 8)`: nearest multiple of 8, never below 90 %.
    public func roundChannels(_ c: Int) -> Int {
        let v = Float(c) * width
        var r = max(8, Int(v + 4) / 8 * 8)
        if Float(r) < 0.9 * v { r += 8 }
        return r
    }

    /// Stem and head widths.
    public var stemChannels: Int { lite ? 32 : roundChannels(32) }
    public var headChannels: Int { lite ? 1280 : roundChannels(1280) }

    /// Decoded and scaled stages: per stage, the list of per-block args (first block carries the stride).
    public func decodedStages() throws -> [[BlockArgs]] {
        try stages.enumerated().map { (i, s) in
            var a = try BlockArgs(decoding: s)
            let fixed = lite && (i == 0 || i == stages.count - 1)
            let reps = fixed ? a.repeats : Int((Float(a.repeats) * depth).rounded(.up))
            a.outChannels = roundChannels(a.outChannels)
            return (0..<reps).map { j in var b = a; b.repeats = 1; if j > 0 { b.stride = 1 }; return b }
        }
    }
}

/// A block of an EfficientNet stage (`DepthwiseSeparable` or `InvertedResidual`), so the stages are
/// a typed array.
public class EfficientNetBlock: Module {
    /// Forward pass; each subclass overrides it.
    public func callAsFunction(_ x: Tensor) -> Tensor { x }
    /// The block's depthwise convolution: its stride sets the output size.
    var depthwise: Conv2d? { nil }
    /// Channels of the widest tensor the block makes at its input resolution.
    var peakChannels: Int { 0 }
    /// Floats of the largest tensor the block makes for one image of `height` × `width`, and its output size.
    final func peakFloats(height: Int, width: Int) -> (floats: Int, height: Int, width: Int) {
        let s = depthwise?.stride ?? 1
        return (height * width * peakChannels, (height + s - 1) / s, (width + s - 1) / s)
    }
}

/// Depthwise-separable block (timm `DepthwiseSeparableConv`): dw conv → BN → act → SE → pw conv → BN (+ skip).
public final class DepthwiseSeparable: EfficientNetBlock {
    public let convDw: Conv2d, bn1: BatchNorm
    public let se: SqueezeExcite?
    public let convPw: Conv2d, bn2: BatchNorm
    public let dropPath: DropPath
    let act: Activation
    let hasSkip: Bool

    init(_ inC: Int, _ args: BlockArgs, spec: EfficientNetSpec, dropPath p: Float) {
        let pad: ConvPadding = spec.tfStyle ? .same : .symmetric(args.kernel / 2)
        convDw = Conv2d(inC, inC, kernelSize: args.kernel, stride: args.stride, padding: pad, groups: inC, bias: false)
        bn1 = BatchNorm(inC, eps: spec.bnEps)
        se = args.seRatio > 0 ? SqueezeExcite(inC, reducedChannels: Int((Float(inC) * args.seRatio).rounded()), act: spec.activation) : nil
        convPw = Conv2d(inC, args.outChannels, kernelSize: 1, bias: false)
        bn2 = BatchNorm(args.outChannels, eps: spec.bnEps)
        dropPath = DropPath(p)
        act = spec.activation
        hasSkip = args.stride == 1 && inC == args.outChannels && !args.noSkip
    }

    override var depthwise: Conv2d? { convDw }
    override var peakChannels: Int { convDw.outChannels }

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        let y = convDw(x, batchNorm: bn1, activation: act)
        // The squeeze-and-excitation gate scales the projection's input, the skip connection (without drop
        // path) is added in its epilogue: in frozen inference both inside the projection's kernel.
        let gate = se?.gate(y)
        if hasSkip && dropPath.isIdentity { return convPw(y, batchNorm: bn2, activation: .identity, inputScale: gate, residual: x) }
        let z = convPw(y, batchNorm: bn2, activation: .identity, inputScale: gate)
        return hasSkip ? dropPath(z) + x : z
    }
}

/// Inverted-residual (MBConv) block (timm `InvertedResidual`):
/// pw expand → BN → act → dw conv → BN → act → SE → pw project → BN (+ skip).
public final class InvertedResidual: EfficientNetBlock {
    public let convPw: Conv2d, bn1: BatchNorm
    public let convDw: Conv2d, bn2: BatchNorm
    public let se: SqueezeExcite?
    public let convPwl: Conv2d, bn3: BatchNorm
    public let dropPath: DropPath
    let act: Activation
    let hasSkip: Bool

    init(_ inC: Int, _ args: BlockArgs, spec: EfficientNetSpec, dropPath p: Float) {
        let mid = Int((Float(inC) * args.expansion).rounded())
        let pad: ConvPadding = spec.tfStyle ? .same : .symmetric(args.kernel / 2)
        convPw = Conv2d(inC, mid, kernelSize: 1, bias: false)
        bn1 = BatchNorm(mid, eps: spec.bnEps)
        convDw = Conv2d(mid, mid, kernelSize: args.kernel, stride: args.stride, padding: pad, groups: mid, bias: false)
        bn2 = BatchNorm(mid, eps: spec.bnEps)
        se = args.seRatio > 0 ? SqueezeExcite(mid, reducedChannels: Int((Float(inC) * args.seRatio).rounded()), act: spec.activation) : nil
        convPwl = Conv2d(mid, args.outChannels, kernelSize: 1, bias: false)
        bn3 = BatchNorm(args.outChannels, eps: spec.bnEps)
        dropPath = DropPath(p)
        act = spec.activation
        hasSkip = args.stride == 1 && inC == args.outChannels && !args.noSkip
    }

    override var depthwise: Conv2d? { convDw }
    override var peakChannels: Int { convPw.outChannels }

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        var y: Tensor
        if let fused = expandDepthwiseFused(x) {
            y = fused
        } else {
            y = convPw(x, batchNorm: bn1, activation: act)
            y = convDw(y, batchNorm: bn2, activation: act)
        }
        // The squeeze-and-excitation gate scales the projection's input, the skip connection (without drop
        // path) is added in its epilogue: in frozen inference both inside the projection's kernel.
        let gate = se?.gate(y)
        if hasSkip && dropPath.isIdentity { return convPwl(y, batchNorm: bn3, activation: .identity, inputScale: gate, residual: x) }
        y = convPwl(y, batchNorm: bn3, activation: .identity, inputScale: gate)
        return hasSkip ? dropPath(y) + x : y
    }

    /// Expansion and depthwise convolution as one job (frozen inference on small images,
    /// `conv2dExpandDepthwiseFrozen`), or nil where the two ops run.
    private func expandDepthwiseFused(_ x: Tensor) -> Tensor? {
        guard !bn1.training && !bn2.training && convPw.bias == nil && convDw.bias == nil && convDw.dilation == 1
            && convPw.stride == 1 && convDw.groups == convDw.inChannels && weightsAreFrozen else { return nil }
        return conv2dExpandDepthwiseFrozen(
            x, expand: ConvBatchNorm(weight: convPw.weight, bnWeight: bn1.weight, bnBias: bn1.bias, runningMean: bn1.runningMean,
                                     runningVar: bn1.runningVar, eps: bn1.eps),
            activation: act.kernelKind,
            depthwise: ConvBatchNorm(weight: convDw.weight, bnWeight: bn2.weight, bnBias: bn2.bias, runningMean: bn2.runningMean,
                                     runningVar: bn2.runningVar, eps: bn2.eps),
            stride: convDw.stride, padding: convDw.padding(height: x.shape[1], width: x.shape[2]), depthwiseActivation: act.kernelKind)
    }
}

/// EfficientNet (Tan & Le, 2019) with timm names: `conv_stem`, `bn1`, `blocks.{s}.{b}.*`, `conv_head`,
/// `bn2`, and `classifier` when built with classes. https://arxiv.org/abs/1905.11946
public final class EfficientNet: Module, Backbone {
    public let convStem: Conv2d, bn1: BatchNorm
    public let blocks: [[EfficientNetBlock]]
    public let convHead: Conv2d, bn2: BatchNorm
    public let classifier: Linear?
    public let spec: EfficientNetSpec
    /// The stages with their channels and output strides (stem stride 2, then each block's stride).
    public let stages: [BackboneStage]
    public var stemModules: [Module] { [convStem, bn1] }
    public var headModules: [Module] { [convHead, bn2] }
    public var featureChannels: Int { convHead.outChannels }

    /// Builds the network; `numClasses == 0` gives a feature extractor without `classifier`.
    public init(_ spec: EfficientNetSpec, inChannels: Int = 3, numClasses: Int = 1000, dropPathRate: Float = 0) throws {
        self.spec = spec
        let stages = try spec.decodedStages()
        let stem = spec.stemChannels
        convStem = Conv2d(inChannels, stem, kernelSize: 3, stride: 2, padding: spec.tfStyle ? .same : .symmetric(1), bias: false)
        bn1 = BatchNorm(stem, eps: spec.bnEps)
        let total = stages.reduce(0) { $0 + $1.count }
        var c = stem, idx = 0, stride = 2
        var built: [[EfficientNetBlock]] = [], info: [(channels: Int, stride: Int)] = []
        for stage in stages {
            var row: [EfficientNetBlock] = []
            for args in stage {
                let p = dropPathRate * Float(idx) / Float(total)   // timm: linear in block index
                row.append(args.kind == .ds ? DepthwiseSeparable(c, args, spec: spec, dropPath: p)
                                            : InvertedResidual(c, args, spec: spec, dropPath: p))
                c = args.outChannels; idx += 1; stride *= args.stride
            }
            built.append(row); info.append((c, stride))
        }
        blocks = built
        self.stages = zip(built, info).map { BackboneStage(blocks: $0.0, channels: $0.1.channels, outputStride: $0.1.stride) }
        convHead = Conv2d(c, spec.headChannels, kernelSize: 1, bias: false)
        bn2 = BatchNorm(spec.headChannels, eps: spec.bnEps)
        classifier = numClasses > 0 ? Linear(spec.headChannels, numClasses) : nil
        super.init()
        initializeGoogle()
    }

    /// timm `_init_weight_goog`: conv weights N(0, √(2/fan_out)), linear U(±1/√fan_out), zero biases.
    private func initializeGoogle() {
        for (_, m) in namedModules() {
            if let conv = m as? Conv2d {
                let fanOut = Float(conv.kernelSize * conv.kernelSize * conv.outChannels / conv.groups)
                conv.weight.assign(Tensor.normal(conv.weight.shape, std: (2 / fanOut).squareRoot(), rng: &GlobalRNG.generator))
                conv.bias?.fill(0)
            } else if let lin = m as? Linear {
                let bound = 1 / Float(lin.weight.shape[0]).squareRoot()
                lin.weight.assign(Tensor.uniform(lin.weight.shape, low: -bound, high: bound, rng: &GlobalRNG.generator))
                lin.bias?.fill(0)
            }
        }
    }

    /// Head feature map `[N, h, w, featureChannels]`; `hook` runs after each stage (index, features).
    ///
    /// Inference on a batch (eval mode, no gradient recording, inside `withFrozenWeights`) runs the
    /// stem and stages in groups, each group over slices of images small enough that its largest
    /// tensors stay in cache (`InferenceTuning.sliceBytes`): the early stages' expanded activations are
    /// otherwise written to and read back from memory, which bounds them on a 2-core machine. Every op
    /// here is per image in eval mode, so the result is the same; the late stages, small per image,
    /// keep large slices for weight reuse.
    public func features(_ x: Tensor, hook: (Int, Tensor) -> Tensor) -> Tensor {
        let groups = inferenceGroups(x)
        var y = x
        for g in groups {
            func run(_ t: Tensor) -> Tensor {
                var y = t
                for step in g.steps {
                    if step < 0 { y = convStem(y, batchNorm: bn1, activation: spec.activation); continue }
                    for b in blocks[step] { y = b(y) }
                    y = hook(step, y)
                }
                return y
            }
            let n = y.shape[0]
            if g.images >= n { y = run(y); continue }
            var parts: [Tensor] = []
            var start = 0
            while start < n {
                let end = Swift.min(n, start + g.images)
                parts.append(run(y.slice(axis: 0, range: start..<end)))
                start = end
            }
            y = Tensor.concat(parts, axis: 0)
        }
        return convHead(y, batchNorm: bn2, activation: spec.activation)
    }

    /// The stem (step −1) and stages (steps 0…) in groups, with the images per slice of each group: all in
    /// one group at the whole batch unless the micro-batched inference path applies.
    func inferenceGroups(_ x: Tensor) -> [(steps: [Int], images: Int)] {
        let n = x.shape[0]
        let all = [(steps: Array(-1..<blocks.count), images: n)]
        let budget = InferenceTuning.sliceBytes / 4
        guard budget > 0, n > 1, x.rank == 4, !training, !GradMode.isEnabled, weightsAreFrozen else { return all }
        // Images per slice that keep each step's largest tensor within the budget.
        var h = (x.shape[1] + 1) / 2, w = (x.shape[2] + 1) / 2
        var fit: [Int] = [Swift.max(1, budget / Swift.max(1, h * w * convStem.outChannels))]
        for stage in blocks {
            var peak = 0
            for b in stage { let p = b.peakFloats(height: h, width: w); peak = Swift.max(peak, p.floats); h = p.height; w = p.width }
            fit.append(Swift.max(1, budget / Swift.max(1, peak)))
        }
        // A group grows while the next step could take at most twice its slice; from the first step that
        // fits the whole batch on, one group at the whole batch.
        var groups: [(steps: [Int], images: Int)] = []
        for (i, m) in fit.enumerated() {
            let step = i - 1, images = Swift.min(m, n)
            if let last = groups.last, images <= 2 * last.images || (last.images >= n && images >= n) {
                groups[groups.count - 1].steps.append(step)
            } else {
                groups.append(([step], images))
            }
        }
        return groups
    }

    /// Classifier logits (requires `numClasses > 0`).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(classifier != nil, "EfficientNet: built without a classifier")
        return classifier!(globalAvgPool(features(x) { $1 }))
    }
}
