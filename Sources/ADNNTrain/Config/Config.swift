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
        enum CodingKeys: String, CodingKey { case epochs, warmupEpochs = "warmup_epochs", minLR = "min_lr", patience, monitor, ema }
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
        enum CodingKeys: String, CodingKey {
            case format, batchSize = "batch_size", clahe, faceAlign = "face_align", mean, std, workers, balanced
            case syntheticCount = "synthetic_count", limit
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
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ADNNError.io("\(path): cannot read config file")
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses YAML text (`file` is used in error messages).
    public static func parse(yaml text: String, file: String = "<config>") throws -> Config {
        let root: Any?
        do { root = try YAMLReader.load(text) } catch {
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
        let current = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as! [String: Any]
        let merged = try Config.merge(current, dict, path: "", file: file, nullable: Config.nullableKeys)
        let data = try JSONSerialization.data(withJSONObject: merged)
        do { self = try JSONDecoder().decode(Config.self, from: data) } catch let DecodingError.typeMismatch(_, ctx) {
            throw ADNNError.invalid("\(file): key '\(ctx.codingPath.map { $0.stringValue }.joined(separator: "."))' has the wrong type")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw ADNNError.invalid("\(file): key '\(ctx.codingPath.map { $0.stringValue }.joined(separator: "."))' is null")
        } catch let DecodingError.dataCorrupted(ctx) {
            let key = ctx.codingPath.map { $0.stringValue }.joined(separator: ".")
            throw ADNNError.invalid("\(file): key '\(key)': \(ctx.debugDescription)")
        }
        try validate(file: file)
    }

    static let nullableKeys: Set<String> = ["model.cbam", "model.transformer", "model.pretrained"]
    static let defaultSubsections: [String: Any] = [
        "model.cbam": try! JSONSerialization.jsonObject(with: JSONEncoder().encode(CBAMConfig())),
        "model.transformer": try! JSONSerialization.jsonObject(with: JSONEncoder().encode(TransformerConfig())),
    ]

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
                out[k] = v
            }
        }
        return out
    }

    /// Range checks with messages naming the key (run by every decode: `load`, `parse`, `apply`).
    public func validate(file: String) throws {
        func fail(_ key: String, _ why: String) -> ADNNError { .invalid("\(file): key '\(key)' \(why)") }
        if let problem = model.firstProblem() { throw fail("model." + problem.key, problem.reason) }
        if data.batchSize < 1 { throw fail("data.batch_size", "must be positive") }
        if data.mean.count != data.std.count || data.mean.isEmpty { throw fail("data.std", "must have as many entries as data.mean") }
        if optim.betas.count != 2 { throw fail("optim.betas", "must have two values") }
        if schedule.epochs < 1 { throw fail("schedule.epochs", "must be positive") }
        if !(schedule.ema >= 0 && schedule.ema < 1) { throw fail("schedule.ema", "must be in [0, 1), got \(schedule.ema)") }
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
