import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn eval`: evaluates a checkpoint on a data split (SPEC §5 eval JSON + Markdown table).
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval",
        abstract: "Evaluate a checkpoint: accuracy, macro-F1, balanced accuracy, AUC, per-class table, confusion.")

    @Option(help: "Checkpoint (.safetensors written by adnn train).") var checkpoint: String
    @Option(help: "Data set folder or CSV (or 'synthetic').") var data: String
    @Option(help: "Split to evaluate (default: test if present, else val).") var split: String?
    @Option(help: "Write the eval JSON to this file.") var json: String?
    @Option(parsing: .unconditional, help: "Batch size.") var batch: Int = 64
    @Flag(help: "Horizontal-flip test-time augmentation.") var tta = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            try threads.apply()
            try EvaluationRequest(checkpoint: checkpoint, data: data, split: split, jsonPath: json, batchSize: batch, tta: tta).run()
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
    @Option(parsing: .unconditional, help: "Number of top classes in text output.") var top: Int = 3
    @Flag(help: "Detect and align every face (RetinaFace) and classify each; default: the config's data.face_align.") var align = false
    @Option(help: "RetinaFace weights for --align (default: ADNN_RETINAFACE or ../shared/models/retinaface_mobilenet0.25.safetensors).")
    var detector: String?
    @Flag(help: "Print per-image time for decode, detection + alignment and classification, and frames per second.") var timing = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            try threads.apply()
            try PredictionRequest(checkpoint: checkpoint, images: images, json: json, top: top, align: align,
                                  detector: detector, timing: timing).run()
        }
    }
}
