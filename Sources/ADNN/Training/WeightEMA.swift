import Foundation

/// Exponential moving average of a model's weights and running statistics (Polyak averaging, as timm's
/// `ModelEmaV3`): after each step `e ← d·e + (1 − d)·w` with the warm-up `d = min(decay, (1 + t)/(10 + t))`
/// so early averages are not dominated by the random initialisation.
/// https://github.com/huggingface/pytorch-image-models/blob/main/timm/utils/model_ema.py
public final class WeightEMA {
    public let decay: Float
    /// Updates so far.
    public private(set) var updates = 0
    private let live: [(name: String, tensor: Tensor)]
    private let shadow: [Tensor]

    public init(_ model: Module, decay: Float) {
        self.decay = decay
        live = model.namedTensors().map { ($0.name, $0.tensor) }
        shadow = live.map { $0.tensor.copy() }
    }

    /// The decay used for update number `t` (0-based).
    public func effectiveDecay(at t: Int) -> Float { min(decay, Float(1 + t) / Float(10 + t)) }

    /// Folds the current weights into the average.
    public func update() {
        let d = effectiveDecay(at: updates)
        updates += 1
        for (e, w) in zip(shadow, live) {
            let ep = e.ptr, wp = w.tensor.ptr
            for i in 0..<e.count { ep[i] = d * ep[i] + (1 - d) * wp[i] }
        }
    }

    /// Runs `body` with the averaged weights in the model, then puts the live weights back.
    public func withAveragedWeights<T>(_ body: () throws -> T) rethrows -> T {
        let saved = live.map { $0.tensor.copy() }
        for (e, w) in zip(shadow, live) { w.tensor.assign(e) }
        defer { for (s, w) in zip(saved, live) { w.tensor.assign(s) } }
        return try body()
    }

    /// Checkpoint tensors `ema.<name>` and `ema.updates`.
    public func stateTensors() -> [(String, Tensor)] {
        zip(live, shadow).map { ("ema." + $0.0.name, $0.1) } + [("ema.updates", Tensor([Float(updates)], shape: [1]))]
    }

    /// Restores the average from checkpoint tensors; `source` names the file in errors.
    public func loadState(_ tensors: [String: Tensor], source: String) throws {
        for (w, e) in zip(live, shadow) {
            guard let t = tensors["ema." + w.name], t.count == e.count else {
                throw ADNNError.invalid("\(source): checkpoint has no EMA weights for '\(w.name)' (schedule.ema is on)")
            }
            e.assign(t.reshaped(e.shape))
        }
        updates = Int(tensors["ema.updates"]?.scalars.first ?? 0)
    }
}
