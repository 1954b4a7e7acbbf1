import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn convert` (`ConversionRequest`).
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "convert",
        abstract: "Make an adnn checkpoint from timm/PyTorch backbone (and classifier) weights.")
    @Option(help: "YAML config describing the model.") var config: String
    @Option(help: "timm weights (.safetensors or .pth).") var weights: String
    @Option(help: "Output checkpoint (.safetensors).") var out: String
    @Option(help: "Class names: a text file with one name per line (default: class indices).") var classes: String?
    @Flag(help: "Replace an existing --out file.") var force = false

    func run() throws {
        try guarded {
            try ConversionRequest(config: config, weights: weights, out: out, classes: classes, force: force).run()
        }
    }
}
