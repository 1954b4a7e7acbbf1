import Foundation
import ArgumentParser
import ADNNTrain

/// `adnn export` (`ExportRequest`).
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export",
        abstract: "Write the inference copy of a checkpoint (no optimiser or resume state), optionally float16.")
    @Argument(help: "Checkpoint (.safetensors written by adnn train).") var checkpoint: String
    @Option(help: "Output file (.safetensors).") var out: String
    @Flag(help: "Store the weights as float16 (half the size).") var half = false
    @Flag(help: "Replace an existing --out file.") var force = false

    func run() throws {
        try guarded { try ExportRequest(checkpoint: checkpoint, out: out, half: half, force: force).run() }
    }
}
