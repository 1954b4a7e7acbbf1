import Foundation
import ADNN
import ADNNData

/// Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017,
/// https://arxiv.org/abs/1706.04599): one scalar `T` divides the logits before the softmax, fitted
/// to minimise the negative log-likelihood of held-out labels. It changes confidence, never the
/// arg-max of a single view. Models trained with soft labels, label smoothing (DLS) and mixup come
/// out under-confident (T < 1 sharpens them); plain cross-entropy ones over-confident (T > 1).
public struct TemperatureFit: Equatable {
    /// The fitted temperature.
    public let temperature: Float
    /// Images the fit used.
    public let n: Int
    /// Mean NLL and ECE (10 bins) at the temperature the model had before, and at the fitted one.
    public let nllBefore: Double, nllAfter: Double
    public let eceBefore: Double, eceAfter: Double
    /// ECE when each half of the images (even / odd positions) is scored with the temperature fitted
    /// on the other half: the calibration to expect on images the fit did not see.
    public let eceHeldOut: Double
    /// Accuracy at the fitted temperature (with several views it can move slightly).
    public let accuracy: Double

    /// The fit as a JSON object (stored in the checkpoint's `calibration` metadata).
    public func json() -> [String: Any] {
        ["temperature": Double(temperature), "n": n, "nll_before": nllBefore, "nll_after": nllAfter,
         "ece_before": eceBefore, "ece_after": eceAfter, "ece_held_out": eceHeldOut, "accuracy": accuracy]
    }
}

/// Logits of every view of every image, for fitting a temperature. `views[v]` is `[n, k]`.
public struct ViewLogits {
    public var views: [[Float]]
    public var labels: [Int]
    public let classes: Int

    public init(views: [[Float]], labels: [Int], classes: Int) {
        precondition(!views.isEmpty && views.allSatisfy { $0.count == labels.count * classes },
                     "ViewLogits: every view must hold labels × classes logits")
        self.views = views; self.labels = labels; self.classes = classes
    }

    /// The images at `indices` only.
    public func subset(_ indices: [Int]) -> ViewLogits {
        let k = classes
        return ViewLogits(views: views.map { v in indices.flatMap { v[($0 * k)..<(($0 + 1) * k)] } },
                          labels: indices.map { labels[$0] }, classes: k)
    }

    /// `[n, k]` probabilities at temperature `t`: each view's softmax of logits / t, averaged over views
    /// (as `TestTimeAugmentation.probabilities` does).
    public func probabilities(temperature t: Float) -> [Float] {
        let k = classes, n = labels.count, inv = 1 / t, share = 1 / Float(views.count)
        var out = [Float](repeating: 0, count: n * k)
        var e = [Float](repeating: 0, count: k)
        for v in views {
            for i in 0..<n {
                var m = -Float.infinity
                for j in 0..<k { m = max(m, v[i * k + j] * inv) }
                var s: Float = 0
                for j in 0..<k { e[j] = Foundation.exp(v[i * k + j] * inv - m); s += e[j] }
                for j in 0..<k { out[i * k + j] += e[j] / s * share }
            }
        }
        return out
    }

    /// Mean negative log-likelihood of the labels at temperature `t`.
    public func nll(temperature t: Float) -> Double {
        let p = probabilities(temperature: t), k = classes
        guard !labels.isEmpty else { return 0 }
        return labels.enumerated().reduce(0.0) { $0 - Foundation.log(Double(max(p[$1.offset * k + $1.element], 1e-12))) }
            / Double(labels.count)
    }

    /// The temperature in 0.05…20 of least NLL: golden-section search on log T (the NLL of one view
    /// is convex in 1/T; averaging views keeps it unimodal in practice).
    public func fitTemperature() -> Float {
        var a = Foundation.log(0.05), b = Foundation.log(20.0)
        let g = (Foundation.sqrt(5.0) - 1) / 2
        var c = b - g * (b - a), d = a + g * (b - a)
        var fc = nll(temperature: Float(Foundation.exp(c))), fd = nll(temperature: Float(Foundation.exp(d)))
        for _ in 0..<48 {
            if fc < fd { b = d; d = c; fd = fc; c = b - g * (b - a); fc = nll(temperature: Float(Foundation.exp(c))) }
            else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = nll(temperature: Float(Foundation.exp(d))) }
        }
        return Float(Foundation.exp((a + b) / 2))
    }

    /// Fits a temperature and measures it (`TemperatureFit`); `current` is the temperature the model
    /// had before.
    public func fit(current: Float = 1) -> TemperatureFit {
        let t = fitTemperature()
        let k = classes
        let before = probabilities(temperature: current), after = probabilities(temperature: t)
        // Two-fold cross-fit: each half scored at the other half's temperature.
        let even = Array(stride(from: 0, to: labels.count, by: 2)), odd = Array(stride(from: 1, to: labels.count, by: 2))
        var held = 0.0
        if !odd.isEmpty {
            for (fitOn, scoreOn) in [(even, odd), (odd, even)] {
                let part = subset(scoreOn)
                let p = part.probabilities(temperature: subset(fitOn).fitTemperature())
                held += expectedCalibrationError(probabilities: p, labels: part.labels, classes: k) * Double(scoreOn.count)
            }
            held /= Double(labels.count)
        } else {
            held = expectedCalibrationError(probabilities: after, labels: labels, classes: k)
        }
        let correct = labels.enumerated().filter { i, y in
            (0..<k).max { after[i * k + $0] < after[i * k + $1] } == y
        }.count
        return TemperatureFit(temperature: t, n: labels.count, nllBefore: nll(temperature: current), nllAfter: nll(temperature: t),
                              eceBefore: expectedCalibrationError(probabilities: before, labels: labels, classes: k),
                              eceAfter: expectedCalibrationError(probabilities: after, labels: labels, classes: k),
                              eceHeldOut: held, accuracy: labels.isEmpty ? 0 : Double(correct) / Double(labels.count))
    }
}

