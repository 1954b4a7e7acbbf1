import Foundation
import ADNN

/// Expected Improvement for maximisation (Jones, Schonlau & Welch, "Efficient Global Optimization
/// of Expensive Black-Box Functions", J. Global Optim. 13, 1998, eq. 15; Snoek, Larochelle &
/// Adams 2012, https://arxiv.org/abs/1206.2944, eq. 2):
/// `EI = (μ − f* − ξ) Φ(z) + σ φ(z)` with `z = (μ − f* − ξ) / σ`, and `max(μ − f* − ξ, 0)` when σ = 0.
public enum ExpectedImprovement {
    /// EI of a Gaussian prediction with mean `mean` and standard deviation `standardDeviation` over
    /// the incumbent `best`; `margin` (ξ ≥ 0) asks for an improvement of at least that much.
    public static func value(mean: Double, standardDeviation: Double, best: Double, margin: Double = 0) -> Double {
        precondition(standardDeviation >= 0, "ExpectedImprovement: negative standard deviation \(standardDeviation)")
        let gain = mean - best - margin
        guard standardDeviation > 0 else { return max(gain, 0) }
        let z = gain / standardDeviation
        return max(gain * normalCDF(z) + standardDeviation * normalPDF(z), 0)
    }

    /// Standard normal density φ.
    public static func normalPDF(_ z: Double) -> Double { exp(-0.5 * z * z) / (2 * Double.pi).squareRoot() }

    /// Standard normal distribution function Φ (through `erfc`, accurate in both tails).
    public static func normalCDF(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }
}
