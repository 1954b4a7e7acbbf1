import Foundation
import ADNN
import ADNNData
import ADNNKernels

/// `adnn dataset`: format, splits, class counts and skipped files of a data set; `bench` measures the
/// loader (decode + augment + batch).
public struct DatasetReportRequest {
    /// Where the data set is, its layout and class count.
    public var source: DatasetSource
    public var json: Bool
    public var verify: Bool
    public var bench: Bool
    public var size: Int
    public var batch: Int
    public var workers: Int
    public var seconds: Double
    public var split: String
    public var channels: Int
    public var clahe: Bool
    public var noCache: Bool
    public var noAugment: Bool

    public init(source: DatasetSource, json: Bool = false, verify: Bool = false, bench: Bool = false, size: Int = 112, batch: Int = 64, workers: Int = 2, seconds: Double = 10, split: String = "train", channels: Int = 3, clahe: Bool = false, noCache: Bool = false, noAugment: Bool = false) {
        self.source = source; self.json = json; self.verify = verify; self.bench = bench; self.size = size; self.batch = batch; self.workers = workers; self.seconds = seconds; self.split = split; self.channels = channels; self.clahe = clahe; self.noCache = noCache; self.noAugment = noAugment
    }














    public func run() throws {
        guard (1...256).contains(workers) else { throw ADNNError.invalid("--workers \(workers): must be 1…256") }
        if bench {
            guard (1...4096).contains(size) else { throw ADNNError.invalid("--size \(size): must be 1…4096") }
            guard (1...65_536).contains(batch) else { throw ADNNError.invalid("--batch \(batch): must be 1…65536") }
            guard seconds.isFinite && seconds > 0 && seconds <= 86_400 else { throw ADNNError.invalid("--seconds \(seconds): must be in (0, 86400]") }
            guard channels == 1 || channels == 3 else { throw ADNNError.invalid("--channels \(channels): must be 1 or 3") }
        }
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
        lines.append("skipped: \(d.skipped.count)" + (verify ? "" : " (files not decoded; --verify decodes every image)"))
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
