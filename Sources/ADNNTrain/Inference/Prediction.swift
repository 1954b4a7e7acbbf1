import Foundation
import ADNN
import ADNNData

/// One classified region of an image: the whole image, or a detected and aligned face.
public struct FacePrediction {
    /// `[x1, y1, x2, y2]` in image pixels.
    public var box: [Float]
    /// Detector score (nil for the whole image).
    public var score: Float?
    /// Softmax probabilities in the classifier's class order.
    public var probabilities: [Float]
    /// The most probable class.
    public var label: String
}

/// When `adnn predict` looks for faces.
public enum FaceSearch: String, CaseIterable, Sendable {
    /// Photos larger than twice the model input (or any image when the checkpoint's
    /// `data.face_align` is on) are searched for faces; an image where none is found, and a small
    /// image (already a face crop), is classified whole.
    case auto
    /// Every image is searched; an image with no face gets "no face found".
    case always
    /// Every image is classified whole.
    case never
}

/// `adnn predict`: classifies images with a checkpoint (by default the shipped model), per detected
/// and aligned face in photos.
public struct PredictionRequest {
    /// Checkpoint files or shipped model names (`ShippedModel`); several make an ensemble whose
    /// probabilities are averaged; none: the default shipped model.
    public var models: [String]
    public var images: [String]
    public var json: Bool
    /// Classes in each text line.
    public var top: Int
    /// Where to look for faces.
    public var faces: FaceSearch
    /// RetinaFace weights (default: `defaultDetectorPath()`).
    public var detector: String?
    /// Per-image timing on stderr.
    public var timing: Bool
    /// Test-time augmentation per face.
    public var tta: TestTimeAugmentation

    public init(checkpoint: String?, images: [String], json: Bool = false, top: Int = 3, faces: FaceSearch = .auto,
                detector: String? = nil, timing: Bool = false, tta: TestTimeAugmentation = .none) {
        self.init(models: checkpoint.map { [$0] } ?? [], images: images, json: json, top: top, faces: faces,
                  detector: detector, timing: timing, tta: tta)
    }

    public init(models: [String], images: [String], json: Bool = false, top: Int = 3, faces: FaceSearch = .auto,
                detector: String? = nil, timing: Bool = false, tta: TestTimeAugmentation = .none) {
        self.models = models; self.images = images; self.json = json; self.top = top; self.faces = faces
        self.detector = detector; self.timing = timing; self.tta = tta
    }

    /// Classifies every image and prints one line per face (JSON lines with `json`).
    /// - Returns: the predictions per image, in order.
    @discardableResult
    public func run() throws -> [[FacePrediction]] {
        guard top >= 1 else { throw ADNNError.invalid("--top \(top): must be positive") }
        guard !images.isEmpty else { throw ADNNError.invalid("no images given") }
        let classifier = try ImageClassifier(checkpoints: try ShippedModel.resolve(all: models))
        let classes = classifier.classes
        let cropper = faces == .never ? nil : try FaceCropper(weights: detector ?? defaultDetectorPath())
        var totals = (decode: 0.0, detect: 0.0, classify: 0.0, frames: 0)
        var all: [[FacePrediction]] = []
        // The weights stay fixed for the whole command: detector and classifier pack theirs once, and only
        // the packed copy of a packed weight stays resident (the models run on this thread alone).
        try withFrozenWeights(releasingWeights: true) {
        for path in images {
            let t0 = Date()
            let img = try ADNNData.loadImage(path)
            let t1 = Date()
            var regions: [(box: [Float], score: Float?, image: PixelImage)] = []
            let search = faces == .always || classifier.config.data.faceAlign
                || max(img.width, img.height) > 2 * classifier.cropSize
            if let cropper, search {
                regions = cropper.faces(in: img, size: classifier.cropSize).map { ($0.detection.box, $0.detection.score, $0.crop) }
            }
            let whole = regions.isEmpty && faces != .always
            if whole { regions = [([0, 0, Float(img.width), Float(img.height)], nil, img)] }
            let t2 = Date()
            var faceObjects: [[String: Any]] = [], text: [String] = [], predictions: [FacePrediction] = []
            // All faces of the photo in batches of up to 64 (a group photo: one forward per 64 faces).
            var probabilities: [[Float]] = []
            for start in stride(from: 0, to: regions.count, by: 64) {
                probabilities += try classifier.probabilities(
                    batch: regions[start..<min(start + 64, regions.count)].map { $0.image }, tta: tta)
            }
            for (r, p) in zip(regions, probabilities) {
                let best = p.indices.max { p[$0] < p[$1] } ?? 0
                predictions.append(FacePrediction(box: r.box, score: r.score, probabilities: p, label: classes[best]))
                var probs: [String: Double] = [:]
                for (i, name) in classes.enumerated() { probs[name] = Double(p[i]) }
                var face: [String: Any] = ["box": r.box.map { Double($0) }, "label": classes[best], "probs": probs]
                if let score = r.score { face["score"] = Double(score) }
                faceObjects.append(face)
                let order = p.indices.sorted { p[$0] > p[$1] }.prefix(top)
                let place = whole ? "" : String(format: " [%.0f,%.0f,%.0f,%.0f]", r.box[0], r.box[1], r.box[2], r.box[3])
                text.append(place + " " + order.map { String(format: "%@ %.3f", classes[$0], p[$0]) }.joined(separator: ", "))
            }
            let t3 = Date()
            all.append(predictions)
            totals.decode += t1.timeIntervalSince(t0); totals.detect += t2.timeIntervalSince(t1)
            totals.classify += t3.timeIntervalSince(t2); totals.frames += 1
            if timing {
                printError(String(format: "%@ (%d×%d): decode %.1f ms, detect+align %.1f ms, classify %.1f ms (%d faces)",
                    path, img.width, img.height, t1.timeIntervalSince(t0) * 1000, t2.timeIntervalSince(t1) * 1000,
                    t3.timeIntervalSince(t2) * 1000, regions.count))
            }
            if json { print(jsonLine(["image": path, "faces": faceObjects])) }
            else if text.isEmpty { print("\(path): no face found") }
            else { for t in text { print("\(path):" + t) } }
        }
        }
        if timing && totals.frames > 0 {
            let per = (totals.detect + totals.classify) / Double(totals.frames)
            printError(String(format: "mean per frame: detect+align %.1f ms, classify %.1f ms → %.1f frames/s (decode %.1f ms not counted)",
                totals.detect / Double(totals.frames) * 1000, totals.classify / Double(totals.frames) * 1000, 1 / per,
                totals.decode / Double(totals.frames) * 1000))
        }
        return all
    }
}
