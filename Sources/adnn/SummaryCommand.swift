import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn summary` (`ModelSummaryRequest`).
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "summary",
        abstract: "Print the model's per-module parameter table, total parameters and forward GFLOPs.")
    @Option(help: "YAML config file.") var config: String
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Flag(help: "Skip the FLOP-counting forward pass.") var noFlops = false

    func run() throws {
        try guarded {
            try ModelSummaryRequest(config: config, json: json, noFlops: noFlops).run()
        }
    }
}
