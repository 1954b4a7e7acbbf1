import Foundation

/// Loads a whole timm classifier checkpoint (safetensors with timm keys, e.g.
/// `tf_efficientnet_lite0.in1k.safetensors`) into an `ADNNFER` built without CBAM and transformer:
/// every backbone key `k` goes to `backbone.k`, and timm's classifier (`classifier.*` for EfficientNet,
/// `fc.*` for ResNet) goes to `head.*`. Names and shapes are checked strictly (BN
/// `num_batches_tracked` may be absent, as in PyTorch); errors name the file.
public func loadTimmClassifierWeights(into model: ADNNFER, from path: String) throws {
    let file = try SafeTensors.read(path)
    var sd: [String: Tensor] = [:]
    for (k, v) in file.tensors {
        if k.hasPrefix("classifier.") {
            sd["head." + k.dropFirst("classifier.".count)] = v
        } else if k.hasPrefix("fc."), model.config.backbone == "resnet50" {
            sd["head." + k.dropFirst("fc.".count)] = v
        } else {
            sd["backbone." + k] = v
        }
    }
    do {
        try model.load(stateDict: sd, strict: true)
    } catch let e as StateDictError {
        throw ADNNError.invalid("\(path): does not fit an ADNN-FER \(model.config.backbone) classifier "
                                + "(\(model.config.numClasses) classes, cbam \(model.config.cbam == nil ? "off" : "on"), "
                                + "transformer \(model.config.transformer == nil ? "off" : "on")): \(e)")
    }
}
