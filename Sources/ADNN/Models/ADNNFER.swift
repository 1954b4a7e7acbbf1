import Foundation

/// The ADNN-FER network (SPEC §1): backbone stem + stages → [CBAM after a stage] → head conv →
/// [CBAM] → tokens (+ pos) → Transformer → LayerNorm → mean over tokens → dropout → linear head.
/// Without a transformer: global average pool → dropout → head.
public final class ADNNFER: Module {
    /// The feature extractor (its parameters live under `backbone.`).
    public let backbone: Backbone
    public let cbamStage: CBAM?
    public let cbamHead: CBAM?
    public let proj: Linear?
    public let posEmbed: Tensor?
    public let transformer: TransformerEncoder?
    public let head: Linear
    public let dropRate: Float
    public let config: ADNNFERConfig
    /// Post-hoc softmax temperature (temperature scaling, Guo et al. 2017,
    /// https://arxiv.org/abs/1706.04599): `probabilities(_:)` divides the logits by it before the
    /// softmax, which changes confidence but never the arg-max. 1 (no change) unless the checkpoint
    /// stores a fitted value (`adnn calibrate`); training never reads it.
    public var temperature: Float = 1

    /// Width of the pooled feature that enters `head` (center-loss dimension).
    public var featureDim: Int { head.weight.shape[1] }

    /// Builds the model described by `config` with freshly initialised weights.
    public init(_ config: ADNNFERConfig) throws {
        if let problem = config.firstProblem() { throw ADNNError.invalid("model.\(problem.key) \(problem.reason)") }
        self.config = config
        let bb: Backbone
        if config.backbone == "resnet50" {
            bb = ResNet(inChannels: config.inChans, numClasses: 0, dropPathRate: config.dropPathRate)
        } else if let spec = EfficientNetSpec.named(config.backbone) {
            bb = try EfficientNet(spec, inChannels: config.inChans, numClasses: 0, dropPathRate: config.dropPathRate)
        } else {
            throw ADNNError.invalid("unknown backbone '\(config.backbone)'")
        }
        backbone = bb
        let c = bb.featureChannels
        if let cb = config.cbam {
            cbamStage = cb.stage ? CBAM(bb.stageChannels[bb.attentionStageIndex], reduction: cb.reduction, kernelSize: cb.kernelSize) : nil
            cbamHead = cb.head ? CBAM(c, reduction: cb.reduction, kernelSize: cb.kernelSize) : nil
        } else {
            cbamStage = nil; cbamHead = nil
        }
        if let t = config.transformer {
            proj = c != t.dModel ? Linear(c, t.dModel) : nil
            let side = bb.featureSide(forInput: config.inputSize)
            posEmbed = Tensor.truncatedNormal([1, side * side, t.dModel], std: 0.02, a: -0.02 * 2, b: 0.02 * 2,
                                              rng: &GlobalRNG.generator, requiresGrad: true)
            transformer = TransformerEncoder(layers: t.layers, dModel: t.dModel, heads: t.heads, dFF: t.dFF, dropout: t.dropout)
            head = Linear(t.dModel, config.numClasses)
        } else {
            proj = nil; posEmbed = nil; transformer = nil
            head = Linear(c, config.numClasses)
        }
        dropRate = config.dropRate
    }

    /// Side of the head feature map (the token grid) for a square input of `input` pixels.
    public func featureSide(_ input: Int) -> Int { backbone.featureSide(forInput: input) }

    /// Logits `[N, classes]` and the pooled feature `[N, d]` that enters the head (for center loss).
    // x: [N, H, W, C]
    public func forward(_ x: Tensor) -> (logits: Tensor, features: Tensor) {
        classify(featureMap: featureMap(x))
    }

    /// The last spatial feature map `[N, h, w, C]` — backbone features with the stage CBAM hook, then
    /// the head CBAM when present — that `classify(featureMap:)` turns into logits (the Grad-CAM
    /// target layer).
    // x: [N, H, W, C]
    public func featureMap(_ x: Tensor) -> Tensor {
        let hookIndex = backbone.attentionStageIndex
        var f = backbone.features(x) { [cbamStage] s, y in (s == hookIndex ? cbamStage.map { $0(y) } : nil) ?? y }
        if let cbamHead { f = cbamHead(f) }
        return f
    }

    /// The rest of `forward` from a `featureMap(_:)` output: tokens → transformer → mean (or global
    /// average pool) → dropout → head. Returns the logits and the pooled feature.
    // f: [N, h, w, C]
    public func classify(featureMap f: Tensor) -> (logits: Tensor, features: Tensor) {
        precondition(f.rank == 4, "ADNN-FER: classify expects a feature map [N, h, w, C], got shape \(f.shape)")
        var pooled: Tensor
        if let transformer, let posEmbed {
            let n = f.shape[0], t = f.shape[1] * f.shape[2]
            precondition(t == posEmbed.shape[1],
                         "ADNN-FER: \(t) tokens but pos_embed has \(posEmbed.shape[1]); input size differs from model.input_size")
            var tokens = f.reshaped([n, t, f.shape[3]])
            if let proj { tokens = proj(tokens) }
            tokens = transformer(tokens + posEmbed)
            pooled = tokens.mean(axes: [1])
        } else {
            pooled = globalAvgPool(f)
        }
        let dropped = training && dropRate > 0 ? dropout(pooled, p: dropRate, training: true, rng: &GlobalRNG.generator) : pooled
        return (head(dropped), pooled)
    }

    /// Logits only.
    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x).logits }

    /// Class probabilities `[N, K]`: the softmax of the logits divided by `temperature`.
    public func probabilities(_ x: Tensor) -> Tensor {
        let logits = self(x)
        return (temperature == 1 ? logits : logits * (1 / temperature)).softmax(axis: -1)
    }

    /// Loads timm backbone weights (safetensors, `classifier.*`/`fc.*` ignored), or the `backbone.*`
    /// tensors of an adnn checkpoint (fine-tuning one data set's model on another); a 3-channel stem
    /// is summed to 1 channel for grayscale models (timm `adapt_input_conv`).
    public func loadPretrainedBackbone(_ tensors: [String: Tensor], source: String) throws {
        var sd: [String: Tensor] = [:]
        if tensors.keys.contains(where: { $0.hasPrefix("backbone.") }) {
            // An adnn checkpoint (e.g. a FER2013 model to fine-tune on FERPlus): its backbone only;
            // the attention blocks, transformer and head start fresh.
            for (k, v) in tensors where k.hasPrefix("backbone.") { sd[String(k.dropFirst("backbone.".count))] = v }
        } else {
            for (k, v) in tensors where !k.hasPrefix("classifier.") && !k.hasPrefix("fc.") { sd[k] = v }
        }
        for key in ["conv_stem.weight", "conv1.weight"] {
            if let w = sd[key], w.rank == 4, w.shape[1] == 3, config.inChans == 1 {
                sd[key] = noGrad { w.sum(axes: [1], keepDims: true) }
            }
        }
        do {
            try backbone.load(stateDict: sd, strict: true)
        } catch let e as StateDictError {
            throw ADNNError.invalid("\(source): does not fit backbone \(config.backbone): \(e)")
        }
    }
}