/// `adnn calibrate`: fits a checkpoint's softmax temperature on a labelled split (validation by
/// default, never the one you report accuracy on if you have a third) for the test-time augmentation
/// it will be used with, and writes a copy of the checkpoint that stores it. `eval`, `predict`,
/// `video` and ensembles then use the calibrated probabilities; accuracy is unchanged.
public struct CalibrationRequest {
    public var checkpoint: String
    public var data: String
    /// The split to fit on (default `val`).
    public var split: String
    public var out: String
    public var tta: TestTimeAugmentation
    public var batchSize: Int
    /// Replace an existing `out` (which may be the checkpoint itself).
    public var force: Bool

    public init(checkpoint: String, data: String, split: String = "val", out: String, tta: TestTimeAugmentation = .none,
                batchSize: Int = 64, force: Bool = false) {
        self.checkpoint = checkpoint; self.data = data; self.split = split; self.out = out; self.tta = tta
        self.batchSize = batchSize; self.force = force
    }

    /// Fits, writes `out` atomically and returns the fit.
    @discardableResult
    public func run(printing: Bool = true) throws -> TemperatureFit {
        guard batchSize >= 1 else { throw ADNNError.invalid("--batch \(batchSize): must be positive") }
        guard FileManager.default.fileExists(atPath: checkpoint) else { throw ADNNError.io("\(checkpoint): no such checkpoint") }
        if FileManager.default.fileExists(atPath: out) && !force {
            throw ADNNError.io("\(out): already exists (pass --force to replace it)")
        }
        var ck = try Checkpoint.read(checkpoint)
        let model = try ck.makeModel(source: checkpoint)
        var cfg = ck.config
        cfg.data.format = .auto
        let dataset = try openDataset(cfg, path: data)
        guard dataset.splitNames.contains(split) else {
            throw ADNNError.invalid("--split \(split): \(data) has \(dataset.splitNames.joined(separator: ", "))")
        }
        let classes = ck.classes.isEmpty ? dataset.classes : ck.classes
        let map = dataset.classes.map { name in classes.firstIndex(of: name) ?? -1 }
        let identity = map == Array(0..<map.count) && classes.count == dataset.classes.count
        let loader = try DataLoader(dataset: dataset, split: split, transform: evalTransform(cfg), augment: nil,
                                    options: LoaderOptions(batchSize: batchSize, shuffle: false, workers: max(1, cfg.data.workers),
                                                           seed: UInt64(cfg.seed)))
        let provider = LoaderProvider(loader, labelMap: identity ? nil : map)
        var views = [[Float]](repeating: [], count: tta.views), labels: [Int] = []
        noGrad { withFrozenWeights {
            let it = provider.batches(epoch: 0)
            while let b = it.next() {
                for (v, x) in tta.views(of: b.images).enumerated() { views[v] += model(x).scalars }
                labels += b.targets.labels
            }
        } }
        if let why = provider.failure { throw ADNNError.invalid(why) }
        guard !labels.isEmpty else { throw ADNNError.invalid("\(data): no images of classes the model knows in split \(split)") }
        guard views.allSatisfy({ $0.allSatisfy { $0.isFinite } }) else {
            throw ADNNError.invalid("\(checkpoint): the model's outputs are not finite (damaged weights?)")
        }
        let previous = ck.temperature
        let fit = ViewLogits(views: views, labels: labels, classes: classes.count).fit(current: previous)
        ck.temperature = fit.temperature
        var record = fit.json()
        record["dataset"] = dataset.root; record["split"] = split; record["tta"] = tta.rawValue
        ck.extra["calibration"] = jsonLine(record)
        // Keep the file's precision: a float16 export stays float16.
        let half = try SafeTensors.read(checkpoint).dtypes.values.contains("F16")
        try ck.write(to: out, half: half)
        if printing {
            print(String(format: "%@: temperature %.4f fitted on %d images of %@ %@ (%@ TTA)", checkpoint, fit.temperature, fit.n,
                         dataset.root, split, tta.rawValue))
            print("| | NLL | ECE (10 bins) |\n|---|---:|---:|")
            print(String(format: "| before (T = %.4g) | %.4f | %.2f %% |", Double(previous),
                         fit.nllBefore, fit.eceBefore * 100))
            print(String(format: "| after (T = %.4g) | %.4f | %.2f %% |", fit.temperature, fit.nllAfter, fit.eceAfter * 100))
            print(String(format: "| after, each half fitted on the other | | %.2f %% |", fit.eceHeldOut * 100))
            print(String(format: "accuracy %.2f %%; wrote %@", fit.accuracy * 100, out))
        }
        return fit
    }
}
