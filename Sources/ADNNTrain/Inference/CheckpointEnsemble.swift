import Foundation
import ADNN
import ADNNData

/// One or more checkpoints of the same task whose softmax probabilities are averaged: a deep
/// ensemble (Lakshminarayanan et al. 2017, https://arxiv.org/abs/1612.01474). With one member it
/// is that checkpoint. `adnn eval --checkpoint A --checkpoint B`, `adnn predict --model A --model B`
/// and a shipped model made of several files (`ShippedModel.fileNames`) all open one of these.
///
/// The members must agree on the task: class names and count. Each member keeps its own input
/// (size, channels) and evaluation transform (mean, std, CLAHE): members that share a transform are
/// one `group` and see one decoded batch; a 96-px and a 72-px model each get their own. Each member
/// also keeps its own softmax temperature (`adnn calibrate`). Architecture, training recipe and
/// data may differ.
public struct CheckpointEnsemble {
    /// The member files, in the order given.
    public let paths: [String]
    public let checkpoints: [Checkpoint]
    /// The members' models, in eval mode.
    public let models: [ADNNFER]

    /// Members that share one evaluation transform: they see the same decoded, normalised batch.
    public struct Group {
        /// The transform (input size, channels, normalisation) of these members.
        public let transform: TransformConfig
        /// Indices into `models` / `paths`.
        public let members: [Int]
    }

    /// The members grouped by evaluation transform, in order of first appearance.
    public let groups: [Group]

    static func grouped(_ checkpoints: [Checkpoint]) -> [Group] {
        var out: [Group] = []
        for (i, ck) in checkpoints.enumerated() {
            let t = evalTransform(ck.config)
            if let g = out.firstIndex(where: { $0.transform == t }) {
                out[g] = Group(transform: t, members: out[g].members + [i])
            } else {
                out.append(Group(transform: t, members: [i]))
            }
        }
        return out
    }

    /// The largest input side of any member (face crops are cut at this size and resized per member).
    public var largestInput: Int { checkpoints.map(\.config.model.inputSize).max() ?? 0 }

    /// The members' files joined with " + " (for messages).
    public var name: String { paths.joined(separator: " + ") }

    /// Reads every member; a missing, bad or mismatched one is one error naming the file.
    public init(_ paths: [String]) throws {
        guard !paths.isEmpty else { throw ADNNError.invalid("no checkpoint given") }
        var seen = Set<String>()
        for p in paths {
            guard FileManager.default.fileExists(atPath: p) else { throw ADNNError.io("\(p): no such checkpoint") }
            let key = URL(fileURLWithPath: p).standardizedFileURL.resolvingSymlinksInPath().path
            guard seen.insert(key).inserted else { throw ADNNError.invalid("\(p): given twice (an ensemble's members must differ)") }
        }
        var cks: [Checkpoint] = [], models: [ADNNFER] = []
        for p in paths {
            let ck = try Checkpoint.read(p)
            if let first = cks.first, let why = Self.mismatch(ck, first) {
                throw ADNNError.invalid("\(p): \(why) differs from \(paths[0]) (the members of an ensemble must share their classes)")
            }
            cks.append(ck); models.append(try ck.makeModel(source: p))
        }
        self.paths = paths; checkpoints = cks; self.models = models
        groups = Self.grouped(cks)
    }

    /// Class probabilities `[N, K]` of decoded images, averaged over every member and view: each
    /// group prepares the images with its own transform; each member weighs the same.
    public func probabilities(images: [PixelImage], tta: TestTimeAugmentation = .none) -> [Float] {
        guard !images.isEmpty else { return [] }
        var sum: [Float] = []
        for g in groups {
            let t = g.transform
            var data: [Float] = []
            data.reserveCapacity(images.count * t.size * t.size * t.channels)
            for im in images { data += t.tensorData(for: im) }
            let x = Tensor(data, shape: [images.count, t.size, t.size, t.channels])
            let p = tta.probabilities(g.members.map { models[$0] }, x).scalars
            sum = Self.accumulate(sum, p, weight: Float(g.members.count) / Float(models.count))
        }
        return sum
    }

    /// `sum + weight · p` (just `weight · p` when `sum` is empty; `p` alone when the weight is 1).
    static func accumulate(_ sum: [Float], _ p: [Float], weight: Float) -> [Float] {
        if sum.isEmpty { return weight == 1 ? p : p.map { $0 * weight } }
        return zip(sum, p).map { $0 + weight * $1 }
    }

    /// What `b` disagrees with `a` on, nil when their outputs can be averaged.
    static func mismatch(_ b: Checkpoint, _ a: Checkpoint) -> String? {
        let ma = a.config.model, mb = b.config.model
        if mb.numClasses != ma.numClasses { return "model.num_classes (\(mb.numClasses) vs \(ma.numClasses))" }
        if b.classes != a.classes { return "the class names (\(b.classes.joined(separator: ",")) vs \(a.classes.joined(separator: ",")))" }
        return nil
    }
}

/// The most probable class of each row of `[n, k]` probabilities.
func rowArgmax(_ probs: [Float], classes k: Int) -> [Int] {
    (0..<(k > 0 ? probs.count / k : 0)).map { i in (0..<k).max { probs[i * k + $0] < probs[i * k + $1] } ?? 0 }
}

/// `predictions.json`: the true labels, argmax predictions (`rowArgmax`) and per-image probabilities
/// (6 decimals) of an evaluation, as `adnn train` writes it and `adnn report` reads it.
func predictionsJSON(probabilities probs: [Float], labels: [Int], predictions: [Int], classes k: Int) -> String {
    let rows = (0..<labels.count).map { i in (0..<k).map { (Double(probs[i * k + $0]) * 1e6).rounded() / 1e6 } }
    return jsonLine(["labels": labels, "predictions": predictions, "probabilities": rows])
}
