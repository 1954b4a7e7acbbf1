import Foundation

/// Training targets for one batch: hard labels plus, under mixup, a second label and weight λ;
/// optionally soft labels (annotator vote distributions, already mixed by λ), which then replace the
/// one-hot targets of the CE and DLS terms (the center loss keeps the dominant hard label).
public struct BatchTargets {
    public var labels: [Int]
    public var mixLabels: [Int]?
    public var lambda: [Float]?
    /// Label distributions `[N, K]`, row sums 1, or `nil` for one-hot targets.
    public var distributions: [Float]?
    public init(labels: [Int], mixLabels: [Int]? = nil, lambda: [Float]? = nil, distributions: [Float]? = nil) {
        self.labels = labels; self.mixLabels = mixLabels; self.lambda = lambda; self.distributions = distributions
    }
    /// The label carrying weight ≥ 0.5 for each sample (center loss under mixup, SPEC §1.4).
    public var dominantLabels: [Int] {
        guard let mix = mixLabels, let lam = lambda else { return labels }
        return labels.indices.map { lam[$0] >= 0.5 ? labels[$0] : mix[$0] }
    }
}

/// Center loss (Wen et al., ECCV 2016): ½·mean_i ‖f_i − c_{y_i}‖², centers updated after each step
/// with Δc_j = Σ_{i:y_i=j}(c_j − f_i)/(1 + n_j), c_j ← c_j − α·Δc_j. https://ydwen.github.io/papers/WenECCV16.pdf
public final class CenterLoss: Module {
    public let centers: Tensor   // [classes, d] buffer
    public let alpha: Float
    /// Mean over feature dimensions instead of the sum (`loss.center_per_dim`).
    public let perDimension: Bool

    public init(classes: Int, dim: Int, alpha: Float, perDimension: Bool = false) {
        centers = Tensor(zeros: [classes, dim])
        self.alpha = alpha
        self.perDimension = perDimension
    }

    /// Loss value (differentiable w.r.t. `features` only).
    // features: [N, d]
    public func callAsFunction(_ features: Tensor, labels: [Int]) -> Tensor {
        let c = centers.indexSelect(axis: 0, indices: labels)
        let scale: Float = perDimension ? 0.5 / Float(centers.shape[1]) : 0.5
        return (features - c).squared().sum(axes: [1]).mean() * scale
    }

    /// Moving center update (call after the optimiser step).
    public func update(features: Tensor, labels: [Int]) {
        applyUpdate(updateSums(features: features, labels: labels))
    }

    /// The sums behind one center update: `[classes·d]` of Σ_{i:y_i=j}(c_j − f_i), then `[classes]`
    /// sample counts. Data-parallel training adds these over the processes before `applyUpdate`.
    // features: [N, d]
    public func updateSums(features: Tensor, labels: [Int]) -> [Double] {
        let d = centers.shape[1], k = centers.shape[0]
        var sums = [Double](repeating: 0, count: k * d + k)
        let f = features.ptr, c = centers.ptr
        for (i, y) in labels.enumerated() {
            sums[k * d + y] += 1
            for j in 0..<d { sums[y * d + j] += Double(c[y * d + j] - f[i * d + j]) }
        }
        return sums
    }

    /// c_j ← c_j − α·Δc_j with Δc_j = sum_j / (1 + n_j), from `updateSums` (possibly added over processes).
    public func applyUpdate(_ sums: [Double]) {
        let d = centers.shape[1], k = centers.shape[0]
        let c = centers.ptr
        for y in 0..<k where sums[k * d + y] > 0 {
            let n = sums[k * d + y]
            for j in 0..<d { c[y * d + j] -= alpha * Float(sums[y * d + j] / (1 + n)) }
        }
    }
}

/// Distribution-aware label smoothing targets (SPEC §1.4): ε_y = min(ε·w_y, ε_max) with
/// inverse-frequency weights w_k = (1/n_k)/mean_j(1/n_j); q = (1−ε_y)·onehot(y) + ε_y·w/Σw.
public struct DistributionAwareSmoothing: Sendable {
    public let weights: [Float]     // w_k
    public let epsilon: Float, epsilonMax: Float

    public init(classCounts: [Int], epsilon: Float, epsilonMax: Float = 0.4) {
        let inv = classCounts.map { 1 / Double(max($0, 1)) }
        let mean = inv.reduce(0, +) / Double(max(inv.count, 1))
        weights = inv.map { Float($0 / mean) }
        self.epsilon = epsilon; self.epsilonMax = epsilonMax
    }

    /// Smoothed target distribution for one label.
    public func target(_ y: Int) -> [Float] {
        let eps = min(epsilon * weights[y], epsilonMax)
        let total = weights.reduce(0, +)
        var q = weights.map { eps * $0 / total }
        q[y] += 1 - eps
        return q
    }

