import Foundation
import ADNN

/// Hyper-parameters of a Gaussian-process prior with a Matérn-5/2 kernel,
/// `k(x, x′) = σ_f² (1 + √5 r + 5r²/3) exp(−√5 r)` with `r² = Σ_i ((x_i − x′_i)/ℓ_i)²`,
/// plus independent observation noise of variance `σ_n²` (Rasmussen & Williams, *Gaussian Processes
/// for Machine Learning*, 2006, §4.2, eq. 4.17). Variances refer to standardised targets.
public struct GPHyperparameters: Equatable, Sendable {
    /// Length scales ℓ: one per input dimension (ARD) or a single shared one (isotropic).
    public var lengthScales: [Double]
    /// Signal variance σ_f².
    public var signalVariance: Double
    /// Noise variance σ_n².
    public var noiseVariance: Double

    public init(lengthScales: [Double], signalVariance: Double, noiseVariance: Double) {
        precondition(!lengthScales.isEmpty && lengthScales.allSatisfy { $0 > 0 }, "GPHyperparameters: length scales must be positive")
        precondition(signalVariance > 0 && noiseVariance >= 0, "GPHyperparameters: signal variance must be positive, noise non-negative")
        self.lengthScales = lengthScales; self.signalVariance = signalVariance; self.noiseVariance = noiseVariance
    }

    /// The Matérn-5/2 covariance of two inputs (without the noise term).
    public func covariance(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count, "GPHyperparameters.covariance: inputs of \(a.count) and \(b.count) dimensions")
        precondition(lengthScales.count == 1 || lengthScales.count == a.count,
                     "GPHyperparameters.covariance: \(lengthScales.count) length scales for \(a.count) dimensions")
        var r2 = 0.0
        for i in 0..<a.count {
            let d = (a[i] - b[i]) / lengthScales[lengthScales.count == 1 ? 0 : i]
            r2 += d * d
        }
        let s5r = (5 * r2).squareRoot()
        return signalVariance * (1 + s5r + 5 * r2 / 3) * exp(-s5r)
    }
}

/// Gaussian-process regression with a Matérn-5/2 kernel on inputs scaled to [0, 1]^d
/// (Rasmussen & Williams, GPML 2006, ch. 2, Algorithm 2.1; kernel §4.2).
///
/// Targets are standardised (mean 0, population standard deviation 1) before fitting, and
/// predictions are mapped back to the original units. The posterior is computed with a Cholesky
/// factorisation in Double precision; ``fit(inputs:targets:ard:)`` picks the hyper-parameters that
/// maximise the log marginal likelihood (GPML eq. 2.30) over a grid, refined per dimension for ARD.
public struct GaussianProcess: Sendable {
    /// Training inputs, one row per observation.
    public let inputs: [[Double]]
    /// Training targets in the original units.
    public let targets: [Double]
    /// The kernel and noise hyper-parameters.
    public let hyperparameters: GPHyperparameters
    /// Log marginal likelihood `log p(y | X, θ)` of the standardised targets (GPML eq. 2.30).
    public let logMarginalLikelihood: Double
    /// Mean and standard deviation used to standardise the targets.
    public let targetMean: Double, targetScale: Double
    /// Lower Cholesky factor of `K + σ_n² I` (row-major, n × n).
    private let factor: [Double]
    /// `(K + σ_n² I)⁻¹ y` for the standardised targets.
    private let weights: [Double]

