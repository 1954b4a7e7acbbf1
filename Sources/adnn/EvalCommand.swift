import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn eval`: evaluates a checkpoint on a data split (SPEC §5 eval JSON + Markdown table).
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval",
        abstract: "Evaluate a checkpoint: accuracy, macro-F1, balanced accuracy, AUC, per-class table, confusion.")

    @Option(help: "Checkpoint (.safetensors written by adnn train); repeat for an ensemble (probabilities averaged).")
    var checkpoint: [String]
    @Option(help: "Data set folder or CSV (or 'synthetic').") var data: String
    @Option(help: "Split to evaluate (default: test if present, else val).") var split: String?
    @Option(help: "Write the eval JSON to this file.") var json: String?
    @Option(help: "Write per-image labels, predictions and probabilities (predictions.json format) to this file.")
    var predictions: String?
    @Option(parsing: .unconditional, help: "Batch size.") var batch: Int = 64
    @Flag(help: "Horizontal-flip test-time augmentation (2 views).") var tta = false
    @Flag(name: .customLong("tta-crops"), help: "Ten-crop test-time augmentation: centre + 4 corners of a 1.125× upscale, each mirrored (10 views).")
    var ttaCrops = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            try threads.apply()
            try EvaluationRequest(checkpoints: checkpoint, data: data, split: split, jsonPath: json, predictionsPath: predictions,
                                  batchSize: batch, tta: TestTimeAugmentation(flip: tta, crops: ttaCrops)).run()
        }
    }
}

/// `adnn predict`: classifies images with a checkpoint; one JSON line per image (SPEC §5).
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict",
        abstract: "Classify the expression of every face in photos (or of face crops); a text or JSON line per face.",
        discussion: """
        With no --model the shipped ferplus model is used (models/adnn_ferplus_lite0_112 + _96.safetensors, an ensemble of two; else the FER2013 one). \
        Photos larger than twice the model input are searched for faces with the shipped RetinaFace; each face \
        is aligned and classified. Smaller images (face crops) and photos with no face found are classified whole.
        """)

    @Argument(help: "Image files (JPEG or PNG).") var images: [String]
    @Option(help: "Shipped model name (ferplus, fer2013) or a checkpoint file (.safetensors); repeat for an ensemble.")
    var model: [String] = []
    @Option(help: "Checkpoint file (same as --model FILE).") var checkpoint: [String] = []
    @Flag(help: "Print JSON lines (default: a short text line per face).") var json = false
    @Option(parsing: .unconditional, help: "Number of top classes in text output.") var top: Int = 3
    @Flag(help: "Search every image for faces (an image with none prints 'no face found').") var align = false
    @Flag(name: .customLong("no-align"), help: "Classify every image whole (no face detection).") var noAlign = false
    @Option(help: "RetinaFace weights (default: ADNN_RETINAFACE, else the shipped models/retinaface_mobilenet0.25.safetensors).")
    var detector: String?
    @Flag(help: "Horizontal-flip test-time augmentation.") var tta = false
    @Flag(name: .customLong("tta-crops"), help: "Ten-crop test-time augmentation (10 views per face).") var ttaCrops = false
    @Flag(help: "Print per-image time for decode, detection + alignment and classification, and frames per second.") var timing = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            try threads.apply()
            if align && noAlign { throw ValidationError("--align and --no-align exclude each other") }
            if !model.isEmpty && !checkpoint.isEmpty { throw ValidationError("pass --model or --checkpoint, not both") }
            try PredictionRequest(models: model + checkpoint, images: images, json: json, top: top,
                                  faces: align ? .always : (noAlign ? .never : .auto),
                                  detector: detector, timing: timing, tta: TestTimeAugmentation(flip: tta, crops: ttaCrops)).run()
        }
    }
}
