import Foundation

/// CPU time the hypervisor gave to other guests ("steal"), read from Linux's `/proc/stat`.
///
/// On a shared virtual machine a time-budgeted run can lose a third of its CPU to neighbours for
/// minutes; the trainer then plans fewer steps. Recording the steal share of every epoch in
/// `metrics.jsonl` (`cpu_steal_percent`) says why a run got the steps it got. See proc(5), `/proc/stat`:
/// the `cpu` line's eighth value is steal time in clock ticks.
public struct CPUStealMeter {
    /// (total ticks, steal ticks) of the `cpu` line when the meter was (re)started.
    private var mark: (total: UInt64, steal: UInt64)?

    /// Starts measuring now (nil readings where `/proc/stat` is unavailable).
    public init(statPath: String = "/proc/stat") {
        self.statPath = statPath
        mark = CPUStealMeter.read(statPath)
    }

    private let statPath: String

    /// The steal share of all CPU time since the last call (or since `init`), in percent, and restarts
    /// the interval; nil where `/proc/stat` cannot be read or no ticks passed.
    public mutating func lap() -> Float? {
        let now = CPUStealMeter.read(statPath)
        defer { mark = now }
        guard let a = mark, let b = now, b.total > a.total, b.steal >= a.steal else { return nil }
        return Float(Double(b.steal - a.steal) / Double(b.total - a.total) * 100)
    }

    /// Parses the aggregate `cpu` line: user nice system idle iowait irq softirq steal [guest guest_nice].
    /// Guest time is already counted in user/nice, so the total is the first eight fields.
    static func parse(_ text: String) -> (total: UInt64, steal: UInt64)? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard fields.count >= 8 else { return nil }
        return (fields.prefix(8).reduce(0, +), fields[7])
    }

    private static func read(_ path: String) -> (total: UInt64, steal: UInt64)? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return parse(String(decoding: data, as: UTF8.self))
    }
}
