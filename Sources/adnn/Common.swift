import Foundation
import ArgumentParser
import ADNN
import ADNNData
import ADNNKernels

/// Prints one clear error line to stderr and exits non-zero.
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("adnn: error: \(message)\n".utf8))
    return ExitCode(1)
}

/// Runs `body`, turning library errors into one error line and exit status 1.
func guarded(_ body: () throws -> Void) throws {
    do { try body() } catch let e as ExitCode { throw e } catch let e as CleanExit { throw e } catch {
        throw fail(String(describing: error))
    }
}

/// Peak resident set size in MiB (Linux `VmHWM`).
func peakRSSMiB() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kb / 1024
    }
    return 0
}

/// Loads a config file, with `--seed`-style overrides applied by the caller.
func loadConfig(_ path: String) throws -> Config {
    guard FileManager.default.fileExists(atPath: path) else { throw ADNNError.io("\(path): config file not found") }
    return try Config.load(path: path)
}

/// JSON text with sorted keys, one line.
func jsonLine(_ obj: Any) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}

/// Thread-count option shared by commands.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads for kernels and BLAS (default: all cores or ADNN_NUM_THREADS).")
    var threads: Int?

    func apply() { if let t = threads { Threading.threads = t } }
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

    /// `--format` as a layout; nil for `auto`.
    func layout() throws -> DatasetFormat? {
        if format == "auto" { return nil }
        guard let f = DatasetFormat(rawValue: format) else {
            throw ValidationError("--format \(format): expected auto, \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return f
    }

    /// `DatasetOptions` for `Dataset.load`.
    func loadOptions() throws -> DatasetOptions { DatasetOptions(format: try layout(), numClasses: numClasses) }
}
