import Foundation
import ADNN

/// A training checkpoint (SPEC §4): model tensors under PyTorch names plus metadata
/// `format: adnn/1`, `config` (resolved config JSON), `classes` (JSON list), `epoch`, `metric`.
/// Extra tensors (center-loss centers, optimiser moments) live under their own prefixes.
public struct Checkpoint {
    public var tensors: [(String, Tensor)]
    public var config: Config
    public var classes: [String]
    public var epoch: Int
    public var metric: Float
    /// Additional metadata (e.g. `train_state` JSON for resume).
    public var extra: [String: String] = [:]

    public init(tensors: [(String, Tensor)], config: Config, classes: [String], epoch: Int, metric: Float, extra: [String: String] = [:]) {
        self.tensors = tensors; self.config = config; self.classes = classes; self.epoch = epoch; self.metric = metric; self.extra = extra
    }

    /// Writes atomically (temp file + rename); `half` stores the tensors as F16 where they fit.
    public func write(to path: String, half: Bool = false) throws {
        var meta = extra
        meta["format"] = "adnn/1"
        meta["config"] = config.jsonString()
        meta["classes"] = String(decoding: try JSONSerialization.data(withJSONObject: classes), as: UTF8.self)
        meta["epoch"] = String(epoch)
        meta["metric"] = String(metric)
        try SafeTensors.write(tensors, metadata: meta, to: path, half: half)
    }

    /// Reads and validates an `adnn/1` checkpoint; errors name the file.
    public static func read(_ path: String) throws -> Checkpoint {
        let st = try SafeTensors.read(path)
        guard st.metadata["format"] == "adnn/1" else {
            throw ADNNError.invalid("\(path): not an adnn checkpoint (metadata format is \(st.metadata["format"].map { "'\($0)'" } ?? "missing"))")
        }
        guard let cfgText = st.metadata["config"] else { throw ADNNError.invalid("\(path): checkpoint metadata has no config") }
        let config: Config
        do { config = try Config.fromJSON(cfgText) } catch { throw ADNNError.invalid("\(path): \(error)") }
        let classes = (try? JSONSerialization.jsonObject(with: Data((st.metadata["classes"] ?? "[]").utf8)) as? [String]) ?? []
        var extra = st.metadata
        for k in ["format", "config", "classes", "epoch", "metric"] { extra.removeValue(forKey: k) }
        if let t = extra[Checkpoint.temperatureKey], !(Float(t).map { $0.isFinite && $0 > 0 } ?? false) {
            throw ADNNError.invalid("\(path): metadata \(Checkpoint.temperatureKey) '\(t)' is not a positive number")
        }
        return Checkpoint(tensors: st.order.map { ($0, st.tensors[$0]!) }, config: config, classes: classes,
                          epoch: Int(st.metadata["epoch"] ?? "0") ?? 0, metric: Float(st.metadata["metric"] ?? "0") ?? 0, extra: extra)
    }

    /// The model alone, for inference and shipping: optimiser moments, center-loss centers, EMA
    /// shadows and the resume state dropped. A checkpoint trained with EMA keeps the averaged weights
    /// (those `best` holds).
    public var inferenceOnly: Checkpoint {
        var c = self
        c.tensors = tensors.filter { !Checkpoint.isTrainingState($0.0) }
        c.extra.removeValue(forKey: "train_state")
        return c
    }

    /// Whether a tensor name is training state rather than model: optimiser moments (`optim.`),
    /// center-loss centers (`center_loss.`), EMA shadows (`ema.`).
    public static func isTrainingState(_ name: String) -> Bool {
        name.hasPrefix("optim.") || name.hasPrefix("center_loss.") || name.hasPrefix("ema.")
    }

    /// Metadata key of the fitted softmax temperature (`adnn calibrate`).
    public static let temperatureKey = "temperature"

    /// The softmax temperature the model's probabilities use (`ADNNFER.temperature`): the fitted one
    /// `adnn calibrate` stored, else 1. Setting it to 1 removes the key.
    public var temperature: Float {
        get { extra[Checkpoint.temperatureKey].flatMap { Float($0) } ?? 1 }
        set { extra[Checkpoint.temperatureKey] = newValue == 1 ? nil : String(newValue) }
    }

    /// Tensors as a dictionary.
    public var tensorDict: [String: Tensor] { Dictionary(tensors, uniquingKeysWith: { a, _ in a }) }

    /// Builds the model from the stored config and loads its weights (strict); `source` names the
    /// file in errors.
    public func makeModel(source: String = "checkpoint") throws -> ADNNFER {
        let model = try ADNNFER(config.model)
        let sd = tensorDict.filter { !Checkpoint.isTrainingState($0.key) }
        do { try model.load(stateDict: sd, strict: true) } catch {
            throw ADNNError.invalid("\(source): checkpoint does not match its config: \(error)")
        }
        model.eval()
        model.temperature = temperature
        return model
    }
}
