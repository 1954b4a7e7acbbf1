import Foundation

/// The canonical emotion names (SPEC §3). Every dataset reports its classes with these names,
/// in the dataset's own class order.
public enum Emotion: String, CaseIterable, Sendable {
    case neutral, happiness, sadness, surprise, fear, disgust, anger, contempt

    /// The canonical emotion for a class-folder name or label word (`angry`, `Happy`,
    /// `surprised`, `fearful`, `disgusted`, … or a canonical name), or `nil`.
    public init?(synonym: String) {
        let key = synonym.lowercased().trimmingCharacters(in: .whitespaces)
        if let e = Emotion(rawValue: key) { self = e; return }
        switch key {
        case "angry", "anger", "mad": self = .anger
        case "happy", "joy", "happiness": self = .happiness
        case "sad": self = .sadness
        case "surprised", "surprise", "suprise": self = .surprise
        case "fearful", "afraid", "scared": self = .fear
        case "disgusted", "disgust": self = .disgust
        case "contemptuous": self = .contempt
        case "calm", "neutrality": self = .neutral
        default: return nil
        }
    }
}

/// Dataset layouts the pipeline reads (SPEC §3).
public enum DatasetFormat: String, CaseIterable, Sendable {
    /// Kaggle `fer2013.csv` (`emotion,pixels,Usage`).
    case fer2013
    /// FERPlus `fer2013new.csv` with `FER2013Train/`, `FER2013Valid/`, `FER2013Test/` images.
    case ferplus
    /// RAF-DB basic (`EmoLabel/list_patition_label.txt`).
    case rafdb
    /// AffectNet: `{train_set,val_set}/{images,annotations}` or `Manually_Annotated_file_lists/*.csv`.
    case affectnet
    /// `<root>/<split>/<class>/*.{jpg,jpeg,png}`.
    case folder
    /// Procedurally drawn faces, generated in-process.
    case synthetic
}

/// Where a sample's pixels come from.
public enum SampleSource: Sendable, Equatable {
    /// An image file.
    case file(String)
    /// A region of an image file (AffectNet face box), clamped to the image.
    case fileRegion(String, x: Int, y: Int, width: Int, height: Int)
    /// Row `i` of the dataset's in-memory pixel table (FER2013 CSV).
    case memory(Int)
    /// A synthetic face drawn from this seed.
    case synthetic(UInt64)

    /// The file path, when the sample is a file.
    public var path: String? {
        switch self {
        case .file(let p), .fileRegion(let p, _, _, _, _): return p
        default: return nil
        }
    }
}

/// One labelled example.
public struct Sample: Sendable, Equatable {
    /// Where the pixels come from.
    public var source: SampleSource
    /// Class index into `Dataset.classes`.
    public var label: Int
    /// The annotators' label distribution over `Dataset.classes` (sums to 1), where the dataset has
    /// one (FERPlus votes); `label` is its majority. Used as training targets with `LoaderOptions.softLabels`.
    public var distribution: [Float]?

    public init(source: SampleSource, label: Int, distribution: [Float]? = nil) {
        self.source = source; self.label = label; self.distribution = distribution
    }
}

/// A file or record the reader left out, and why.
public struct SkippedItem: Sendable, Equatable, CustomStringConvertible {
    /// The file (with `:line` for CSV rows).
    public var path: String
    /// Why it was left out.
    public var reason: String

    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// One split (`train`, `val` or `test`) of a dataset.
public struct DatasetSplit: Sendable {
    /// `train`, `val` or `test`.
    public var name: String
    /// The examples in file order.
    public var samples: [Sample]

    public init(name: String, samples: [Sample]) { self.name = name; self.samples = samples }

    /// Number of examples.
    public var count: Int { samples.count }

    /// Examples per class (`numClasses` entries).
    public func classCounts(numClasses: Int) -> [Int] {
        var c = [Int](repeating: 0, count: numClasses)
        for s in samples where s.label >= 0 && s.label < numClasses { c[s.label] += 1 }
        return c
    }

    /// The labels of all examples, in order.
    public var labels: [Int] { samples.map(\.label) }

    /// Whether every example carries a label distribution (`Sample.distribution`).
    public var hasLabelDistributions: Bool { !samples.isEmpty && samples.allSatisfy { $0.distribution != nil } }
}

/// Options of `Dataset.load`.
public struct DatasetOptions: Sendable {
    /// The layout, or `nil` to detect it.
    public var format: DatasetFormat?
    /// `7` drops `contempt` from datasets that have it (FERPlus, AffectNet); `nil` keeps all.
    public var numClasses: Int?
    /// Size and count of the synthetic set (format `synthetic`).
    public var synthetic: SyntheticFaceConfig

