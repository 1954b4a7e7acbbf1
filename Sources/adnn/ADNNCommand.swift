import ArgumentParser
import ADNN

@main
struct ADNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adnn",
        abstract: "Train, evaluate and run facial-expression-recognition networks on the CPU.",
        subcommands: [DatasetCommand.self, PreprocessCommand.self])
}
