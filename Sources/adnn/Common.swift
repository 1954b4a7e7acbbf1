import Foundation
import ArgumentParser
import ADNN
import ADNNData
import ADNNKernels
import ADNNTrain

/// Prints one clear error line to stderr and exits non-zero.
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("adnn: error: \(message)\n".utf8))
    return ExitCode(1)
}

/// Runs `body`, turning library errors into one error line and exit status 1.
func guarded(_ body: () throws -> Void) throws {
    do { try body() } catch let e as ExitCode { throw e } catch let e as CleanExit { throw e } catch is TrainingInterrupted {
        throw ExitCode(130)
    } catch {
        throw fail(String(describing: error))
    }
}

/// Thread-count option shared by commands.
struct ThreadOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Worker threads for kernels and BLAS (default: all cores or ADNN_NUM_THREADS).")
    var threads: Int?

    /// Sets the thread count; `--threads` outside 1…1024 is an error.
    func apply() throws {
        if let t = threads {
            guard (1...1024).contains(t) else { throw ADNNError.invalid("--threads \(t): must be 1…1024") }
            Threading.threads = t
        }
    }
}

/// The data-set options shared by `adnn dataset` and `adnn preprocess`: where the data is, its
/// layout, and the class count.
struct DatasetSourceOptions: ParsableArguments {
    @Option(help: "Dataset folder, CSV file, or synthetic[:key=value,...].")
    var data: String

    @Option(help: "Layout: auto, fer2013, ferplus, rafdb, affectnet, folder, synthetic.")
    var format: String = "auto"

    @Option(name: .customLong("num-classes"), help: "7 drops contempt (FERPlus, AffectNet).")
    var numClasses: Int?

    /// The library's description of this source.
    var library: DatasetSource { DatasetSource(data: data, format: format, numClasses: numClasses) }
}
