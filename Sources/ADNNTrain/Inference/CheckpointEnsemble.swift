import Foundation
import ADNN

/// One or more checkpoints of the same task whose softmax probabilities are averaged: a deep
/// ensemble (Lakshminarayanan et al. 2017, https://arxiv.org/abs/1612.01474). With one member it
/// is that checkpoint. `adnn eval --checkpoint A --checkpoint B`, `adnn predict --model A --model B`
/// and a shipped model made of several files (`ShippedModel.fileNames`) all open one of these.
///
/// The members must agree on everything the caller shares between them: class names and count,
/// input size and channels, and the evaluation transform (mean, std, CLAHE), so one decoded and
/// normalised batch feeds every member. Architecture, training recipe and data may differ.
public struct CheckpointEnsemble {
    /// The member files, in the order given.
    public let paths: [String]
    public let checkpoints: [Checkpoint]
    /// The members' models, in eval mode.
    public let models: [ADNNFER]

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
                throw ADNNError.invalid("\(p): \(why) differs from \(paths[0]) (the members of an ensemble must share classes and input)")
            }
            cks.append(ck); models.append(try ck.makeModel(source: p))
        }
        self.paths = paths; checkpoints = cks; self.models = models
    }

    /// What `b` disagrees with `a` on, nil when they can share inputs and outputs.
    static func mismatch(_ b: Checkpoint, _ a: Checkpoint) -> String? {
        let ma = a.config.model, mb = b.config.model, da = a.config.data, db = b.config.data
        if mb.numClasses != ma.numClasses { return "model.num_classes (\(mb.numClasses) vs \(ma.numClasses))" }
        if b.classes != a.classes { return "the class names (\(b.classes.joined(separator: ",")) vs \(a.classes.joined(separator: ",")))" }
        if mb.inputSize != ma.inputSize { return "model.input_size (\(mb.inputSize) vs \(ma.inputSize))" }
        if mb.inChans != ma.inChans { return "model.in_chans (\(mb.inChans) vs \(ma.inChans))" }
        if db.mean != da.mean { return "data.mean (\(db.mean) vs \(da.mean))" }
        if db.std != da.std { return "data.std (\(db.std) vs \(da.std))" }
        if db.clahe != da.clahe { return "data.clahe (\(db.clahe) vs \(da.clahe))" }
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
