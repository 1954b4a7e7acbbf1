import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn detect` (`DetectionRequest`).
struct DetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Detect faces and 5 landmarks with RetinaFace MobileNet-0.25.",
        discussion: """
        Boxes [x1, y1, x2, y2] and landmarks (left eye, right eye, nose, left and right mouth corners,
        as x, y pairs) are in input-pixel coordinates; faces are sorted by decreasing score.
        """)
    @Option(help: "RetinaFace MobileNet-0.25 weights: a PyTorch .pth state dict or .safetensors. Default: the shipped models/retinaface_mobilenet0.25.safetensors.")
    var weights: String?
    @Argument(help: "Images (JPEG or PNG).")
    var images: [String]
    @Flag(help: "One JSON line per image: {\"image\", \"faces\": [{\"box\", \"score\", \"landmarks\"}]}.")
    var json = false
    @Option(parsing: .unconditional, help: "Minimum face probability.")
    var threshold: Float = 0.5
    @Option(name: .customLong("nms"), help: "IoU above which a lower-scoring overlapping box is dropped.")
    var nmsThreshold: Float = 0.4
    @Option(help: "Also write each image with its boxes and landmarks drawn, as DIR/<name>.png.")
    var draw: String?
    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        try guarded {
            try threadOptions.apply()
            try DetectionRequest(weights: weights ?? defaultDetectorPath(), images: images, json: json, threshold: threshold, nmsThreshold: nmsThreshold, draw: draw).run()
        }
    }
}
