import Foundation

/// One stage of a backbone: its blocks, the channels it ends with and the output stride at its end.
public struct BackboneStage {
    public let blocks: [Module]
    public let channels: Int
    /// Input pixels per feature-map cell after this stage (2, 4, 8, 16 or 32).
    public let outputStride: Int
    public init(blocks: [Module], channels: Int, outputStride: Int) {
        self.blocks = blocks; self.channels = channels; self.outputStride = outputStride
    }
}

/// A feature extractor the ADNN-FER assembly wraps. It says its stem, stages (with their strides) and
/// head, so layer-wise LR decay, the CBAM placement and the transformer's token grid are derived from
/// the structure rather than parsed from names or written into each model.
public protocol Backbone: Module {
    /// Modules before the first stage (stem conv and norm).
    var stemModules: [Module] { get }
    /// The stages in order.
    var stages: [BackboneStage] { get }
    /// Modules after the last stage (head conv and norm); empty when there are none.
    var headModules: [Module] { get }
    /// Channels of the final feature map.
    var featureChannels: Int { get }
    /// Head feature map `[N, h, w, featureChannels]`; `hook` may transform each stage's output.
    // x: [N, H, W, C]
    func features(_ x: Tensor, hook: (Int, Tensor) -> Tensor) -> Tensor
}

extension Backbone {
    /// Output stride of the final feature map.
    public var outputStride: Int { stages.last?.outputStride ?? 1 }

    /// Channels after each stage.
    public var stageChannels: [Int] { stages.map(\.channels) }

    /// The stage after which `cbam.stage` applies: the last one that ends at half the final output
    /// stride (stride 16: EfficientNet's stage 4, ResNet's `layer3`), the deepest map that still has
    /// four times the final resolution.
    public var attentionStageIndex: Int {
        stages.lastIndex { $0.outputStride * 2 == outputStride } ?? max(0, stages.count - 2)
    }

    /// Side of the final feature map for a square `input`: every stride-2 step rounds up, so it is
    /// ⌈input / outputStride⌉.
    public func featureSide(forInput input: Int) -> Int { (input + outputStride - 1) / outputStride }

    /// Depth of every trainable tensor for layer-wise LR decay: stem 0, stage s → s + 1, head
    /// modules `stages.count + 1`.
    public func layerDepths() -> [ObjectIdentifier: Int] {
        var depth: [ObjectIdentifier: Int] = [:]
        func mark(_ modules: [Module], _ d: Int) {
            for m in modules { for p in m.parameters() { depth[ObjectIdentifier(p)] = d } }
        }
        mark(stemModules, 0)
        for (s, stage) in stages.enumerated() { mark(stage.blocks, s + 1) }
        mark(headModules, stages.count + 1)
        return depth
    }
}