    /// Conditions the prior given by `hyperparameters` on `(inputs, targets)`.
    /// Returns nil when `K + σ_n² I` is not numerically positive definite.
    public init?(inputs: [[Double]], targets: [Double], hyperparameters: GPHyperparameters) {
        precondition(!inputs.isEmpty && inputs.count == targets.count,
                     "GaussianProcess: \(inputs.count) inputs for \(targets.count) targets")
        let d = inputs[0].count
        precondition(inputs.allSatisfy { $0.count == d }, "GaussianProcess: inputs of different dimensions")
        let n = inputs.count
        let mean = targets.reduce(0, +) / Double(n)
        let variance = targets.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
        let scale = variance > 1e-24 ? variance.squareRoot() : 1
        let y = targets.map { ($0 - mean) / scale }
        var k = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                let v = hyperparameters.covariance(inputs[i], inputs[j])
                k[i * n + j] = v; k[j * n + i] = v
            }
            k[i * n + i] += hyperparameters.noiseVariance
        }
        guard let l = GaussianProcess.cholesky(k, n: n) else { return nil }
        let alpha = GaussianProcess.solveUpper(l, GaussianProcess.solveLower(l, y, n: n), n: n)
        var lml = -0.5 * zip(y, alpha).reduce(0) { $0 + $1.0 * $1.1 } - 0.5 * Double(n) * log(2 * Double.pi)
        for i in 0..<n { lml -= log(l[i * n + i]) }
        self.inputs = inputs; self.targets = targets; self.hyperparameters = hyperparameters
        self.targetMean = mean; self.targetScale = scale
        self.factor = l; self.weights = alpha; self.logMarginalLikelihood = lml
    }

    /// Posterior mean and variance of the latent function at `x`, in the units of the targets
    /// (GPML eqs. 2.25–2.26; the variance excludes the observation noise).
    public func predict(_ x: [Double]) -> (mean: Double, variance: Double) {
        precondition(x.count == inputs[0].count, "GaussianProcess.predict: \(x.count) dimensions, trained on \(inputs[0].count)")
        let n = inputs.count
        let ks = inputs.map { hyperparameters.covariance($0, x) }
        let mu = zip(ks, weights).reduce(0) { $0 + $1.0 * $1.1 }
        let v = GaussianProcess.solveLower(factor, ks, n: n)
        let variance = max(hyperparameters.signalVariance - v.reduce(0) { $0 + $1 * $1 }, 0)
        return (targetMean + targetScale * mu, variance * targetScale * targetScale)
    }

    /// Grid of length scales tried by ``fit(inputs:targets:ard:)`` (inputs live in [0, 1]).
    public static let lengthScaleGrid: [Double] = [0.05, 0.1, 0.2, 0.35, 0.6, 1.0, 2.0]
    /// Grid of signal variances (standardised targets).
    public static let signalVarianceGrid: [Double] = [0.3, 1.0, 3.0]
    /// Grid of noise variances (standardised targets).
    public static let noiseVarianceGrid: [Double] = [1e-6, 1e-4, 1e-2, 0.1, 0.3]

    /// Fits a GP, choosing the hyper-parameters by maximising the log marginal likelihood (type-II
    /// maximum likelihood, GPML §5.4.1): a grid over a shared length scale, signal and noise
    /// variance; with `ard`, then two rounds of coordinate search on each dimension's length scale
    /// (factors ½, 2, ¼, 4 within [0.02, 10]).
    public static func fit(inputs: [[Double]], targets: [Double], ard: Bool = true) -> GaussianProcess {
        precondition(!inputs.isEmpty, "GaussianProcess.fit: no observations")
        let d = inputs[0].count
        var best: GaussianProcess? = nil
        func consider(_ h: GPHyperparameters) {
            guard let gp = GaussianProcess(inputs: inputs, targets: targets, hyperparameters: h), gp.logMarginalLikelihood.isFinite else { return }
            if best == nil || gp.logMarginalLikelihood > best!.logMarginalLikelihood { best = gp }
        }
        for l in lengthScaleGrid {
            for s in signalVarianceGrid {
                for e in noiseVarianceGrid {
                    consider(GPHyperparameters(lengthScales: [Double](repeating: l, count: ard ? d : 1), signalVariance: s, noiseVariance: e))
                }
            }
        }
        if best == nil {
            // Every grid point failed (duplicated inputs with tiny noise): fall back to a noisy prior.
            consider(GPHyperparameters(lengthScales: [Double](repeating: 0.35, count: ard ? d : 1), signalVariance: 1, noiseVariance: 1))
        }
        guard var current = best else { preconditionFailure("GaussianProcess.fit: no positive-definite covariance found") }
        if ard && d > 1 {
            for _ in 0..<2 {
                for i in 0..<d {
                    for f in [0.5, 2, 0.25, 4] {
                        var h = current.hyperparameters
                        h.lengthScales[i] = min(max(h.lengthScales[i] * f, 0.02), 10)
                        consider(h)
                    }
                    current = best!
                }
            }
        }
        return current
    }

    /// Lower Cholesky factor `L` with `L Lᵀ = A` of a symmetric n × n matrix (row-major), or nil
    /// when a pivot is not positive (Golub & Van Loan, *Matrix Computations*, Algorithm 4.2.1).
    public static func cholesky(_ a: [Double], n: Int) -> [Double]? {
        precondition(a.count == n * n, "cholesky: \(a.count) entries for a \(n)×\(n) matrix")
        var l = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            var s = a[j * n + j]
            for k in 0..<j { s -= l[j * n + k] * l[j * n + k] }
            guard s > 0, s.isFinite else { return nil }
            let ljj = s.squareRoot()
            l[j * n + j] = ljj
            for i in (j + 1)..<n {
                var t = a[i * n + j]
                for k in 0..<j { t -= l[i * n + k] * l[j * n + k] }
                l[i * n + j] = t / ljj
            }
        }
        return l
    }

    /// Solves `L x = b` for lower-triangular `L` (forward substitution).
    static func solveLower(_ l: [Double], _ b: [Double], n: Int) -> [Double] {
        var x = b
        for i in 0..<n {
            var s = x[i]
            for k in 0..<i { s -= l[i * n + k] * x[k] }
            x[i] = s / l[i * n + i]
        }
        return x
    }

    /// Solves `Lᵀ x = b` for lower-triangular `L` (back substitution).
    static func solveUpper(_ l: [Double], _ b: [Double], n: Int) -> [Double] {
        var x = b
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = x[i]
            for k in (i + 1)..<n { s -= l[k * n + i] * x[k] }
            x[i] = s / l[i * n + i]
        }
        return x
    }
}
