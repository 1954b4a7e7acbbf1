import Foundation

/// Opt-in op/kernel timer: with `ADNN_PROFILE=1` (or `=shapes`) in the environment, every op family and every
/// backward closure is timed (wall clock, inclusive of nested work) and a table is printed to
/// stderr at exit. Off by default, and then costs one predictable branch per op.
public enum Profiler {
    /// True when `ADNN_PROFILE` is set to a non-empty value other than `0`.
    public static let enabled: Bool = {
        guard let v = ProcessInfo.processInfo.environment["ADNN_PROFILE"], !v.isEmpty, v != "0" else { return false }
        atexit { Profiler.report() }
        return true
    }()

    /// True when `ADNN_PROFILE=shapes`: convolution rows are then split by shape (pixels, in → out channels).
    public static let shapes: Bool = ProcessInfo.processInfo.environment["ADNN_PROFILE"] == "shapes"

    nonisolated(unsafe) private static var totals: [String: (seconds: Double, calls: Int, fastest: Double)] = [:]
    private static let lock = NSLock()

    /// Adds `seconds` to `name`.
    public static func add(_ name: String, _ seconds: Double) {
        lock.lock()
        let t = totals[name] ?? (0, 0, .infinity)
        totals[name] = (t.seconds + seconds, t.calls + 1, Swift.min(t.fastest, seconds))
        lock.unlock()
    }

    /// Clears the table (e.g. after warm-up).
    public static func reset() { lock.lock(); totals = [:]; lock.unlock() }

    /// Prints the table, slowest first, to stderr.
    public static func report() {
        lock.lock(); defer { lock.unlock() }
        let rows = totals.sorted { $0.value.seconds > $1.value.seconds }
        let w = Swift.max(34, rows.map { $0.key.count }.max() ?? 0)
        var s = "op".padding(toLength: w, withPad: " ", startingAt: 0) + "        ms    calls    us/call     us min\n"
        for (k, v) in rows {
            s += k.padding(toLength: w, withPad: " ", startingAt: 0)
                + String(format: " %9.1f %8d %10.1f %10.1f\n", v.seconds * 1000, v.calls, v.seconds * 1e6 / Double(max(1, v.calls)), v.fastest * 1e6)
        }
        FileHandle.standardError.write(Data(s.utf8))
    }

    /// Times `body` under `name` when profiling is on.
    @inline(__always)
    public static func measure<T>(_ name: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        if !enabled { return try body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = try body()
        add(name(), Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        return r
    }
}