    public init(format: DatasetFormat? = nil, numClasses: Int? = nil, synthetic: SyntheticFaceConfig = .init()) {
        self.format = format; self.numClasses = numClasses; self.synthetic = synthetic
    }
}

/// A labelled image dataset: class names, splits, and how to read each sample.
public final class Dataset: @unchecked Sendable {
    /// The detected (or requested) layout.
    public let format: DatasetFormat
    /// The path it was read from (`synthetic` for the generated set).
    public let root: String
    /// Canonical class names in the dataset's own order (label `i` is `classes[i]`).
    public let classes: [String]
    /// Splits by name; see `splitNames` for the order.
    public private(set) var splits: [String: DatasetSplit]
    /// Files and rows the reader left out (missing, corrupt, dropped by a rule), in order found.
    public private(set) var skipped: [SkippedItem]
    /// Rows dropped by a labelling rule (FERPlus ties/unknown, AffectNet None/Uncertain/Non-Face,
    /// contempt under 7 classes) — counted, not listed in `skipped`.
    public private(set) var dropped: [String: Int]

    /// In-memory pixels (FER2013 CSV): `memoryCount` images of `memoryWidth × memoryHeight`, gray.
    let memoryPixels: [UInt8]
    let memoryWidth: Int, memoryHeight: Int
    /// The synthetic generator (format `synthetic`).
    let syntheticConfig: SyntheticFaceConfig?
    private let lock = NSLock()

    init(format: DatasetFormat, root: String, classes: [String], splits: [String: DatasetSplit],
         skipped: [SkippedItem] = [], dropped: [String: Int] = [:],
         memoryPixels: [UInt8] = [], memoryWidth: Int = 0, memoryHeight: Int = 0,
         synthetic: SyntheticFaceConfig? = nil) {
        self.format = format; self.root = root; self.classes = classes; self.splits = splits
        self.skipped = skipped; self.dropped = dropped
        self.memoryPixels = memoryPixels; self.memoryWidth = memoryWidth; self.memoryHeight = memoryHeight
        self.syntheticConfig = synthetic
    }

    /// Number of classes.
    public var numClasses: Int { classes.count }

    /// Split names present, in the order train, val, test.
    public var splitNames: [String] { ["train", "val", "test"].filter { splits[$0] != nil } }

    /// The split called `name` (`valid` is accepted for `val`).
    /// - Throws: `DataError.invalid` naming the split and the dataset when absent.
    public func split(_ name: String) throws -> DatasetSplit {
        let key = name == "valid" || name == "validation" ? "val" : name
        guard let s = splits[key] else {
            throw DataError.invalid(key: "\(root) split \(name)",
                                    reason: "no such split (have \(splitNames.joined(separator: ", ")))")
        }
        return s
    }

    /// Reads the pixels of a sample: decoded file (EXIF-oriented, region cropped), in-memory
    /// row, or synthetic face. Gray stays gray, colour is RGB.
    /// - Throws: `DataError.io`/`.decode` naming the file.
    public func loadImage(_ sample: Sample) throws -> PixelImage {
        switch sample.source {
        case .file(let path):
            return try ADNNData.loadImage(path)
        case let .fileRegion(path, x, y, w, h):
            return try ADNNData.loadImage(path).cropped(x: x, y: y, width: w, height: h)
        case .memory(let i):
            let n = memoryWidth * memoryHeight
            return PixelImage(width: memoryWidth, height: memoryHeight, channels: 1,
                              pixels: Array(memoryPixels[(i * n)..<((i + 1) * n)]))
        case .synthetic(let seed):
            let cfg = syntheticConfig ?? SyntheticFaceConfig()
            return SyntheticFaces.draw(label: sample.label, seed: seed, size: cfg.size)
        }
    }

    /// Records a sample that failed to load after indexing (e.g. a corrupt JPEG met by the
    /// loader) so that `skipped` reports it. Thread-safe; each path is recorded once.
    public func recordSkipped(_ item: SkippedItem) {
        lock.lock(); defer { lock.unlock() }
        if !skipped.contains(where: { $0.path == item.path }) { skipped.append(item) }
    }

    /// Removes samples from a split (used after a failed decode during caching).
    func removeSamples(split: String, where drop: (Int) -> Bool) {
        lock.lock(); defer { lock.unlock() }
        guard var s = splits[split] else { return }
        s.samples = s.samples.enumerated().filter { !drop($0.offset) }.map(\.element)
        splits[split] = s
    }

    /// Loads a dataset from a folder or file, detecting the layout unless `options.format` is set.
    /// `path` `synthetic` (or format `.synthetic`) builds the generated set.
    /// - Throws: `DataError` with one line naming the file: missing folder, unknown layout,
    ///   wrong CSV header (with the expected one), malformed annotation.
    public static func load(_ path: String, options: DatasetOptions = .init()) throws -> Dataset {
        let format: DatasetFormat
        if let f = options.format { format = f }
        else if path == "synthetic" || path.hasPrefix("synthetic:") { format = .synthetic }
        else { format = try detectFormat(path) }
        switch format {
        case .synthetic:
            let cfg = path.hasPrefix("synthetic:") ? try SyntheticFaceConfig(path: path) : options.synthetic
            return SyntheticFaces.dataset(cfg, root: path)
        case .fer2013: return try FER2013Reader.load(path)
        case .ferplus: return try FERPlusReader.load(path, numClasses: options.numClasses)
        case .rafdb: return try RAFDBReader.load(path)
        case .affectnet: return try AffectNetReader.load(path, numClasses: options.numClasses)
        case .folder: return try FolderReader.load(path)
        }
    }

