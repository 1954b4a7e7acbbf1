import Foundation
import ArgumentParser
import ADNN
import ADNNData

/// `adnn eval`: evaluates a checkpoint on a data split (SPEC §5 eval JSON + Markdown table).
/// Classes are matched by canonical name, so a model trained on one data set can be evaluated on
/// another with a different label order; data-set classes the model lacks are reported and skipped.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval",
        abstract: "Evaluate a checkpoint: accuracy, macro-F1, balanced accuracy, AUC, per-class table, confusion.")

    @Option(help: "Checkpoint (.safetensors written by adnn train).") var checkpoint: String
    @Option(help: "Data set folder or CSV (or 'synthetic').") var data: String
    @Option(help: "Split to evaluate (default: test if present, else val).") var split: String?
    @Option(help: "Write the eval JSON to this file.") var json: String?
    @Option(help: "Batch size.") var batch: Int = 64
    @Flag(help: "Horizontal-flip test-time augmentation.") var tta = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            threads.apply()
            guard FileManager.default.fileExists(atPath: checkpoint) else { throw ADNNError.io("\(checkpoint): no such checkpoint") }
            let ck = try Checkpoint.read(checkpoint)
            let model = try ck.makeModel()
            var cfg = ck.config
            cfg.data.format = "auto"
            let dataset = try openDataset(cfg, path: data)
            let splitName = split ?? (dataset.splitNames.contains("test") ? "test" : "val")
            let classes = ck.classes.isEmpty ? dataset.classes : ck.classes
            let map = dataset.classes.map { classes.firstIndex(of: $0) ?? -1 }
            let missing = dataset.classes.enumerated().filter { map[$0.offset] < 0 }.map { $0.element }
            if !missing.isEmpty {
                print("note: the model has no class for \(missing.joined(separator: ", ")); those images are skipped")
            }
            let loader = try DataLoader(dataset: dataset, split: splitName, transform: evalTransform(cfg), augment: nil,
                                        options: LoaderOptions(batchSize: batch, shuffle: false, workers: max(1, cfg.data.workers),
                                                               seed: UInt64(cfg.seed)))
            let identity = map == Array(0..<map.count) && classes.count == dataset.classes.count
            let provider = LoaderProvider(loader, labelMap: identity ? nil : map)
            let (probs, labels, ips) = predictProbabilities(model, provider, hflipTTA: tta)
            guard !labels.isEmpty else { throw ADNNError.invalid("\(data): no images of classes the model knows in split \(splitName)") }
            let m = EvalMetrics(probabilities: probs, labels: labels, classes: classes)
            var obj = m.json(dataset: dataset.root, split: splitName, imagesPerSecond: ips)
            obj["checkpoint"] = checkpoint
            if !missing.isEmpty { obj["classes_missing_in_model"] = missing }
            if let json { try jsonLine(obj).write(toFile: json, atomically: true, encoding: .utf8) }
            print(m.markdown(title: "\(URL(fileURLWithPath: checkpoint).lastPathComponent) on \(dataset.root) \(splitName)"))
            print(String(format: "%.1f images/s%@", ips, tta ? " (with flip TTA)" : ""))
        }
    }
}

/// `adnn predict`: classifies images with a checkpoint; one JSON line per image (SPEC §5).
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict",
        abstract: "Classify images with a checkpoint; one JSON line per image.")

    @Option(help: "Checkpoint (.safetensors).") var checkpoint: String
    @Argument(help: "Image files (JPEG or PNG).") var images: [String]
    @Flag(help: "Print JSON lines (default: a short text line per image).") var json = false
    @Option(help: "Number of top classes in text output.") var top: Int = 3
    @Flag(help: "Detect and align every face (RetinaFace) and classify each; default: the config's data.face_align.") var align = false
    @Option(help: "RetinaFace weights for --align (default: ADNN_RETINAFACE or ../shared/models/retinaface_mobilenet0.25.safetensors).")
    var detector: String?
    @Flag(help: "Print per-image time for decode, detection + alignment and classification, and frames per second.") var timing = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            threads.apply()
            let classifier = try ImageClassifier(checkpoint: checkpoint)
            let model = classifier.model, classes = classifier.classes, s = classifier.size
            let useAlign = align || classifier.checkpoint.config.data.faceAlign
            let cropper = useAlign ? try FaceCropper(weights: detector ?? defaultDetectorPath()) : nil
            var totals = (decode: 0.0, detect: 0.0, classify: 0.0, frames: 0)
            for path in images {
                let t0 = Date()
                let img = try ADNNData.loadImage(path)
                let t1 = Date()
                var regions: [(box: [Float], score: Float?, image: PixelImage)] = []
                if let cropper {
                    regions = cropper.faces(in: img, size: s).map { ($0.detection.box, $0.detection.score, $0.crop) }
                } else {
                    regions = [([0, 0, Float(img.width), Float(img.height)], nil, img)]
                }
                let t2 = Date()
                var faces: [[String: Any]] = []
                var text: [String] = []
                for r in regions {
                    let x = classifier.input(r.image)
                    let p = noGrad { model(x).softmax(axis: -1) }.scalars
                    let best = p.indices.max { p[$0] < p[$1] }!
                    var probs: [String: Double] = [:]
                    for (i, name) in classes.enumerated() { probs[name] = Double(p[i]) }
                    var face: [String: Any] = ["box": r.box.map { Double($0) }, "label": classes[best], "probs": probs]
                    if let score = r.score { face["score"] = Double(score) }
                    faces.append(face)
                    let order = p.indices.sorted { p[$0] > p[$1] }.prefix(top)
                    let where_ = cropper == nil ? "" : String(format: " [%.0f,%.0f,%.0f,%.0f]", r.box[0], r.box[1], r.box[2], r.box[3])
                    text.append(where_ + " " + order.map { String(format: "%@ %.3f", classes[$0], p[$0]) }.joined(separator: ", "))
                }
                let t3 = Date()
                totals.decode += t1.timeIntervalSince(t0); totals.detect += t2.timeIntervalSince(t1)
                totals.classify += t3.timeIntervalSince(t2); totals.frames += 1
                if timing {
                    FileHandle.standardError.write(Data(String(format: "%@ (%d×%d): decode %.1f ms, detect+align %.1f ms, classify %.1f ms (%d faces)\n",
                        path, img.width, img.height, t1.timeIntervalSince(t0) * 1000, t2.timeIntervalSince(t1) * 1000,
                        t3.timeIntervalSince(t2) * 1000, regions.count).utf8))
                }
                if json { print(jsonLine(["image": path, "faces": faces])) }
                else if text.isEmpty { print("\(path): no face found") }
                else { for t in text { print("\(path):" + t) } }
            }
            if timing && totals.frames > 0 {
                let per = (totals.detect + totals.classify) / Double(totals.frames)
                FileHandle.standardError.write(Data(String(format: "mean per frame: detect+align %.1f ms, classify %.1f ms → %.1f frames/s (decode %.1f ms not counted)\n",
                    totals.detect / Double(totals.frames) * 1000, totals.classify / Double(totals.frames) * 1000, 1 / per,
                    totals.decode / Double(totals.frames) * 1000).utf8))
            }
        }
    }
}
