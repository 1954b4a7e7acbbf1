import Foundation
import Yams
import ADNN
import ADNNData

/// The run configuration (SPEC §2). Every key has a default; unknown keys are an error naming the
/// key and the file. Encodes to JSON/YAML with the same snake_case keys.
public struct Config: Codable, Equatable, Sendable {
    public typealias CBAMConfig = ADNN.CBAMConfig
    public typealias TransformerConfig = ADNN.TransformerConfig
    /// The `model` section: the network's own configuration.
    public typealias Model = ADNNFERConfig
    /// The `loss` section: the compound loss's own configuration.
    public typealias Loss = CompoundLossConfig
    public struct Optim: Codable, Equatable, Sendable {
        public init() {}
        public var name = OptimizerKind.adamw
        public var lr: Float = 3e-4
        public var weightDecay: Float = 0.05
        public var betas: [Float] = [0.9, 0.999]
        public var layerDecay: Float = 0.8
        public var gradClip: Float = 5.0
        enum CodingKeys: String, CodingKey { case name, lr, weightDecay = "weight_decay", betas, layerDecay = "layer_decay", gradClip = "grad_clip" }
    }
    public struct Schedule: Codable, Equatable, Sendable {
        public init() {}
        public var epochs = 150, warmupEpochs = 10
        public var minLR: Float = 1e-6
        public var patience = 20
        public var monitor = Monitor.valAccuracy
        /// Weight EMA decay per step (0: off); evaluation and `best` use the averaged weights when on.
        public var ema: Float = 0
        /// Wall-clock budget of the whole `adnn train` command in minutes (0: off). When on, the
        /// trainer measures its throughput and fits the number of steps so that warm-up + cosine end
        /// inside the budget (validation and the final evaluation included); `epochs` is then only
        /// an upper limit.
        public var timeBudgetMinutes: Float = 0
        enum CodingKeys: String, CodingKey {
            case epochs, warmupEpochs = "warmup_epochs", minLR = "min_lr", patience, monitor, ema
            case timeBudgetMinutes = "time_budget_minutes"
        }
    }
    public struct DataConfig: Codable, Equatable, Sendable {
        public init() {}
        public var format = DataFormatSetting.auto
        public var batchSize = 32
        public var clahe = true
        public var faceAlign = false
        public var mean: [Float] = [0.485, 0.456, 0.406]
        public var std: [Float] = [0.229, 0.224, 0.225]
        public var workers = 2
        public var balanced = false
        public var syntheticCount = 3500
        public var limit = 0
        /// Train on the annotators' label distributions (FERPlus votes) instead of one-hot majority labels.
        public var softLabels = false
        enum CodingKeys: String, CodingKey {
            case format, batchSize = "batch_size", clahe, faceAlign = "face_align", mean, std, workers, balanced
            case syntheticCount = "synthetic_count", limit, softLabels = "soft_labels"
        }
    }
    public struct Augment: Codable, Equatable, Sendable {
        public init() {}
        public var hflip: Float = 0.5, crop: Float = 0.8, colorJitter: Float = 0.5, rotate: Float = 0.3
        public var rotateDegrees: Float = 15, noise: Float = 0.2, cutout: Float = 0.3, mixup: Float = 0.4, mixupAlpha: Float = 0.2
        enum CodingKeys: String, CodingKey {
            case hflip, crop, colorJitter = "color_jitter", rotate, rotateDegrees = "rotate_degrees", noise, cutout, mixup
            case mixupAlpha = "mixup_alpha"
        }
    }

    public var model = Model()
    public var loss = Loss()
    public var optim = Optim()
    public var schedule = Schedule()
    public var data = DataConfig()
    public var augment = Augment()
    public var seed = 42

    public init() {}

