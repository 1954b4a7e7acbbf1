import Foundation
import ADNN
import ADNNData

/// `adnn eval`: a checkpoint on a data split (SPEC §5 eval JSON + Markdown table). Classes are
/// matched by canonical name, so a model trained on one data set can be evaluated on another with a
/// different label order; data-set classes the model lacks are reported and skipped.
public struct EvaluationRequest {
    /// The checkpoint; several make an ensemble whose probabilities are averaged (`CheckpointEnsemble`).
    public var checkpoints: [String]
    /// The first (or only) checkpoint.
    public var checkpoint: String { checkpoints.first ?? "" }
    public var data: String
    /// Split to evaluate (default: test if present, else val).
    public var split: String?
    /// Also write the eval JSON to this file.
    public var jsonPath: String?
    /// Also write the per-image labels, predictions and probabilities (`predictions.json` format) here.
    public var predictionsPath: String?
    public var batchSize: Int
    /// Test-time augmentation (flip or ten-crop).
    public var tta: TestTimeAugmentation

    public init(checkpoint: String, data: String, split: String? = nil, jsonPath: String? = nil, batchSize: Int = 64,
                tta: TestTimeAugmentation = .none) {
        self.init(checkpoints: [checkpoint], data: data, split: split, jsonPath: jsonPath, batchSize: batchSize, tta: tta)
    }

    public init(checkpoints: [String], data: String, split: String? = nil, jsonPath: String? = nil,
                predictionsPath: String? = nil, batchSize: Int = 64, tta: TestTimeAugmentation = .none) {
        self.checkpoints = checkpoints; self.data = data; self.split = split; self.jsonPath = jsonPath
        self.predictionsPath = predictionsPath; self.batchSize = batchSize; self.tta = tta
    }

    /// Evaluates, prints the table and returns the metrics with the eval JSON object.
    @discardableResult
    public func run(printing: Bool = true) throws -> (metrics: EvalMetrics, json: [String: Any]) {
        guard batchSize >= 1 else { throw ADNNError.invalid("--batch \(batchSize): must be positive") }
        let ensemble = try CheckpointEnsemble(checkpoints)
        let ck = ensemble.checkpoints[0]
        var cfg = ck.config
        cfg.data.format = .auto
        let dataset = try openDataset(cfg, path: data)
        let splitName = split ?? (dataset.splitNames.contains("test") ? "test" : "val")
        let classes = ck.classes.isEmpty ? dataset.classes : ck.classes
        let map = dataset.classes.map { name in classes.firstIndex(of: name) ?? -1 }
        let missing = dataset.classes.enumerated().filter { map[$0.offset] < 0 }.map { $0.element }
        if !missing.isEmpty && printing {
            print("note: the model has no class for \(missing.joined(separator: ", ")); those images are skipped")
        }
        let identity = map == Array(0..<map.count) && classes.count == dataset.classes.count
        // One pass over the split per input group (members sharing a transform see one decoded batch).
        var probs: [Float] = [], labels: [Int] = [], seconds = 0.0
        for group in ensemble.groups {
            let loader = try DataLoader(dataset: dataset, split: splitName, transform: group.transform, augment: nil,
                                        options: LoaderOptions(batchSize: batchSize, shuffle: false, workers: max(1, cfg.data.workers),
                                                               seed: UInt64(cfg.seed)))
            let provider = LoaderProvider(loader, labelMap: identity ? nil : map)
            let r = predictProbabilities(group.members.map { ensemble.models[$0] }, provider, tta: tta)
            if let why = provider.failure { throw ADNNError.invalid(why) }
            if !probs.isEmpty && r.labels != labels {
                throw ADNNError.invalid("\(data): split \(splitName) read differently for two input sizes of the ensemble")
            }
            labels = r.labels
            probs = CheckpointEnsemble.accumulate(probs, r.probs, weight: Float(group.members.count) / Float(ensemble.models.count))
            seconds += Double(r.labels.count) / max(r.imagesPerSecond, 1e-9)
        }
        let ips = Double(labels.count) / max(seconds, 1e-9)
        guard probs.allSatisfy({ $0.isFinite }) else {
            throw ADNNError.invalid("\(ensemble.name): the model's outputs are not finite (damaged weights?)")
        }
        guard !labels.isEmpty else { throw ADNNError.invalid("\(data): no images of classes the model knows in split \(splitName)") }
        let m = EvalMetrics(probabilities: probs, labels: labels, classes: classes)
        var obj = m.json(dataset: dataset.root, split: splitName, imagesPerSecond: ips)
        obj["checkpoint"] = checkpoint
        if checkpoints.count > 1 { obj["checkpoints"] = checkpoints }
        obj["tta"] = tta.rawValue
        if !missing.isEmpty { obj["classes_missing_in_model"] = missing }
        if let jsonPath { try writeText(jsonLine(obj), to: jsonPath, option: "--json") }
        if let predictionsPath {
            let k = probs.count / max(1, labels.count)
            try writeText(predictionsJSON(probabilities: probs, labels: labels, predictions: rowArgmax(probs, classes: k), classes: k),
                          to: predictionsPath, option: "--predictions")
        }
        if printing {
            let title = checkpoints.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: " + ")
            print(m.markdown(title: "\(title) on \(dataset.root) \(splitName)"))
            print(String(format: "%.1f images/s%@%@", ips, tta == .none ? "" : " (with \(tta.rawValue) TTA, \(tta.views) views)",
                         checkpoints.count > 1 ? " (ensemble of \(checkpoints.count))" : ""))
        }
        return (m, obj)
    }
}

/// Writes `text` atomically; a failure is one line naming the option and the file.
private func writeText(_ text: String, to path: String, option: String) throws {
    do { try text.write(toFile: path, atomically: true, encoding: .utf8) }
    catch { throw ADNNError.io("\(option) \(path): cannot write: \(error.localizedDescription)") }
}
