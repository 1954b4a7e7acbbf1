import Foundation
import ADNN
import ADNNData

/// Opens the data set for a config (`--data` path, or the built-in synthetic set).
public func openDataset(_ cfg: Config, path: String?) throws -> Dataset {
    // `--data PATH` names a real data set: a config that says `synthetic` then means "detect".
    let namesFiles = path.map { $0 != "synthetic" && !$0.hasPrefix("synthetic:") } ?? false
    let format = cfg.data.format == .synthetic && namesFiles ? nil : cfg.data.format.layout
    let p = path ?? (format == .synthetic ? "synthetic" : nil)
    guard let p else { throw ADNNError.invalid("no data: pass --data D (or set data.format: synthetic)") }
    let synth = SyntheticFaceConfig(size: 48, trainCount: cfg.data.syntheticCount, valCount: max(100, cfg.data.syntheticCount / 5),
                                    testCount: max(100, cfg.data.syntheticCount / 5), seed: UInt64(cfg.seed))
    let isSynthetic = p == "synthetic" || p.hasPrefix("synthetic:")
    if !isSynthetic && !FileManager.default.fileExists(atPath: p) { throw ADNNError.io("\(p): no such file or folder") }
    return try Dataset.load(p, options: DatasetOptions(format: isSynthetic ? .synthetic : format,
                                                       numClasses: cfg.model.numClasses, synthetic: synth))
}

/// Evaluation-time transform of a config (resize to the model input, CLAHE, normalisation).
public func evalTransform(_ cfg: Config) -> TransformConfig {
    TransformConfig(size: cfg.model.inputSize, channels: cfg.model.inChans, clahe: cfg.data.clahe,
                    mean: cfg.data.mean, std: cfg.data.std)
}

/// Training augmentation of a config (SPEC §2 `augment`).
public func augmentConfig(_ cfg: Config) -> AugmentConfig {
    let a = cfg.augment
    return AugmentConfig(hflip: Double(a.hflip), crop: Double(a.crop), colorJitter: Double(a.colorJitter), rotate: Double(a.rotate),
                         rotateDegrees: Double(a.rotateDegrees), noise: Double(a.noise), cutout: Double(a.cutout),
                         mixup: Double(a.mixup), mixupAlpha: Double(a.mixupAlpha))
}

/// Adapts a `DataLoader` to the trainer's `BatchProvider`, optionally mapping dataset labels to
/// model class indices (cross-dataset evaluation) and dropping samples the model cannot name.
public final class LoaderProvider: BatchProvider {
    public let loader: DataLoader
    public let labelMap: [Int]?
    /// At most this many batches per epoch (`data.limit` images), nil for all.
    public let maxBatches: Int?

    public init(_ loader: DataLoader, labelMap: [Int]? = nil, limitImages: Int = 0) {
        self.loader = loader; self.labelMap = labelMap
        maxBatches = limitImages > 0 ? max(1, limitImages / loader.options.batchSize) : nil
    }

    public func batchCount(epoch: Int) -> Int { min(loader.batchesPerEpoch, maxBatches ?? .max) }

    public var failure: String? { loader.failure }

    public func batches(epoch: Int) -> AnyIterator<TrainBatch> {
        let seq = loader.batches(epoch: epoch)
        let map = labelMap
        var produced = 0
        let cap = maxBatches ?? .max
        return AnyIterator {
            while produced < cap, let b = seq.next() {
                produced += 1
                if self.loader.failure != nil { return nil }
                var keep = Array(0..<b.count)
                if let map { keep = keep.filter { map[b.labels[$0]] >= 0 } }
                if keep.isEmpty { continue }
                let per = b.height * b.width * b.channels
                let images: Tensor
                if keep.count == b.count {
                    images = Tensor(b.images, shape: b.shape)
                } else {
                    var buf = [Float](); buf.reserveCapacity(keep.count * per)
                    for i in keep { buf += b.images[(i * per)..<((i + 1) * per)] }
                    images = Tensor(buf, shape: [keep.count, b.height, b.width, b.channels])
                }
                let lab = keep.map { map?[b.labels[$0]] ?? b.labels[$0] }
                let mix = keep.map { map?[b.mixLabels[$0]] ?? b.mixLabels[$0] }
                var targets = b.isMixed
                    ? BatchTargets(labels: lab, mixLabels: mix, lambda: Array(repeating: b.mixLambda, count: keep.count))
                    : BatchTargets(labels: lab)
                if let d = b.distributions {
                    targets.distributions = Self.mapDistributions(d, rows: keep, classes: b.numClasses, map: map)
                }
                return TrainBatch(images: images, targets: targets)
            }
            return nil
        }
    }
}

extension LoaderProvider {
    /// The kept rows of `[rows, classes]` label distributions, moved to the model's classes by `map`
    /// (a class mapped to −1 loses its mass; each row is renormalised to sum 1).
    static func mapDistributions(_ d: [Float], rows keep: [Int], classes k: Int, map: [Int]?) -> [Float] {
        guard let map else {
            if keep.count * k == d.count { return d }
            return keep.flatMap { d[($0 * k)..<(($0 + 1) * k)] }
        }
        let out = (map.max() ?? -1) + 1
        var r = [Float](repeating: 0, count: keep.count * out)
        for (row, i) in keep.enumerated() {
            for c in 0..<k where map[c] >= 0 { r[row * out + map[c]] += d[i * k + c] }
            let sum = r[(row * out)..<((row + 1) * out)].reduce(0, +)
            if sum > 0 { for j in 0..<out { r[row * out + j] /= sum } }
        }
        return r
    }
}

