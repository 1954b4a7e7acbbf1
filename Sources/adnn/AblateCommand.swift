import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn ablate`: the five-variant ablation of SPEC §1 over seeds (`AblationRequest`).
struct AblateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ablate",
        abstract: "Train and evaluate the five ablation variants for every seed; writes a table, JSON and an SVG chart.")

    @Option(help: "YAML config of the full model.") var config: String
    @Option(help: "Data set folder or CSV (default: the config's synthetic set).") var data: String?
    @Option(help: "Comma-separated seeds.") var seeds: String = "42,123,256,789,1024"
    @Option(help: "Output folder.") var out: String
    @Option(parsing: .unconditional, help: "Override schedule.epochs for every run.") var epochs: Int?
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try guarded {
            try threads.apply()
            _ = try AblationRequest(config: config, data: data, seeds: seeds, out: out, epochs: epochs).run()
        }
    }
}