    /// Targets `[N, K]` for a batch (mixed by λ under mixup). With label distributions the target is
    /// linear in them: `Σ_c p_c · target(c)` (one-hot `p` gives `target(y)`).
    public func targets(_ t: BatchTargets) -> Tensor {
        let k = weights.count, n = t.labels.count
        var out = [Float](repeating: 0, count: n * k)
        if let p = t.distributions {
            precondition(p.count == n * k, "DLS targets: distributions hold \(p.count) values, expected \(n)×\(k)")
            let rows = (0..<k).map(target)
            for i in 0..<n {
                for c in 0..<k where p[i * k + c] != 0 {
                    for j in 0..<k { out[i * k + j] += p[i * k + c] * rows[c][j] }
                }
            }
            return Tensor(out, shape: [n, k])
        }
        for i in 0..<n {
            let qa = target(t.labels[i])
            let lam = t.lambda?[i] ?? 1
            for j in 0..<k { out[i * k + j] = lam * qa[j] }
            if let mix = t.mixLabels, lam < 1 {
                let qb = target(mix[i])
                for j in 0..<k { out[i * k + j] += (1 - lam) * qb[j] }
            }
        }
        return Tensor(out, shape: [n, k])
    }
}

/// Weights and settings of the compound loss (SPEC §2 `loss`), kept beside the loss.
public struct CompoundLossConfig: Codable, Equatable, Sendable {
    public var ce: Float = 0.60, center: Float = 0.25, dls: Float = 0.15
    public var centerAlpha: Float = 0.5, dlsEpsilon: Float = 0.1, dlsEpsilonMax: Float = 0.4
    /// Divide the center loss by the feature width (mean over dimensions instead of SPEC's sum).
    /// With wide LayerNorm-ed features the summed form dominates CE and collapses the features.
    public var centerPerDim = false
    public init(ce: Float = 0.60, center: Float = 0.25, dls: Float = 0.15, centerAlpha: Float = 0.5,
                dlsEpsilon: Float = 0.1, dlsEpsilonMax: Float = 0.4) {
        self.ce = ce; self.center = center; self.dls = dls
        self.centerAlpha = centerAlpha; self.dlsEpsilon = dlsEpsilon; self.dlsEpsilonMax = dlsEpsilonMax
    }
    enum CodingKeys: String, CodingKey {
        case ce, center, dls, centerAlpha = "center_alpha", dlsEpsilon = "dls_epsilon", dlsEpsilonMax = "dls_epsilon_max"
        case centerPerDim = "center_per_dim"
    }
}

/// `L = w_ce·CE + w_center·Center + w_dls·DLS` (SPEC §1.4), with each term reported.
public final class CompoundLoss {
    public let config: CompoundLossConfig
    public let center: CenterLoss
    public let smoothing: DistributionAwareSmoothing
    public let numClasses: Int

    public init(config: CompoundLossConfig, numClasses: Int, featureDim: Int, classCounts: [Int]) {
        self.config = config
        self.numClasses = numClasses
        center = CenterLoss(classes: numClasses, dim: featureDim, alpha: config.centerAlpha, perDimension: config.centerPerDim)
        smoothing = DistributionAwareSmoothing(classCounts: classCounts, epsilon: config.dlsEpsilon, epsilonMax: config.dlsEpsilonMax)
    }

    /// One-hot (or mixup-soft) targets `[N, K]`; the label distributions when the batch has them.
    public func hardTargets(_ t: BatchTargets) -> Tensor {
        let n = t.labels.count
        if let p = t.distributions {
            precondition(p.count == n * numClasses, "CE targets: distributions hold \(p.count) values, expected \(n)×\(numClasses)")
            return Tensor(p, shape: [n, numClasses])
        }
        var out = [Float](repeating: 0, count: n * numClasses)
        for i in 0..<n {
            let lam = t.lambda?[i] ?? 1
            out[i * numClasses + t.labels[i]] += lam
            if let mix = t.mixLabels, lam < 1 { out[i * numClasses + mix[i]] += 1 - lam }
        }
        return Tensor(out, shape: [n, numClasses])
    }

    /// Total loss and its terms (ce, center, dls) as plain numbers.
    public func callAsFunction(logits: Tensor, features: Tensor, targets: BatchTargets)
        -> (total: Tensor, ce: Float, center: Float, dls: Float) {
        var total: Tensor? = nil
        var ce: Float = 0, cen: Float = 0, dls: Float = 0
        if config.ce > 0 {
            let l = softmaxCrossEntropy(logits, softTargets: hardTargets(targets))
            ce = l.item; total = l * config.ce
        }
        if config.center > 0 {
            let l = center(features, labels: targets.dominantLabels)
            cen = l.item; total = total.map { $0 + l * config.center } ?? l * config.center
        }
        if config.dls > 0 {
            let l = softmaxCrossEntropy(logits, softTargets: smoothing.targets(targets))
            dls = l.item; total = total.map { $0 + l * config.dls } ?? l * config.dls
        }
        return (total ?? softmaxCrossEntropy(logits, softTargets: hardTargets(targets)), ce, cen, dls)
    }
}
