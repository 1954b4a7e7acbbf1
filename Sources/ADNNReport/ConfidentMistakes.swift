import Foundation
import ADNNTrain
import ADNN
import ADNNData

/// One wrongly classified image shown in a run report.
public struct ReportMistake {
    /// The image as the model sees it (PNG bytes).
    public var imagePNG: [UInt8]
    public var trueClass: String
    public var predictedClass: String
    /// The predicted class's probability.
    public var confidence: Double
    /// Optional Grad-CAM overlay of the predicted class (PNG bytes).
    public var overlayPNG: [UInt8]?
    /// Optional extra caption (file name, sample index).
    public var caption: String?

    public init(imagePNG: [UInt8], trueClass: String, predictedClass: String, confidence: Double,
                overlayPNG: [UInt8]? = nil, caption: String? = nil) {
        self.imagePNG = imagePNG; self.trueClass = trueClass; self.predictedClass = predictedClass
        self.confidence = confidence; self.overlayPNG = overlayPNG; self.caption = caption
    }
}

/// A checkpoint re-evaluated on a data-set split: per-image probabilities (for the reliability
/// diagram) and the most confident mistakes with Grad-CAM overlays of the predicted class.
public struct SplitAnalysis {
    /// Softmax probabilities, one row per image in split order.
    public var probabilities: [[Double]]
    public var labels: [Int]
    /// The most confident mistakes, most confident first.
    public var mistakes: [ReportMistake]
    /// The evaluated split.
    public var split: String

    /// Runs `checkpoint` (its evaluation transform: resize, CLAHE, normalisation from its config)
    /// over `split` of `dataset` (at most `limit` images when given) and explains the `count`
    /// most confident mistakes with ``GradCAM``; images are shown at ≥ `side` pixels.
    /// - Throws: `ReportError`/`ADNNError` naming the file when an image or the model cannot be used.
    public static func analyse(checkpoint: Checkpoint, dataset: Dataset, split: String, limit: Int? = nil,
                               count: Int = 12, side: Int = 96, batchSize: Int = 64) throws -> SplitAnalysis {
        let model = try checkpoint.makeModel()
        let cfg = checkpoint.config
        let transform = evalTransform(cfg)
        let classes = checkpoint.classes.isEmpty ? dataset.classes : checkpoint.classes
        guard classes.count == cfg.model.numClasses else {
            throw ReportError("checkpoint: \(classes.count) class names for model.num_classes \(cfg.model.numClasses)")
        }
        var samples = try dataset.split(split).samples
        if let limit, limit > 0 { samples = Array(samples.prefix(limit)) }
        let s = transform.size, c = transform.channels, k = cfg.model.numClasses
        var probabilities: [[Double]] = []
        probabilities.reserveCapacity(samples.count)
        var start = 0
        while start < samples.count {
            let end = min(start + batchSize, samples.count)
            var data = [Float]()
            data.reserveCapacity((end - start) * s * s * c)
            for i in start..<end { data += transform.tensorData(for: try dataset.loadImage(samples[i])) }
            let p = noGrad { model.probabilities(Tensor(data, shape: [end - start, s, s, c])).scalars }
            for i in 0..<(end - start) { probabilities.append((0..<k).map { Double(p[i * k + $0]) }) }
            start = end
        }
        let labels = samples.map(\.label)
        var wrong: [(index: Int, predicted: Int, confidence: Double)] = []
        for (i, row) in probabilities.enumerated() {
            var best = 0
            for j in 1..<k where row[j] > row[best] { best = j }
            if best != labels[i] { wrong.append((i, best, row[best])) }
        }
        wrong.sort { $0.confidence != $1.confidence ? $0.confidence > $1.confidence : $0.index < $1.index }
        let scale = max(1, (side + s - 1) / s)
        var mistakes: [ReportMistake] = []
        for w in wrong.prefix(count) {
            let image = try dataset.loadImage(samples[w.index])
            let x = Tensor(transform.tensorData(for: image), shape: [1, s, s, c])
            let cam = GradCAM(model: model).explain(x, target: w.predicted)
            let view = transform.prepare(image).resized(width: s * scale, height: s * scale, mode: transform.resizeMode)
            let overlay = view.overlaid(heatMap: cam.heatMap, mapWidth: s, mapHeight: s, colorMap: .jet, alpha: 0.45)
            let label = labels[w.index]
            let name = samples[w.index].source.path.map { ($0 as NSString).lastPathComponent } ?? "\(split) #\(w.index)"
            mistakes.append(ReportMistake(imagePNG: try encodePNG(view), trueClass: label < classes.count ? classes[label] : "\(label)",
                                          predictedClass: classes[w.predicted], confidence: w.confidence,
                                          overlayPNG: try encodePNG(overlay), caption: name))
        }
        return SplitAnalysis(probabilities: probabilities, labels: labels, mistakes: mistakes, split: split)
    }
}