    /// The layout of the dataset at `path`.
    /// - Throws: `DataError` naming the path when it is missing or matches no layout.
    public static func detectFormat(_ path: String) throws -> DatasetFormat {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DataError.io(path: path, reason: "no such file or folder")
        }
        if !isDir.boolValue {
            guard path.lowercased().hasSuffix(".csv") else {
                throw DataError.unknownLayout(path: path, reason: "not a dataset (expected a folder or a .csv file)")
            }
            let header = try CSVFile(path: path).header() ?? []
            if FER2013Reader.matches(header) { return .fer2013 }
            if FERPlusReader.matches(header) { return .ferplus }
            if AffectNetReader.matchesCSV(header) { return .affectnet }
            throw DataError.badHeader(path: path, expected: FER2013Reader.header + "\" (FER2013) or \"" + FERPlusReader.header
                                        + "\" (FERPlus) or \"" + AffectNetReader.csvHeader + "\" (AffectNet",
                                      found: header.joined(separator: ","))
        }
        let fm = FileManager.default
        func has(_ rel: String) -> Bool { fm.fileExists(atPath: (path as NSString).appendingPathComponent(rel)) }
        if has("fer2013new.csv") || has("FERPlus/fer2013new.csv") { return .ferplus }
        if has("fer2013.csv") || has("fer2013/fer2013.csv") { return .fer2013 }
        if RAFDBReader.labelFile(path) != nil { return .rafdb }
        if has("train_set/annotations") || has("val_set/annotations") || has("Manually_Annotated_file_lists") {
            return .affectnet
        }
        if FolderReader.looksLikeFolder(path) { return .folder }
        throw DataError.unknownLayout(path: path, reason: "no dataset layout found (looked for fer2013.csv, fer2013new.csv, "
            + "EmoLabel/list_patition_label.txt, train_set/annotations, Manually_Annotated_file_lists, "
            + "and <split>/<class>/ image folders)")
    }
}

extension PixelImage {
    /// The region `x, y, width, height` clamped to the image (the whole image when the region
    /// does not overlap it).
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> PixelImage {
        let x0 = max(0, min(x, width)), y0 = max(0, min(y, height))
        let x1 = max(x0, min(x + w, width)), y1 = max(y0, min(y + h, height))
        if x1 - x0 <= 0 || y1 - y0 <= 0 { return self }
        if x0 == 0 && y0 == 0 && x1 == width && y1 == height { return self }
        let cw = x1 - x0, ch = y1 - y0, c = channels
        var out = [UInt8](repeating: 0, count: cw * ch * c)
        pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                for r in 0..<ch {
                    let src = s.baseAddress! + ((y0 + r) * width + x0) * c
                    (d.baseAddress! + r * cw * c).update(from: src, count: cw * c)
                }
            }
        }
        return PixelImage(width: cw, height: ch, channels: c, pixels: out)
    }
}

extension Dataset {
    /// Decodes every file-backed sample (on `workers` threads); samples that fail are removed
    /// from their split and recorded in `skipped` (and warned about on stderr when `warn`).
    /// - Returns: the newly skipped items.
    @discardableResult
    public func verify(workers: Int = 2, warn: Bool = true) -> [SkippedItem] {
        var found: [SkippedItem] = []
        for name in splitNames {
            guard let split = splits[name] else { continue }
            let n = split.samples.count
            let w = max(1, min(workers, n))
            let chunk = (n + w - 1) / w
            final class Box: @unchecked Sendable { var bad: [Int: String] = [:]; let lock = NSLock() }
            let box = Box()
            let group = DispatchGroup()
            for k in 0..<w {
                let lo = k * chunk, hi = min(n, lo + chunk)
                if lo >= hi { continue }
                group.enter()
                let t = Thread { [self] in
                    var local: [Int: String] = [:]
                    for i in lo..<hi where split.samples[i].source.path != nil {
                        do { _ = try loadImage(split.samples[i]) } catch { local[i] = "\(error)" }
                    }
                    box.lock.lock(); box.bad.merge(local) { a, _ in a }; box.lock.unlock()
                    group.leave()
                }
                t.stackSize = 1 << 22
                t.start()
            }
            group.wait()
            for i in box.bad.keys.sorted() {
                let path = split.samples[i].source.path!
                var reason = box.bad[i]!
                if reason.hasPrefix(path + ": ") { reason = String(reason.dropFirst(path.count + 2)) }
                let item = SkippedItem(path: path, reason: reason)
                recordSkipped(item)
                found.append(item)
                if warn { FileHandle.standardError.write("warning: skipping \(path): \(reason)\n".data(using: .utf8)!) }
            }
            if !box.bad.isEmpty { removeSamples(split: name) { box.bad[$0] != nil } }
        }
        return found
    }
}
