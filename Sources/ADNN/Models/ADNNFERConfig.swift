import Foundation

/// CBAM placement and shape (SPEC §2 `model.cbam`): after the backbone stage that ends at output
/// stride 16 (`stage`) and after the head conv (`head`). https://arxiv.org/abs/1807.06521
public struct CBAMConfig: Codable, Equatable, Sendable {
    public var stage = true, head = true
    public var reduction = 16
    public var kernelSize = 7
    public init(stage: Bool = true, head: Bool = true, reduction: Int = 16, kernelSize: Int = 7) {
        self.stage = stage; self.head = head; self.reduction = reduction; self.kernelSize = kernelSize
    }
    enum CodingKeys: String, CodingKey { case stage, head, reduction, kernelSize = "kernel_size" }
}

/// The pre-norm Transformer encoder over the head feature map's tokens (SPEC §2 `model.transformer`).
public struct TransformerConfig: Codable, Equatable, Sendable {
    public var layers = 6, heads = 8
    public var dModel = 2048, dFF = 4096
    public var dropout: Float = 0.1
    public init(layers: Int = 6, heads: Int = 8, dModel: Int = 2048, dFF: Int = 4096, dropout: Float = 0.1) {
        self.layers = layers; self.heads = heads; self.dModel = dModel; self.dFF = dFF; self.dropout = dropout
    }
    enum CodingKeys: String, CodingKey { case layers, heads, dModel = "d_model", dFF = "d_ff", dropout }
}

/// The configuration of an `ADNNFER` network (SPEC §2 `model`), kept beside the model as MLX Swift
/// keeps model configurations with their models. Encodes with the SPEC's snake_case keys; absent
/// optional sections encode as explicit `null`.
public struct ADNNFERConfig: Codable, Equatable, Sendable {
    public init() {}
    /// `resnet50` or an EfficientNet name (`EfficientNetSpec.allNames`).
    public var backbone = "efficientnet_b5"
    public var inChans = 3
    public var inputSize = 224
    public var numClasses = 7
    public var dropRate: Float = 0.4
    public var dropPathRate: Float = 0.2
    public var cbam: CBAMConfig? = CBAMConfig()
    public var transformer: TransformerConfig? = TransformerConfig()
    /// timm/PyTorch backbone weights loaded before training (safetensors or `.pth`).
    public var pretrained: String? = nil
    enum CodingKeys: String, CodingKey {
        case backbone, inChans = "in_chans", inputSize = "input_size", numClasses = "num_classes", dropRate = "drop_rate"
        case dropPathRate = "drop_path_rate", cbam, transformer, pretrained
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(backbone, forKey: .backbone); try c.encode(inChans, forKey: .inChans)
        try c.encode(inputSize, forKey: .inputSize); try c.encode(numClasses, forKey: .numClasses)
        try c.encode(dropRate, forKey: .dropRate); try c.encode(dropPathRate, forKey: .dropPathRate)
        try c.encode(cbam, forKey: .cbam); try c.encode(transformer, forKey: .transformer)
        try c.encode(pretrained, forKey: .pretrained)
    }

    /// The first invalid setting as (key relative to `model.`, reason), or nil when the
    /// configuration can be built.
    public func firstProblem() -> (key: String, reason: String)? {
        if inChans != 1 && inChans != 3 { return ("in_chans", "must be 1 or 3") }
        if inputSize < 16 { return ("input_size", "must be at least 16") }
        if inputSize > 2048 { return ("input_size", "must be at most 2048, got \(inputSize)") }
        if numClasses < 2 { return ("num_classes", "must be at least 2") }
        if numClasses > 100_000 { return ("num_classes", "must be at most 100000, got \(numClasses)") }
        if !(dropRate.isFinite && dropRate >= 0 && dropRate < 1) { return ("drop_rate", "must be in [0, 1), got \(dropRate)") }
        if !(dropPathRate.isFinite && dropPathRate >= 0 && dropPathRate < 1) {
            return ("drop_path_rate", "must be in [0, 1), got \(dropPathRate)")
        }
        if let c = cbam {
            if !(1...1024).contains(c.reduction) { return ("cbam.reduction", "must be 1…1024, got \(c.reduction)") }
            if !(1...15).contains(c.kernelSize) || c.kernelSize % 2 == 0 {
                return ("cbam.kernel_size", "must be odd and 1…15, got \(c.kernelSize)")
            }
        }
        if let t = transformer {
            if !(1...128).contains(t.layers) { return ("transformer.layers", "must be 1…128, got \(t.layers)") }
            if !(1...65_536).contains(t.dModel) { return ("transformer.d_model", "must be 1…65536, got \(t.dModel)") }
            if !(1...1024).contains(t.heads) { return ("transformer.heads", "must be 1…1024, got \(t.heads)") }
            if !(1...262_144).contains(t.dFF) { return ("transformer.d_ff", "must be 1…262144, got \(t.dFF)") }
            if !(t.dropout.isFinite && t.dropout >= 0 && t.dropout < 1) { return ("transformer.dropout", "must be in [0, 1), got \(t.dropout)") }
        }
        if backbone != "resnet50" && EfficientNetSpec.named(backbone) == nil {
            return ("backbone", "'\(backbone)' is not one of resnet50, \(EfficientNetSpec.allNames.joined(separator: ", "))")
        }
        if let t = transformer, t.dModel % t.heads != 0 { return ("transformer.heads", "must divide d_model") }
        return nil
    }
}
