import Foundation
import ADNN
import ADNNData

/// Opens the data set for a config (`--data` path, or the built-in synthetic set).
func openDataset(_ cfg: Config, path: String?) throws -> Dataset {
    let format: DatasetFormat? = cfg.data.format == "auto" ? nil : DatasetFormat(rawValue: cfg.data.format)
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
func evalTransform(_ cfg: Config) -> TransformConfig {
    TransformConfig(size: cfg.model.inputSize, channels: cfg.model.inChans, clahe: cfg.data.clahe,
                    mean: cfg.data.mean, std: cfg.data.std)
}

/// Training augmentation of a config (SPEC §2 `augment`).
func augmentConfig(_ cfg: Config) -> AugmentConfig {
    let a = cfg.augment
    return AugmentConfig(hflip: Double(a.hflip), crop: Double(a.crop), colorJitter: Double(a.colorJitter), rotate: Double(a.rotate),
                         rotateDegrees: Double(a.rotateDegrees), noise: Double(a.noise), cutout: Double(a.cutout),
                         mixup: Double(a.mixup), mixupAlpha: Double(a.mixupAlpha))
}

/// Adapts a `DataLoader` to the trainer's `BatchProvider`, optionally mapping dataset labels to
/// model class indices (cross-dataset evaluation) and dropping samples the model cannot name.
final class LoaderProvider: BatchProvider {
    let loader: DataLoader
    let labelMap: [Int]?
    /// At most this many batches per epoch (`data.limit` images), nil for all.
    let maxBatches: Int?

    init(_ loader: DataLoader, labelMap: [Int]? = nil, limitImages: Int = 0) {
        self.loader = loader; self.labelMap = labelMap
        maxBatches = limitImages > 0 ? max(1, limitImages / loader.options.batchSize) : nil
    }

    func batchCount(epoch: Int) -> Int { min(loader.batchesPerEpoch, maxBatches ?? .max) }

    func batches(epoch: Int) -> AnyIterator<TrainBatch> {
        let seq = loader.batches(epoch: epoch)
        let map = labelMap
        var produced = 0
        let cap = maxBatches ?? .max
        return AnyIterator {
            while produced < cap, let b = seq.next() {
                produced += 1
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
                let targets = b.isMixed
                    ? BatchTargets(labels: lab, mixLabels: mix, lambda: Array(repeating: b.mixLambda, count: keep.count))
                    : BatchTargets(labels: lab)
                return TrainBatch(images: images, targets: targets)
            }
            return nil
        }
    }
}

/// Loader options from a config.
func loaderOptions(_ cfg: Config, train: Bool, batchSize: Int? = nil) -> LoaderOptions {
    LoaderOptions(batchSize: batchSize ?? cfg.data.batchSize, shuffle: train, dropLast: train, balanced: train && cfg.data.balanced,
                  workers: max(1, cfg.data.workers), seed: UInt64(cfg.seed))
}

/// A checkpoint opened for classifying single images (`adnn predict`, `adnn explain`): the model in
/// eval mode, its evaluation transform, class names and input geometry.
struct ImageClassifier {
    let checkpoint: Checkpoint
    let model: ADNNFER
    let transform: TransformConfig
    /// The checkpoint's class names (`class0`, `class1`, … when it has none).
    let classes: [String]
    /// `model.input_size` and `model.in_chans`.
    let size: Int, channels: Int

    /// Reads `path`; a missing or bad checkpoint is one error naming the file.
    init(checkpoint path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw ADNNError.io("\(path): no such checkpoint") }
        checkpoint = try Checkpoint.read(path)
        model = try checkpoint.makeModel()
        transform = evalTransform(checkpoint.config)
        classes = checkpoint.classes.isEmpty ? (0..<checkpoint.config.model.numClasses).map { "class\($0)" } : checkpoint.classes
        size = checkpoint.config.model.inputSize
        channels = checkpoint.config.model.inChans
    }

    /// The model input `[1, size, size, channels]` for an image (resized, CLAHE, normalised).
    func input(_ image: PixelImage) -> Tensor {
        Tensor(transform.tensorData(for: image), shape: [1, size, size, channels])
    }
}
