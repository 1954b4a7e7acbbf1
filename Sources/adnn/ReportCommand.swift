import Foundation
import ArgumentParser
import ADNN
import ADNNReport
import ADNNTrain

/// `adnn report`: one self-contained HTML report of a run, ablation or tuning folder
/// (``RunReport``), and optionally the run's TensorBoard event file from its metrics.jsonl.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report",
        abstract: "Write one self-contained HTML report of a run, ablation or tuning folder (and optionally TensorBoard events).")

    @Argument(help: "Run folder (adnn train), ablation folder (adnn ablate) or tuning folder (adnn tune).") var dir: String
    @Option(help: "Output HTML file (default: DIR/report.html).") var out: String?
    @Flag(help: "Replace an existing --out (and, with --tensorboard, the folder's event files).") var force = false
    @Option(help: "Data set for re-evaluating best.safetensors (calibration, Grad-CAM mistakes); default: eval.json's dataset.")
    var data: String?
    @Flag(help: "Do not re-evaluate the checkpoint (no images; calibration only from predictions.json).") var noImages = false
    @Option(help: "Most confident mistakes to show.") var mistakes: Int = 12
    @Flag(help: "Also convert the run folder's metrics.jsonl to a TensorBoard event file in the folder.") var tensorboard = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            try threads.apply()
            let output = out ?? (dir as NSString).appendingPathComponent("report.html")
            if tensorboard, try ReportFolder.kind(of: dir) != .run { throw ADNNError.invalid("--tensorboard: \(dir) is not a run folder") }
            var options = RunReport.Options(mistakeCount: mistakes)
            if !noImages { options.dataPath = data; options.openDataset = { cfg, path in try openDataset(cfg, path: path) } }
            let (kind, notes) = try RunReport.write(dir: dir, to: output, force: force, options: options)
            for n in notes { FileHandle.standardError.write(Data("note: \(n)\n".utf8)) }
            print("wrote \(output) (\(kind.rawValue) folder)")
            if tensorboard {
                let (path, n) = try TensorBoardWriter.exportTensorBoard(runDir: dir, replace: force)
                print("wrote \(path) (\(n) scalars)")
            }
        }
    }
}