    /// Loads a YAML file; errors name the file and the offending key.
    public static func load(path: String) throws -> Config {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ADNNError.io("\(path): config file not found") }
        if isDir.boolValue { throw ADNNError.io("\(path): is a folder, not a config file") }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard (attributes?[.type] as? FileAttributeType) == .typeRegular else {
            throw ADNNError.io("\(path): not a regular file")
        }
        if let size = attributes?[.size] as? Int, size > maximumFileBytes {
            throw ADNNError.invalid("\(path): \(size) bytes is too large for a config file (at most \(maximumFileBytes))")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ADNNError.io("\(path): cannot read config file (not UTF-8 text, or unreadable)")
        }
        return try parse(yaml: text, file: path)
    }

    /// Largest config file read (a config is a few hundred bytes).
    public static let maximumFileBytes = 1 << 20

    /// Parses YAML text (`file` is used in error messages). Anchors and aliases are refused (a config
    /// never needs them, and nested aliases expand exponentially), and so are duplicate keys.
    public static func parse(yaml text: String, file: String = "<config>") throws -> Config {
        guard text.utf8.count <= maximumFileBytes else {
            throw ADNNError.invalid("\(file): \(text.utf8.count) bytes is too large for a config file (at most \(maximumFileBytes))")
        }
        if let token = YAMLSafety.firstAnchorOrAlias(text) {
            throw ADNNError.invalid("\(file): YAML anchors and aliases are not supported in configs (found '\(token)')")
        }
        let root: Any?
        do {
            if let node = try Yams.compose(yaml: text) {
                if let key = YAMLSafety.firstDuplicateKey(node) {
                    throw ADNNError.invalid("\(file): key '\(key)' appears twice")
                }
                root = try YAMLReader.value(of: node)
            } else {
                root = nil
            }
        } catch let e as ADNNError { throw e } catch {
            throw ADNNError.invalid("\(file): invalid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        var c = Config()
        guard let dict = root as? [String: Any] else {
            if root == nil { return c }
            throw ADNNError.invalid("\(file): top level must be a mapping")
        }
        try c.apply(dict, file: file)
        return c
    }

    /// Overrides fields from a (possibly partial) dictionary, checking every key.
    public mutating func apply(_ dict: [String: Any], file: String) throws {
        // Round-trip through JSON: encode current values, merge with strict key checking, decode.
        guard let current = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as? [String: Any] else {
            throw ADNNError.invalid("\(file): internal error encoding the configuration")
        }
        let merged = try Config.merge(current, dict, path: "", file: file, nullable: Config.nullableKeys)
        let data = try JSONSerialization.data(withJSONObject: merged)
        do { self = try JSONDecoder().decode(Config.self, from: data) } catch let DecodingError.typeMismatch(type, ctx) {
            let key = ctx.codingPath.map { $0.stringValue }.joined(separator: ".")
            throw ADNNError.invalid("\(file): key '\(key)' has the wrong type (expected \(Config.typeName(type)))")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw ADNNError.invalid("\(file): key '\(ctx.codingPath.map { $0.stringValue }.joined(separator: "."))' is null")
        } catch let DecodingError.dataCorrupted(ctx) {
            let key = ctx.codingPath.map { $0.stringValue }.joined(separator: ".")
            let why = ctx.debugDescription.contains("does not fit") ? "must be a whole number in range" : ctx.debugDescription
            throw ADNNError.invalid("\(file): key '\(key)': \(why)")
        }
        try validate(file: file)
    }

    static let nullableKeys: Set<String> = ["model.cbam", "model.transformer", "model.pretrained"]
    static let defaultSubsections: [String: Any] = [
        "model.cbam": try! JSONSerialization.jsonObject(with: JSONEncoder().encode(CBAMConfig())),
        "model.transformer": try! JSONSerialization.jsonObject(with: JSONEncoder().encode(TransformerConfig())),
    ]

    /// The keys that hold whole numbers (`Int` fields).
    static let wholeNumberKeys: Set<String> = [
        "model.in_chans", "model.input_size", "model.num_classes", "model.cbam.reduction", "model.cbam.kernel_size",
        "model.transformer.layers", "model.transformer.heads", "model.transformer.d_model", "model.transformer.d_ff",
        "schedule.epochs", "schedule.warmup_epochs", "schedule.patience", "data.batch_size", "data.workers",
        "data.synthetic_count", "data.limit", "seed",
    ]

    /// A number must be finite, and a whole number where the key holds one (`batch_size: 2.5`).
    private static func checkScalar(_ v: Any, like base: Any?, key: String, file: String) throws {
        let values: [Any] = (v as? [Any]) ?? [v]
        for item in values {
            guard let n = item as? NSNumber, !(item is Bool) || String(cString: n.objCType) != "c" else { continue }
            let d = n.doubleValue
            guard d.isFinite else { throw ADNNError.invalid("\(file): key '\(key)' must be a finite number, got \(d)") }
            if Config.wholeNumberKeys.contains(key), d != d.rounded() {
                throw ADNNError.invalid("\(file): key '\(key)' must be a whole number, got \(d)")
            }
        }
    }

    private static func merge(_ base: [String: Any], _ over: [String: Any], path: String, file: String,
                              nullable: Set<String>) throws -> [String: Any] {
        var out = base
        for (k, v) in over {
            let full = path.isEmpty ? k : path + "." + k
            let known = base.keys.contains(k) || nullable.contains(full)
            guard known else { throw ADNNError.invalid("\(file): unknown config key '\(full)'") }
            if v is NSNull || (v as? String) == "null" {
                guard nullable.contains(full) else { throw ADNNError.invalid("\(file): key '\(full)' cannot be null") }
                out.removeValue(forKey: k)
                continue
            }
            if let sub = v as? [String: Any] {
                let baseSub = (base[k] as? [String: Any]) ?? (defaultSubsections[full] as? [String: Any])
                guard let baseSub else { throw ADNNError.invalid("\(file): key '\(full)' must not be a mapping") }
                out[k] = try merge(baseSub, sub, path: full, file: file, nullable: nullable)
            } else {
                if base[k] is [String: Any] { throw ADNNError.invalid("\(file): key '\(full)' must be a mapping") }
                try checkScalar(v, like: base[k], key: full, file: file)
                out[k] = v
            }
        }
        return out
    }

    /// Range checks with messages naming the key (run by every decode: `load`, `parse`, `apply`).
    public func validate(file: String) throws {
        func fail(_ key: String, _ why: String) -> ADNNError { .invalid("\(file): key '\(key)' \(why)") }
        if let problem = model.firstProblem() { throw fail("model." + problem.key, problem.reason) }
        func range<T: Comparable>(_ key: String, _ v: T, _ r: ClosedRange<T>) throws {
            guard r.contains(v) else { throw fail(key, "must be in \(r.lowerBound)…\(r.upperBound), got \(v)") }
        }
        func fraction(_ key: String, _ v: Float, below1: Bool = false) throws {
            guard v.isFinite && v >= 0 && (below1 ? v < 1 : v <= 1) else { throw fail(key, "must be in [0, 1\(below1 ? ")" : "]"), got \(v)") }
        }
        func nonNegative(_ key: String, _ v: Float) throws {
            guard v.isFinite && v >= 0 else { throw fail(key, "must be a finite number ≥ 0, got \(v)") }
        }
        // loss
        try nonNegative("loss.ce", loss.ce); try nonNegative("loss.center", loss.center); try nonNegative("loss.dls", loss.dls)
        if loss.ce + loss.center + loss.dls <= 0 { throw fail("loss.ce", "the loss weights ce, center and dls must not all be 0") }
        try fraction("loss.center_alpha", loss.centerAlpha)
        try fraction("loss.dls_epsilon", loss.dlsEpsilon, below1: true); try fraction("loss.dls_epsilon_max", loss.dlsEpsilonMax, below1: true)
        // optim
        guard optim.lr.isFinite && optim.lr > 0 else { throw fail("optim.lr", "must be a finite number > 0, got \(optim.lr)") }
        try nonNegative("optim.weight_decay", optim.weightDecay)
        if optim.betas.count != 2 { throw fail("optim.betas", "must have two values") }
        for b in optim.betas { try fraction("optim.betas", b, below1: true) }
        guard optim.layerDecay.isFinite && optim.layerDecay > 0 && optim.layerDecay <= 1 else {
            throw fail("optim.layer_decay", "must be in (0, 1], got \(optim.layerDecay)")
        }
        try nonNegative("optim.grad_clip", optim.gradClip)
        // schedule
        try range("schedule.epochs", schedule.epochs, 1...1_000_000)
        try range("schedule.warmup_epochs", schedule.warmupEpochs, 0...1_000_000)
        try nonNegative("schedule.min_lr", schedule.minLR)
        try range("schedule.patience", schedule.patience, 0...1_000_000)
        try fraction("schedule.ema", schedule.ema, below1: true)
        guard schedule.timeBudgetMinutes.isFinite && (0...525_600).contains(schedule.timeBudgetMinutes) else {
            throw fail("schedule.time_budget_minutes", "must be in 0…525600 minutes (0: no budget), got \(schedule.timeBudgetMinutes)")
        }
        // data
        try range("data.batch_size", data.batchSize, 1...65_536)
        if data.mean.count != data.std.count || data.mean.isEmpty { throw fail("data.std", "must have as many entries as data.mean") }
        for m in data.mean where !m.isFinite { throw fail("data.mean", "must be finite numbers") }
        for v in data.std where !(v.isFinite && v > 0) { throw fail("data.std", "must be finite numbers > 0, got \(v)") }
        try range("data.workers", data.workers, 1...256)
        try range("data.synthetic_count", data.syntheticCount, 7...10_000_000)
        try range("data.limit", data.limit, 0...Int(Int32.max))
        // augment
        for (key, p) in [("augment.hflip", augment.hflip), ("augment.crop", augment.crop), ("augment.color_jitter", augment.colorJitter),
                         ("augment.rotate", augment.rotate), ("augment.noise", augment.noise), ("augment.cutout", augment.cutout),
                         ("augment.mixup", augment.mixup)] { try fraction(key, p) }
        guard augment.rotateDegrees.isFinite && augment.rotateDegrees >= 0 && augment.rotateDegrees <= 180 else {
            throw fail("augment.rotate_degrees", "must be in [0, 180], got \(augment.rotateDegrees)")
        }
        guard augment.mixupAlpha.isFinite && augment.mixupAlpha > 0 && augment.mixupAlpha <= 100 else {
            throw fail("augment.mixup_alpha", "must be in (0, 100], got \(augment.mixupAlpha)")
        }
        try range("seed", seed, 0...Int(Int64.max))
    }

    /// JSON text of the resolved configuration (checkpoint metadata).
    public func jsonString() -> String {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        return String(decoding: try! enc.encode(self), as: UTF8.self)
    }

    /// YAML text of the resolved configuration (`RUN/config.yaml`).
    public func yamlString() -> String { (try? YAMLEncoder().encode(self)) ?? jsonString() }

    /// Decodes the JSON stored in checkpoint metadata.
    public static func fromJSON(_ s: String) throws -> Config {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any] else {
            throw ADNNError.invalid("checkpoint metadata: config is not valid JSON")
        }
        var c = Config()
        try c.apply(obj, file: "checkpoint config")
        return c
    }
}

