import Foundation
import ADNN

/// Bayesian optimisation of a black-box function on the unit cube [0, 1]^d, maximising: a
/// Gaussian-process surrogate (``GaussianProcess``, Matérn-5/2 ARD, hyper-parameters by maximum
/// marginal likelihood) and the Expected Improvement acquisition (``ExpectedImprovement``), after
/// a seeded Latin-hypercube start (Snoek, Larochelle & Adams, "Practical Bayesian Optimization of
/// Machine Learning Algorithms", NeurIPS 2012, https://arxiv.org/abs/1206.2944; Jones et al. 1998).
///
/// ``nextPoint(observed:values:)`` is the one entry point: it depends only on the observations, the
/// seed and the settings, so an interrupted search that replays its observations proposes the same
/// points again.
public struct Tuner: Sendable {
    /// Dimension d of the search cube.
    public let dimensions: Int
    /// Seed of the initial design and of the candidate draws.
    public let seed: UInt64
    /// Number of proposals taken from the Latin hypercube before the GP is used (default max(3, d + 1)).
    public let initialPoints: Int
    /// Uniform random candidates scored by EI per proposal.
    public var randomCandidates = 2000
    /// Gaussian perturbations of the best observed points scored per proposal.
    public var localCandidates = 500
    /// EI margin ξ in units of the targets' standard deviation.
    public var margin = 0.01
    /// Maps a unit-cube point to the nearest point the caller can evaluate (integer settings,
    /// rounded values); candidates are scored after it, so proposals are never cut off later.
    public var quantize: (@Sendable ([Double]) -> [Double])?

    public init(dimensions: Int, seed: UInt64, initialPoints: Int? = nil,
                quantize: (@Sendable ([Double]) -> [Double])? = nil) {
        precondition(dimensions >= 1, "Tuner: need at least one dimension")
        precondition((initialPoints ?? 1) >= 1, "Tuner: need at least one initial point")
        self.dimensions = dimensions; self.seed = seed
        self.initialPoints = initialPoints ?? max(3, dimensions + 1)
        self.quantize = quantize
    }

    /// The Latin-hypercube design of the first ``initialPoints`` proposals (McKay, Beckman &
    /// Conover 1979): each dimension's range is cut into that many equal strata, each used once,
    /// with a uniform position inside the stratum.
    public func initialDesign() -> [[Double]] {
        var rng = SeededRNG(seed: seed)
        let m = initialPoints
        var points = [[Double]](repeating: [Double](repeating: 0, count: dimensions), count: m)
        for d in 0..<dimensions {
            var strata = Array(0..<m)
            for i in stride(from: m - 1, to: 0, by: -1) {  // Fisher–Yates
                let j = Int(rng.next() % UInt64(i + 1))
                strata.swapAt(i, j)
            }
            for i in 0..<m { points[i][d] = (Double(strata[i]) + rng.nextDouble()) / Double(m) }
        }
        return points.map { quantize?($0) ?? $0 }
    }

    /// The next point to evaluate, given the points evaluated so far and their values (larger is
    /// better). The first ``initialPoints`` come from ``initialDesign()``; later ones maximise EI
    /// over random candidates plus perturbations of the five best points, refined around the five
    /// best-scoring candidates.
    public func nextPoint(observed: [[Double]], values: [Double]) -> [Double] {
        precondition(observed.count == values.count, "Tuner: \(observed.count) points for \(values.count) values")
        precondition(observed.allSatisfy { $0.count == dimensions }, "Tuner: points must have \(dimensions) coordinates")
        precondition(values.allSatisfy(\.isFinite), "Tuner: values must be finite")
        let n = observed.count
        if n < initialPoints { return initialDesign()[n] }
        var rng = SeededRNG(seed: seed ^ (0x9E37_79B9_7F4A_7C15 &* UInt64(n + 1)))
        let gp = GaussianProcess.fit(inputs: observed, targets: values)
        let best = values.max()!
        let xi = margin * gp.targetScale
        let seen = Set(observed)
        func score(_ x: [Double]) -> (ei: Double, variance: Double) {
            if seen.contains(x) { return (0, 0) }
            let p = gp.predict(x)
            return (ExpectedImprovement.value(mean: p.mean, standardDeviation: p.variance.squareRoot(), best: best, margin: xi), p.variance)
        }
        func perturb(_ x: [Double], _ sigma: Double) -> [Double] {
            let y = x.map { min(max($0 + sigma * Double(rng.nextNormal()), 0), 1) }
            return quantize?(y) ?? y
        }
        var candidates: [[Double]] = []
        candidates.reserveCapacity(randomCandidates + localCandidates)
        for _ in 0..<randomCandidates {
            let x = (0..<dimensions).map { _ in rng.nextDouble() }
            candidates.append(quantize?(x) ?? x)
        }
        let leaders = (0..<n).sorted { values[$0] > values[$1] }.prefix(5).map { observed[$0] }
        let sigmas = [0.02, 0.05, 0.1, 0.2]
        for i in 0..<localCandidates { candidates.append(perturb(leaders[i % leaders.count], sigmas[i / leaders.count % sigmas.count])) }
        var scored = candidates.map { (x: $0, s: score($0)) }
        scored.sort { $0.s.ei > $1.s.ei }
        var winner = scored[0]
        for start in scored.prefix(5) {
            var current = start
            var sigma = 0.05
            for _ in 0..<3 {
                for _ in 0..<20 {
                    let x = perturb(current.x, sigma)
                    let s = score(x)
                    if s.ei > current.s.ei { current = (x, s) }
                }
                sigma /= 2
            }
            if current.s.ei > winner.s.ei { winner = current }
        }
        if winner.s.ei > 1e-12 * gp.targetScale { return winner.x }
        // EI vanished everywhere (the surrogate is certain): explore where it is least certain.
        return scored.max { $0.s.variance < $1.s.variance }!.x
    }
}
