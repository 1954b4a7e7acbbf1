import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn preprocess` (`PreprocessRequest`).
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Write a folder-format PNG copy of a dataset (optional CLAHE and resize).",
        discussion: """
            Output: OUT/<split>/<class>/<name>.png with canonical class names, readable with \
            --data OUT. Images that fail to decode are skipped with a warning and counted.
            """)
    @OptionGroup var source: DatasetSourceOptions
    @Option(help: "Output folder (created).")
    var out: String
    @Option(parsing: .unconditional, help: "Resize to SIZE×SIZE (bicubic, antialiased when shrinking); default keeps the size.")
    var size: Int?
    @Flag(help: "Apply CLAHE (clip 2.0, 8×8 tiles; on L of Lab for colour).")
    var clahe = false
    @Option(parsing: .unconditional, help: "Output channels: 1 (gray) or 3 (RGB); default keeps each image's own.")
    var channels: Int?
    @Option(parsing: .unconditional, help: "Worker threads.")
    var workers: Int = 2
    @Flag(help: "Detect faces with RetinaFace and write SPEC §6 aligned crops (eye line level, 1.3× square, bicubic).")
    var align = false
    @Option(help: "RetinaFace weights for --align (default: ADNN_RETINAFACE or ../shared/models/retinaface_mobilenet0.25.safetensors).")
    var detector: String?

    func run() throws {
        try guarded {
            try PreprocessRequest(source: source.library, out: out, size: size, clahe: clahe, channels: channels, workers: workers, align: align, detector: detector).run()
        }
    }
}
