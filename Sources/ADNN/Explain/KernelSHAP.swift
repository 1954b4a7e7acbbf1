import Foundation

/// Kernel SHAP (Lundberg & Lee, "A Unified Approach to Interpreting Model Predictions",
/// NeurIPS 2017, https://arxiv.org/abs/1705.07874): Shapley values of a function of `M` binary
/// features ("present" or "absent", i.e. replaced by a baseline), estimated by a weighted linear
/// regression over coalitions with the Shapley kernel `π(z) = (M−1) / (C(M,|z|)·|z|·(M−|z|))`.
///
/// Coalitions: sizes are taken in pairs `(s, M−s)` from the outside in (the sizes with the most
/// kernel mass); while the budget covers every coalition of a pair, the pair is enumerated with its
/// exact kernel weights. The remaining budget samples the middle sizes with probability ∝ their
/// kernel mass, a uniformly random subset of that size, and its complement (paired sampling); these
/// share the remaining mass equally. When every size fits the budget the result is the exact
/// Shapley values.
///
/// The empty and the full coalition carry infinite weight in the paper; here they are imposed
/// exactly as constraints — `φ₀ = f(∅)` and `Σ φ_i = f(all) − f(∅)` (efficiency) — by eliminating
/// the last feature from the regression, which is the limit of giving them ever larger weights.
/// The regression is solved in double precision with a tiny ridge (`LeastSquares.weighted`).
public struct KernelSHAP: Sendable {
    /// Coalitions evaluated besides the empty and the full one.
    public var samples: Int
    /// Seed of the coalition sampler.
    public var seed: UInt64
    /// Ridge of the regression, relative to the mean diagonal of its normal matrix.
    public var ridge: Double

    /// - Parameters:
    ///   - samples: coalitions evaluated besides ∅ and the full coalition (≥ 1).
    ///   - seed: seed of the coalition sampler (results are deterministic per seed).
    ///   - ridge: relative ridge of the weighted least-squares solve.
    public init(samples: Int = 512, seed: UInt64 = 0, ridge: Double = 1e-10) {
        precondition(samples >= 1, "KernelSHAP: samples must be ≥ 1, got \(samples)")
        self.samples = samples; self.seed = seed; self.ridge = ridge
    }

    /// Shapley values of one explained output.
    public struct Result: Sendable {
        /// `φ_i`, one per feature.
        public var values: [Float]
        /// `φ₀ = f(∅)`: the output with every feature absent.
        public var baseValue: Float
        /// `f(all)`: the output with every feature present; `baseValue + Σ values` equals it.
        public var fullValue: Float
        /// Function evaluations, ∅ and the full coalition included.
        public var evaluations: Int
        /// True when every coalition was enumerated, so `values` are the exact Shapley values.
        public var isExact: Bool
    }

    /// Total kernel weight of all coalitions of size `s` (`π(z) · C(M, s)`).
    static func kernelMass(size s: Int, features m: Int) -> Double { Double(m - 1) / Double(s * (m - s)) }

    /// `C(n, k)` in floating point (exact for the sizes that can be enumerated).
    static func binomial(_ n: Int, _ k: Int) -> Double {
        var r = 1.0
        for i in 0..<min(k, n - k) { r = r * Double(n - i) / Double(i + 1) }
        return r.rounded()
    }

