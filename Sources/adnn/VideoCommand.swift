import Foundation
import ArgumentParser
import ADNN
import ADNNData
import ADNNTrain
import ADNNVideo

/// `adnn video`: per-face, per-frame expressions of a video file or a camera (SPEC §6 faces).
struct VideoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video",
        abstract: "Track faces in a video or camera and classify their expression in every frame.",
        discussion: """
        INPUT is any file FFmpeg reads (MP4, MKV, AVI, WebM, MOV, …) or a V4L2 camera (/dev/video0).
        Writes DIR/frames.csv (one row per face per frame: box, 5 landmarks, label, raw and smoothed
        probabilities), DIR/tracks.json (per track: first/last frame, dominant expression, share of time
        per expression) and, with --annotate, DIR/annotated.mp4. Ctrl-C stops at the next frame and
        finishes every file.
        """)

    @Argument(help: "Video file or camera device (/dev/videoN).") var input: String
    @Option(help: "Output folder (must not exist unless --force).") var out: String
    @Option(help: "Expression classifier: shipped model name (ferplus, fer2013: every member of its ensemble) or checkpoint file; repeat for an ensemble (default: the default shipped model's main file, one network, for speed).")
    var checkpoint: [String] = []
    @Option(help: "Run the face detector every N frames; faces are tracked in between.") var every: Int = 1
    @Option(help: "Temporal smoothing: weight of the past in [0, 1) (0: none).") var smooth: Float = 0.5
    @Flag(help: "Also write DIR/annotated.mp4 (boxes, labels, probability bars; H.264 or MPEG-4).") var annotate = false
    @Option(help: "RetinaFace weights (default: ADNN_RETINAFACE, else the shipped models/retinaface_mobilenet0.25.safetensors).")
    var detector: String?
    @Option(name: .customLong("detect-size"), help: "Longest side of the frame copy the detector sees (0: full frame).")
    var detectSize: Int = 320
    @Option(help: "Minimum face probability.") var threshold: Float = 0.5
    @Option(name: .customLong("max-frames"), help: "Stop after N frames.") var maxFrames: Int?
    @Flag(help: "Replace the outputs in an existing output folder.") var force = false
    @Flag(help: "Print the summary as one JSON line.") var json = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            try threads.apply()
            guard detectSize >= 0 else { throw ADNNError.invalid("--detect-size must be ≥ 0, got \(detectSize)") }
            let options = VideoOptions(every: every, smoothing: smooth, annotate: annotate, overwrite: force,
                                       progress: !json, maxFrames: maxFrames)
            try options.validate()
            let classifier = try ImageClassifier(checkpoints: checkpoint.isEmpty ? [try ShippedModel.resolve(nil)[0]]
                                                                           : try ShippedModel.resolve(all: checkpoint))
            let cropper = try FaceCropper(weights: detector ?? defaultDetectorPath(), threshold: threshold)
            let faces = RetinaFaceDetector(model: cropper.detector, maxSide: detectSize == 0 ? nil : detectSize,
                                           threshold: threshold)
            VideoInterrupt.install()
            let s = try VideoPipeline.run(input: input, outputDirectory: out, detector: faces, classifier: classifier, options: options)
            if json {
                print(jsonLine(s.json()))
            } else {
                print(String(format: "%@: %d frames (%d×%d), %d faces in %d tracks, %.1f frames/s%@ → %@", s.input, s.frames, s.width, s.height,
                             s.faces, s.tracks, s.framesPerSecond, s.interrupted ? " (interrupted)" : "", out))
            }
        }
    }
}

/// An `ImageClassifier` as the video pipeline's classifier: all crops of a frame in one batch.
extension ImageClassifier: ExpressionClassifying {

    public func probabilities(_ crops: [PixelImage]) throws -> [[Float]] { try probabilities(batch: crops) }
}
