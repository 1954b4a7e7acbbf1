import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn calibrate` (`CalibrationRequest`).
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "calibrate",
        abstract: "Fit a checkpoint's softmax temperature on a labelled split and write a calibrated copy.",
        discussion: """
        Temperature scaling (Guo et al. 2017): the logits are divided by one number T fitted to the split's labels \
        (least NLL), so that a prediction's confidence matches how often it is right. Accuracy does not change. \
        Fit for the test-time augmentation you will predict with (--tta, --tta-crops). The table shows ECE before, \
        after, and with each half of the split scored at the temperature fitted on the other half.
        """)
    @Option(help: "Checkpoint (.safetensors written by adnn train or adnn export).") var checkpoint: String
    @Option(help: "Data set folder or CSV with the split to fit on.") var data: String
    @Option(help: "Split to fit on.") var split: String = "val"
    @Option(help: "Output checkpoint (.safetensors); may be the input with --force.") var out: String
    @Option(parsing: .unconditional, help: "Batch size.") var batch: Int = 64
    @Flag(help: "Fit for horizontal-flip test-time augmentation.") var tta = false
    @Flag(name: .customLong("tta-crops"), help: "Fit for ten-crop test-time augmentation.") var ttaCrops = false
    @Flag(help: "Replace an existing --out file.") var force = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            try threads.apply()
            try CalibrationRequest(checkpoint: checkpoint, data: data, split: split, out: out,
                                   tta: TestTimeAugmentation(flip: tta, crops: ttaCrops), batchSize: batch, force: force).run()
        }
    }
}