    /// The coalitions to evaluate (`true`: feature present) with their regression weights, ∅ and
    /// the full coalition excluded.
    public func coalitions(featureCount m: Int) -> (masks: [[Bool]], weights: [Double], isExact: Bool) {
        precondition(m >= 1, "KernelSHAP: needs at least one feature, got \(m)")
        if m == 1 { return ([], [], true) }
        var masks: [[Bool]] = [], weights: [Double] = []
        var budget = samples
        var remainingMass = (1..<m).reduce(0.0) { $0 + Self.kernelMass(size: $1, features: m) }
        var s = 1
        while s <= m - s {
            let paired = s != m - s
            let perSize = Self.binomial(m, s)
            let count = perSize * (paired ? 2 : 1)
            guard count <= Double(budget) else { break }
            let w = Self.kernelMass(size: s, features: m) / perSize
            forEachSubset(of: m, size: s) { subset in
                masks.append(subset); weights.append(w)
                if paired { masks.append(subset.map { !$0 }); weights.append(w) }
            }
            budget -= Int(count)
            remainingMass -= Self.kernelMass(size: s, features: m) * (paired ? 2 : 1)
            s += 1
        }
        if s > m - s { return (masks, weights, true) }
        guard budget > 0 else { return (masks, weights, false) }
        // Sample the middle sizes s…M−s with probability ∝ kernel mass.
        let sizes = Array(s...(m - s))
        var cumulative: [Double] = []
        var total = 0.0
        for k in sizes { total += Self.kernelMass(size: k, features: m); cumulative.append(total) }
        var rng = SeededRNG(seed: seed)
        var indices = Array(0..<m)
        var drawn: [[Bool]] = []
        drawn.reserveCapacity(budget)
        while drawn.count < budget {
            let u = rng.nextDouble() * total
            let size = sizes[cumulative.firstIndex { u < $0 } ?? sizes.count - 1]
            // Partial Fisher–Yates: the first `size` entries become a uniform random subset.
            for i in 0..<size {
                let j = i + Int(rng.next() % UInt64(m - i))
                indices.swapAt(i, j)
            }
            var subset = [Bool](repeating: false, count: m)
            for i in 0..<size { subset[indices[i]] = true }
            drawn.append(subset)
            if drawn.count < budget { drawn.append(subset.map { !$0 }) }
        }
        let w = remainingMass / Double(drawn.count)
        return (masks + drawn, weights + [Double](repeating: w, count: drawn.count), false)
    }

    /// Calls `body` with every subset of `0..<n` of `size` elements (as presence masks), in
    /// lexicographic order of their index sets.
    func forEachSubset(of n: Int, size k: Int, _ body: ([Bool]) -> Void) {
        var chosen = Array(0..<k)
        while true {
            var mask = [Bool](repeating: false, count: n)
            for i in chosen { mask[i] = true }
            body(mask)
            var i = k - 1
            while i >= 0 && chosen[i] == n - k + i { i -= 1 }
            if i < 0 { return }
            chosen[i] += 1
            for j in (i + 1)..<k { chosen[j] = chosen[j - 1] + 1 }
        }
    }

    /// Explains `f` over `featureCount` binary features.
    ///
    /// - Parameters:
    ///   - featureCount: `M ≥ 1`.
    ///   - evaluate: `f` on a batch of coalitions (`masks[j][i]`: feature `i` present in coalition
    ///     `j`); must return one value per mask. It is called once, with ∅ and the full coalition first.
    /// - Returns: the Shapley-value estimates; `baseValue + Σ values == fullValue` up to rounding.
    public func explain(featureCount m: Int, evaluate: ([[Bool]]) throws -> [Float]) rethrows -> Result {
        let (sampled, weights, isExact) = coalitions(featureCount: m)
        let masks = [[Bool](repeating: false, count: m), [Bool](repeating: true, count: m)] + sampled
        let outputs = try evaluate(masks)
        precondition(outputs.count == masks.count, "KernelSHAP: evaluate returned \(outputs.count) values for \(masks.count) coalitions")
        let base = Double(outputs[0]), full = Double(outputs[1])
        let delta = full - base
        var phi = [Double](repeating: 0, count: m)
        if m == 1 {
            phi[0] = delta
        } else {
            // f(z) − f(∅) − z_M·Δ = Σ_{i<M} φ_i (z_i − z_M): the last feature eliminated by efficiency.
            var rows: [[Double]] = [], targets: [Double] = []
            rows.reserveCapacity(sampled.count); targets.reserveCapacity(sampled.count)
            for (j, z) in sampled.enumerated() {
                let zm: Double = z[m - 1] ? 1 : 0
                rows.append((0..<(m - 1)).map { (z[$0] ? 1 : 0) - zm })
                targets.append(Double(outputs[j + 2]) - base - zm * delta)
            }
            let beta = LeastSquares.weighted(rows: rows, targets: targets, weights: weights, ridge: ridge)
            for i in 0..<(m - 1) { phi[i] = beta[i] }
            phi[m - 1] = delta - beta.reduce(0, +)
        }
        return Result(values: phi.map { Float($0) }, baseValue: Float(base), fullValue: Float(full),
                      evaluations: masks.count, isExact: isExact)
    }
}