/// Loader options from a config.
/// - Parameter shard: under data-parallel training, this rank's part of every batch (`rank`, `ranks`):
///   `batchSize` stays the global batch and the loader builds only this rank's slice of it.
public func loaderOptions(_ cfg: Config, train: Bool, batchSize: Int? = nil, shard: (rank: Int, ranks: Int) = (0, 1)) -> LoaderOptions {
    var o = LoaderOptions(batchSize: batchSize ?? cfg.data.batchSize, shuffle: train, dropLast: train, balanced: train && cfg.data.balanced,
                          workers: max(1, cfg.data.workers), seed: UInt64(cfg.seed))
    o.shardRank = shard.rank; o.shardCount = shard.ranks
    o.softLabels = train && cfg.data.softLabels
    return o
}

/// A checkpoint (or an ensemble of them, `CheckpointEnsemble`) opened for classifying single images
/// (`adnn predict`, `adnn video`, `adnn explain`): the models in eval mode, the evaluation
/// transform, class names and input geometry.
public struct ImageClassifier {
    /// The checkpoint file (the members joined with " + " for an ensemble).
    public let path: String
    /// The first member's checkpoint.
    public let checkpoint: Checkpoint
    /// The first member's model (the one `adnn explain` explains).
    public let model: ADNNFER
    /// Every member's model; probabilities are averaged over them.
    public let members: [ADNNFER]
    public let transform: TransformConfig
    /// The checkpoint's class names (`class0`, `class1`, … when it has none).
    public let classes: [String]
    /// The first member's `model.input_size` and `model.in_chans`.
    public let size: Int, channels: Int
    /// The side face crops are cut at: the largest input of any member (each member's transform
    /// resizes from there; for one model it is `size`).
    public let cropSize: Int
    /// Every member with its input group.
    public let ensemble: CheckpointEnsemble
    /// The run configuration stored in the checkpoint.
    public var config: Config { checkpoint.config }

    /// Reads `path`; a missing or bad checkpoint is one error naming the file.
    public init(checkpoint path: String) throws {
        try self.init(checkpoints: [path])
    }

    /// Reads every member of an ensemble; a missing, bad or mismatched one is one error naming the file.
    public init(checkpoints paths: [String]) throws {
        let ensemble = try CheckpointEnsemble(paths)
        path = ensemble.name
        checkpoint = ensemble.checkpoints[0]
        model = ensemble.models[0]
        members = ensemble.models
        self.ensemble = ensemble
        cropSize = ensemble.largestInput
        transform = evalTransform(checkpoint.config)
        let k = checkpoint.config.model.numClasses
        if !checkpoint.classes.isEmpty && checkpoint.classes.count != k {
            throw ADNNError.invalid("\(paths[0]): metadata names \(checkpoint.classes.count) classes for a \(k)-class model")
        }
        classes = checkpoint.classes.isEmpty ? (0..<k).map { "class\($0)" } : checkpoint.classes
        size = checkpoint.config.model.inputSize
        channels = checkpoint.config.model.inChans
    }

    /// The first member's input `[1, size, size, channels]` for an image (resized, CLAHE, normalised).
    public func input(_ image: PixelImage) -> Tensor {
        Tensor(transform.tensorData(for: image), shape: [1, size, size, channels])
    }

    /// Class probabilities of one image (or aligned face).
    /// - Throws: when the model's output is not finite (a damaged checkpoint), naming the file.
    public func probabilities(_ image: PixelImage, tta: TestTimeAugmentation = .none) throws -> [Float] {
        try probabilities(batch: [image], tta: tta)[0]
    }

    /// Class probabilities of several images in one forward pass per member `[N, classes]`.
    public func probabilities(batch images: [PixelImage], tta: TestTimeAugmentation = .none) throws -> [[Float]] {
        guard !images.isEmpty else { return [] }
        let p = ensemble.probabilities(images: images, tta: tta)
        guard p.allSatisfy({ $0.isFinite }) else { throw ADNNError.invalid("\(path): the model's outputs are not finite (damaged weights?)") }
        let k = classes.count
        return (0..<images.count).map { Array(p[($0 * k)..<(($0 + 1) * k)]) }
    }
}

/// A data set named on the command line (`adnn dataset`, `adnn preprocess`): where it is, its layout
/// (`auto` to detect) and the class count.
public struct DatasetSource {
    public var data: String
    public var format: String
    public var numClasses: Int?

    public init(data: String, format: String = "auto", numClasses: Int? = nil) {
        self.data = data; self.format = format; self.numClasses = numClasses
    }

    /// `format` as a layout; nil for `auto`.
    public func layout() throws -> DatasetFormat? {
        if format == "auto" { return nil }
        guard let f = DatasetFormat(rawValue: format) else {
            throw ADNNError.invalid("--format \(format): expected auto, \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return f
    }

    /// `DatasetOptions` for `Dataset.load`.
    public func loadOptions() throws -> DatasetOptions { DatasetOptions(format: try layout(), numClasses: numClasses) }
}
