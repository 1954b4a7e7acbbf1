import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn explain` (`ExplanationRequest`).
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "explain",
        abstract: "Explain predictions with Grad-CAM or Kernel SHAP heat maps; writes PNG overlays and explain.jsonl.")
    @Option(help: "Checkpoint (.safetensors).") var checkpoint: String
    @Option(help: "gradcam (gradient-weighted class activation map) or shap (Kernel SHAP over image patches).")
    var method: String
    @Option(help: "Explained class name (default: the predicted class).") var target: String?
    @Option(parsing: .unconditional, help: "SHAP: patches per side (grid² features).") var grid: Int = 8
    @Option(parsing: .unconditional, help: "SHAP: sampled coalitions per image (besides the empty and the full one).") var samples: Int = 512
    @Option(parsing: .unconditional, help: "SHAP: seed of the coalition sampler.") var seed: Int = 0
    @Option(parsing: .unconditional, help: "Opacity of the heat map in the overlay (0…1).") var alpha: Double = 0.5
    @Flag(help: "Detect and align the most confident face (RetinaFace) and explain it; default: the config's data.face_align.")
    var align = false
    @Option(help: "RetinaFace weights for --align (default: ADNN_RETINAFACE or ../shared/models/retinaface_mobilenet0.25.safetensors).")
    var detector: String?
    @Flag(help: "Print the JSON lines on stdout (default: a short text line per image).") var json = false
    @Option(help: "Output folder for <stem>_<method>.png and explain.jsonl.") var out: String
    @Argument(help: "Image files (JPEG or PNG).") var images: [String]
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            try threads.apply()
            try ExplanationRequest(checkpoint: checkpoint, method: method, target: target, grid: grid, samples: samples, seed: seed, alpha: alpha, align: align, detector: detector, json: json, out: out, images: images).run()
        }
    }
}
