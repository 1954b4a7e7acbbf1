import ArgumentParser
import ADNN

@main
struct ADNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adnn",
        abstract: "Train, evaluate and run facial-expression-recognition networks on the CPU.",
        subcommands: [TrainCommand.self, EvalCommand.self, PredictCommand.self, SummaryCommand.self, BenchCommand.self,
                      BenchKernelsCommand.self, AblateCommand.self, TuneCommand.self, ConvertCommand.self, ExportCommand.self, CalibrateCommand.self, DatasetCommand.self,
                      PreprocessCommand.self, DetectCommand.self, ExplainCommand.self, ReportCommand.self, VideoCommand.self])
}
