import Foundation
import ArgumentParser
import ADNN
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
