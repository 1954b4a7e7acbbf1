import Foundation
import ADNN

/// Peak resident set size in MiB (Linux `VmHWM`).
public func peakRSSMiB() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kb / 1024
    }
    return 0
}

/// User + system CPU time of the process so far, in seconds (all threads).
public func processCPUSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}

/// Loads a config file; a missing file is one error naming it.
public func loadConfig(_ path: String) throws -> Config {
    guard FileManager.default.fileExists(atPath: path) else { throw ADNNError.io("\(path): config file not found") }
    return try Config.load(path: path)
}

/// JSON text with sorted keys, one line.
public func jsonLine(_ obj: Any) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}

/// Prints a line on stderr.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
