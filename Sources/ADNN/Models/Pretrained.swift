import Foundation

/// Loads a whole timm classifier checkpoint (safetensors with timm keys, e.g.
/// `tf_efficientnet_lite0.in1k.safetensors`) into an `ADNNFER` built without CBAM and transformer:
/// every backbone key `k` goes to `backbone.k`, and timm's classifier (`classifier.*` for EfficientNet,
/// `fc.*` for ResNet) goes to `head.*`. Names and shapes are checked strictly (BN
/// `num_batches_tracked` may be absent, as in PyTorch); errors name the file.
public func loadTimmClassifierWeights(into model: ADNNFER, from path: String) throws {
    switch try loadTimmWeights(into: model, tensors: try loadWeights(path), source: path) {
    case .loaded: return
    case .absent: throw ADNNError.invalid("\(path): has no classifier.* (or fc.*) tensors for the head")
    case .skipped(let why): throw ADNNError.invalid("\(path): \(why)")
    }
}

/// Loads timm backbone weights (strict, gray stems summed) and, when present, the timm classifier
/// (`classifier.*`, or `fc.*` for ResNet) into `head` when its shape fits; returns what happened to it.
@discardableResult
public func loadTimmWeights(into model: ADNNFER, tensors: [String: Tensor], source: String) throws -> HeadLoading {
    try model.loadPretrainedBackbone(tensors, source: source)
    for prefix in ["classifier.", "fc."] {
        guard let w = tensors[prefix + "weight"], let b = tensors[prefix + "bias"] else { continue }
        guard w.shape == model.head.weight.shape, b.shape == model.head.bias!.shape else {
            // An ImageNet classifier (1000 classes) for a 7-class FER head: the backbone is what is wanted.
            return .skipped("\(prefix)weight has shape \(w.shape) but the head is \(model.head.weight.shape) "
                            + "(model.num_classes \(model.config.numClasses), cbam \(model.config.cbam == nil ? "off" : "on"), "
                            + "transformer \(model.config.transformer == nil ? "off" : "on"))")
        }
        model.head.weight.assign(w); model.head.bias!.assign(b)
        return .loaded
    }
    return .absent
}

/// What `loadTimmWeights` did with the file's classifier.
public enum HeadLoading: Equatable, Sendable {
    /// The classifier fitted the head and was loaded.
    case loaded
    /// The file has no `classifier.*` / `fc.*`.
    case absent
    /// The classifier does not fit the head (why); the head keeps its fresh initialisation.
    case skipped(String)
}
