import Foundation
import ADNN
import ADNNData
import ADNNKernels

/// `adnn explain`: Grad-CAM or Kernel SHAP heat maps of a checkpoint's predictions, written as PNG
/// overlays on the model's view of each image (SPEC §5), with one JSON line per image.
public struct ExplanationRequest {
    public var checkpoint: String
    public var method: String
    public var target: String?
    public var grid: Int
    public var samples: Int
    public var seed: Int
    public var alpha: Double
    public var align: Bool
    public var detector: String?
    public var json: Bool
    public var out: String
    public var images: [String]

    public init(checkpoint: String, method: String, target: String? = nil, grid: Int = 8, samples: Int = 512, seed: Int = 0, alpha: Double = 0.5, align: Bool = false, detector: String? = nil, json: Bool = false, out: String, images: [String]) {
        self.checkpoint = checkpoint; self.method = method; self.target = target; self.grid = grid; self.samples = samples; self.seed = seed; self.alpha = alpha; self.align = align; self.detector = detector; self.json = json; self.out = out; self.images = images
    }


    /// Shortest side of the written overlays: the model input is scaled up by a whole factor to reach it.
    public static let minimumOverlaySide = 224

    public func run() throws {
        do {
            guard ["gradcam", "shap"].contains(method) else { throw ADNNError.invalid("--method \(method): expected gradcam or shap") }
            guard alpha >= 0 && alpha <= 1 else { throw ADNNError.invalid("--alpha \(alpha): must be in 0…1") }
            guard samples >= 1 else { throw ADNNError.invalid("--samples \(samples): must be ≥ 1") }
            let classifier = try ImageClassifier(checkpoint: checkpoint)
            let model = classifier.model, transform = classifier.transform, classes = classifier.classes
            let s = classifier.size
            guard method != "shap" || (1...s).contains(grid) else { throw ADNNError.invalid("--grid \(grid): must be 1…\(s) (model.input_size)") }
            let targetIndex = try target.map { try Self.classIndex(named: $0, in: classes) }
            let useAlign = align || classifier.checkpoint.config.data.faceAlign
            let cropper = useAlign ? try FaceCropper(weights: detector ?? defaultDetectorPath()) : nil
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            } catch {
                throw ADNNError.io("\(out): cannot create output folder: \(error.localizedDescription)")
            }
            let jsonlPath = (out as NSString).appendingPathComponent("explain.jsonl")
            var jsonl = ""
            var usedNames = Set<String>()
            let scale = (Self.minimumOverlaySide + s - 1) / s
            let side = s * scale
            var totalSeconds = 0.0
            for path in images {
                let img = try ADNNData.loadImage(path)
                var region = img
                var box: [Float]? = nil
                if let cropper {
                    if let face = cropper.faces(in: img, size: s).first {
                        region = face.crop; box = face.detection.box
                    } else {
                        FileHandle.standardError.write(Data("note: \(path): no face found; explaining the whole image\n".utf8))
                    }
                }
                let x = classifier.input(region)
                let started = Date()
                let heat: [Float], smooth: Bool, colorMap: ColorMap, explained: Int, probs: [Float]
                if method == "gradcam" {
                    let r = GradCAM(model: model).explain(x, target: targetIndex)
                    heat = r.heatMap; smooth = true; colorMap = .jet; explained = r.target; probs = r.probabilities
                } else {
                    let r = ImageSHAP(model: model, grid: grid, samples: samples, seed: UInt64(truncatingIfNeeded: seed))
                        .explain(x, target: targetIndex)
                    let peak = r.values.map { abs($0) }.max() ?? 0
                    heat = peak > 0 ? r.heatMap.map { $0 / peak } : r.heatMap
                    smooth = false; colorMap = .blueWhiteRed; explained = r.target; probs = r.probabilities
                }
                let seconds = Date().timeIntervalSince(started)
                totalSeconds += seconds
                let view = transform.prepare(region).resized(width: side, height: side, mode: transform.resizeMode)
                let overlay = view.overlaid(heatMap: heat, mapWidth: s, mapHeight: s, colorMap: colorMap,
                                            alpha: Float(alpha), smooth: smooth)
                let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
                var name = "\(stem)_\(method).png"
                var k = 2
                while usedNames.contains(name) { name = "\(stem)-\(k)_\(method).png"; k += 1 }
                usedNames.insert(name)
                let output = (out as NSString).appendingPathComponent(name)
                try savePNG(overlay, to: output)
                var probMap: [String: Double] = [:]
                for (i, cls) in classes.enumerated() { probMap[cls] = Double(probs[i]) }
                var obj: [String: Any] = ["image": path, "method": method, "target": classes[explained], "probs": probMap, "output": output]
                if let box { obj["box"] = box.map { Double($0) } }
                let line = jsonLine(obj)
                jsonl += line + "\n"
                if json {
                    print(line)
                } else {
                    print(String(format: "%@: %@ %@ (p %.3f) → %@ [%.0f ms]", path, method, classes[explained], probs[explained],
                                 output, seconds * 1000))
                }
            }
            do {
                try jsonl.write(toFile: jsonlPath, atomically: true, encoding: .utf8)
            } catch {
                throw ADNNError.io("\(jsonlPath): cannot write: \(error.localizedDescription)")
            }
            if !json && images.count > 1 {
                print(String(format: "%@: %.0f ms per image (explanation only, %d images)", method, totalSeconds * 1000 / Double(images.count),
                             images.count))
            }
        }
    }

    /// The index of class `name` among `classes`: exact, else by canonical emotion name
    /// (`happy` finds `happiness`), else a class number.
    public static func classIndex(named name: String, in classes: [String]) throws -> Int {
        if let i = classes.firstIndex(of: name) { return i }
        if let e = Emotion(synonym: name), let i = classes.firstIndex(where: { Emotion(synonym: $0) == e }) { return i }
        if let i = Int(name), classes.indices.contains(i) { return i }
        throw ADNNError.invalid("--target \(name): unknown class; the model has \(classes.joined(separator: ", "))")
    }
}