extension Config {
    /// A readable name of a decoded type for error messages.
    static func typeName(_ t: Any.Type) -> String {
        switch t {
        case is Int.Type: return "a whole number"
        case is Float.Type, is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        case is [Float].Type: return "a list of numbers"
        default: return "\(t)"
        }
    }
}

/// Checks a config's YAML text before it is loaded.
enum YAMLSafety {
    /// The first anchor (`&name`) or alias (`*name`) outside quotes and comments, if any.
    static func firstAnchorOrAlias(_ text: String) -> String? {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var quote: Character? = nil
            var previous: Character = " "
            let chars = Array(line)
            for (i, ch) in chars.enumerated() {
                if let q = quote {
                    if ch == q { quote = nil }
                } else if ch == "\"" || ch == "'" {
                    quote = ch
                } else if ch == "#" && (previous == " " || previous == "\t" || i == 0) {
                    break
                } else if (ch == "&" || ch == "*") && " \t[{,:-".contains(previous), i + 1 < chars.count,
                          chars[i + 1].isLetter || chars[i + 1].isNumber || chars[i + 1] == "_" {
                    return String(chars[i..<min(chars.count, i + 24)]).split(separator: " ").first.map(String.init)
                }
                previous = ch
            }
        }
        return nil
    }

    /// The dotted path of the first mapping key that appears twice, if any.
    static func firstDuplicateKey(_ node: Node, path: String = "") -> String? {
        switch node {
        case .mapping(let mapping):
            var seen = Set<String>()
            for (k, v) in mapping {
                let name = k.string ?? "\(k)"
                let full = path.isEmpty ? name : path + "." + name
                if !seen.insert(name).inserted { return full }
                if let d = firstDuplicateKey(v, path: full) { return d }
            }
        case .sequence(let seq):
            for v in seq { if let d = firstDuplicateKey(v, path: path) { return d } }
        default: break
        }
        return nil
    }
}
