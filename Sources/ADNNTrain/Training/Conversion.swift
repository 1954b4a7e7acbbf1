import Foundation
import ADNN
import ADNNData
import ADNNKernels

/// `adnn convert`: timm/PyTorch weights (safetensors or .pth) into an adnn checkpoint for a config —
/// backbone keys go under `backbone.`, a matching `classifier.*`/`fc.*` becomes `head.*`.
public struct ConversionRequest {
    public var config: String
    public var weights: String
    public var out: String
    public var classes: String?
    /// Replace an existing `out` file.
    public var force: Bool

    public init(config: String, weights: String, out: String, classes: String? = nil, force: Bool = false) {
        self.config = config; self.weights = weights; self.out = out; self.classes = classes; self.force = force
    }

    public func run() throws {
        do {
            if FileManager.default.fileExists(atPath: out) && !force {
                throw ADNNError.io("\(out): exists; pass --force to replace it")
            }
            let cfg = try loadConfig(config)
            let model = try ADNNFER(cfg.model)
            let tensors = try loadWeights(weights)
            let head = try loadTimmWeights(into: model, tensors: tensors, source: weights)
            var names = (0..<cfg.model.numClasses).map(String.init)
            if let classes {
                guard let text = try? String(contentsOfFile: classes, encoding: .utf8) else { throw ADNNError.io("\(classes): cannot read") }
                let list = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                guard list.count == cfg.model.numClasses else {
                    throw ADNNError.invalid("\(classes): \(list.count) names for \(cfg.model.numClasses) classes")
                }
                names = list
            }
            try Checkpoint(tensors: model.stateDict(), config: cfg, classes: names, epoch: 0, metric: 0).write(to: out)
            switch head {
            case .loaded: print("wrote \(out): backbone from \(weights) with its classifier as head")
            case .absent: print("wrote \(out): backbone from \(weights), head freshly initialised")
            case .skipped(let why): print("wrote \(out): backbone from \(weights), head freshly initialised (\(why))")
            }
        }
    }
}
