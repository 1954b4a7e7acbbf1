import ArgumentParser
import ADNNData
import Foundation

/// `adnn dataset`: format, splits, class counts and skipped files of a dataset; `--bench`
/// measures the loader (decode + augment + batch).
struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Show a dataset's format, splits, class counts and skipped files.",
        discussion: """
            --data is a dataset folder, a CSV file (fer2013.csv, fer2013new.csv, an AffectNet list), \
            or synthetic[:train=N,val=N,test=N,size=S,seed=K]. With --bench, also measures images \
            per second of the training loader (decode, augment, batch) for --seconds.
            """)

    @OptionGroup var source: DatasetSourceOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Flag(help: "Decode every image; corrupt files are skipped, counted and named.")
    var verify = false

    @Flag(help: "Measure loader throughput (decode + augment + batch).")
    var bench = false

    @Option(help: "Benchmark: output side in pixels.")
    var size: Int = 112

    @Option(help: "Benchmark: batch size.")
    var batch: Int = 64

    @Option(help: "Benchmark: worker threads.")
    var workers: Int = 2

    @Option(help: "Benchmark: seconds of batches to time.")
    var seconds: Double = 10

    @Option(help: "Benchmark: split to load.")
    var split: String = "train"

    @Option(help: "Benchmark: output channels (1 or 3).")
    var channels: Int = 3

    @Flag(help: "Benchmark: apply CLAHE when preparing images.")
    var clahe = false

    @Flag(name: .customLong("no-cache"), help: "Benchmark: decode on every use instead of caching.")
    var noCache = false

    @Flag(name: .customLong("no-augment"), help: "Benchmark: no augmentation (evaluation pipeline).")
    var noAugment = false

    func run() throws {
        let dataset = try Dataset.load(source.data, options: try source.loadOptions())
        if verify { dataset.verify(workers: workers) }
        var benchResult: [(String, String)] = []
        if bench { benchResult = try runBench(dataset) }
        if json { print(jsonReport(dataset, bench: benchResult)) } else { print(textReport(dataset, bench: benchResult)) }
    }

    private func runBench(_ dataset: Dataset) throws -> [(String, String)] {
        let transform = TransformConfig(size: size, channels: channels, clahe: clahe)
        let t0 = Date()
        let loader = try DataLoader(dataset: dataset, split: split, transform: transform,
                                    augment: noAugment ? nil : AugmentConfig(),
                                    options: LoaderOptions(batchSize: batch, workers: workers,
                                                           cache: noCache ? .never : .auto(maxBytes: 1 << 30)))
        let setup = Date().timeIntervalSince(t0)
        var images = 0, batches = 0, epoch = 0
        let start = Date()
        var elapsed = 0.0
        outer: while true {
            for b in loader.batches(epoch: epoch) {
                images += b.count; batches += 1
                elapsed = Date().timeIntervalSince(start)
                if elapsed >= seconds { break outer }
            }
            epoch += 1
        }
        let ips = Double(images) / max(elapsed, 1e-9)
        var out: [(String, String)] = [
            ("split", "\"\(split)\""), ("size", "\(size)"), ("channels", "\(channels)"), ("batch", "\(batch)"),
            ("workers", "\(workers)"), ("augment", noAugment ? "false" : "true"), ("clahe", clahe ? "true" : "false"),
            ("cached", loader.isCached ? "true" : "false"), ("setup_seconds", String(format: "%.3f", setup)),
            ("images", "\(images)"), ("batches", "\(batches)"), ("seconds", String(format: "%.3f", elapsed)),
            ("images_per_second", String(format: "%.1f", ips)),
        ]
        if loader.isCached {
            out.append(("decode_images_per_second", String(format: "%.1f", Double(loader.count) / max(setup, 1e-9))))
        }
        return out
    }

    private func jsonString(_ s: String) -> String {
        var r = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\t": r += "\\t"
            case "\r": r += "\\r"
            default:
                if ch.value < 0x20 { r += String(format: "\\u%04x", ch.value) } else { r.unicodeScalars.append(ch) }
            }
        }
        return r + "\""
    }

    private func jsonReport(_ d: Dataset, bench: [(String, String)]) -> String {
        var s = "{\n"
        s += "  \"path\": \(jsonString(d.root)),\n  \"format\": \"\(d.format.rawValue)\",\n"
        s += "  \"classes\": [\(d.classes.map(jsonString).joined(separator: ", "))],\n  \"splits\": {"
        let splits = d.splitNames.map { name -> String in
            let sp = d.splits[name]!
            let counts = sp.classCounts(numClasses: d.numClasses)
            let cc = zip(d.classes, counts).map { "\(jsonString($0)): \($1)" }.joined(separator: ", ")
            return "\n    \"\(name)\": {\"count\": \(sp.count), \"class_counts\": {\(cc)}}"
        }
        s += splits.joined(separator: ",") + "\n  },\n"
        let dropped = d.dropped.keys.sorted().map { "\(jsonString($0)): \(d.dropped[$0]!)" }.joined(separator: ", ")
        s += "  \"dropped\": {\(dropped)},\n"
        let files = d.skipped.map { "\n      {\"path\": \(jsonString($0.path)), \"reason\": \(jsonString($0.reason))}" }
        s += "  \"skipped\": {\"count\": \(d.skipped.count), \"files\": [\(files.joined(separator: ","))\(files.isEmpty ? "" : "\n    ")]}"
        if !bench.isEmpty {
            s += ",\n  \"bench\": {" + bench.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
        }
        return s + "\n}"
    }

    private func textReport(_ d: Dataset, bench: [(String, String)]) -> String {
        var lines = ["dataset: \(d.root)", "format:  \(d.format.rawValue)", "classes: \(d.classes.joined(separator: " "))"]
        let width = max(10, d.classes.map(\.count).max() ?? 0)
        var header = "split".padding(toLength: 7, withPad: " ", startingAt: 0) + "total".leftPadded(8)
        for c in d.classes { header += "  " + c.leftPadded(width) }
        lines.append(header)
        for name in d.splitNames {
            let sp = d.splits[name]!
            var row = name.padding(toLength: 7, withPad: " ", startingAt: 0) + String(sp.count).leftPadded(8)
            for n in sp.classCounts(numClasses: d.numClasses) { row += "  " + String(n).leftPadded(width) }
            lines.append(row)
        }
        for k in d.dropped.keys.sorted() { lines.append("dropped: \(d.dropped[k]!) (\(k))") }
        lines.append("skipped: \(d.skipped.count)")
        for item in d.skipped.prefix(50) { lines.append("  \(item.path): \(item.reason)") }
        if d.skipped.count > 50 { lines.append("  … \(d.skipped.count - 50) more") }
        if !bench.isEmpty {
            lines.append("bench:   " + bench.map { "\($0.0)=\($0.1.replacingOccurrences(of: "\"", with: ""))" }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}

private extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
