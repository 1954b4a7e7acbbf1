import Foundation
import ADNN

/// Significance tests for the ablation (paired t-test over seeds, McNemar on per-image predictions).
public enum Statistics {
    /// Regularised incomplete beta I_x(a, b) by Lentz's continued fraction.
    public static func incompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let lnBeta: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let lnFront: Double = lnBeta + a * Foundation.log(x) + b * Foundation.log(1 - x)
        // Use the symmetry relation where the continued fraction converges quickly.
        if x > (a + 1) / (a + b + 2) { return 1 - incompleteBeta(1 - x, b, a) }
        let tiny = 1e-300
        var f = 1.0, c = 1.0, d = 0.0
        for i in 0...400 {
            let m = Double(i / 2)
            let numerator: Double
            if i == 0 { numerator = 1 }
            else if i % 2 == 0 { numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)) }
            else { numerator = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1)) }
            d = 1 + numerator * d
            if abs(d) < tiny { d = tiny }
            d = 1 / d
            c = 1 + numerator / c
            if abs(c) < tiny { c = tiny }
            let cd = c * d
            f *= cd
            if abs(1 - cd) < 1e-15 { break }
        }
        return exp(lnFront) * (f - 1) / a
    }

    /// Two-sided p-value of Student's t statistic with `df` degrees of freedom.
    public static func studentTwoSidedP(t: Double, df: Double) -> Double {
        guard t.isFinite else { return t.isNaN ? .nan : 0 }
        return incompleteBeta(df / (df + t * t), df / 2, 0.5)
    }

    /// Result of a paired t-test.
    public struct TTest: Equatable {
        public let t: Double, df: Int, p: Double, meanDifference: Double
    }

    /// Paired t-test of `a` against `b` (same seeds, same order); two-sided.
    /// Returns p = 1 when every difference is zero, and p = 0 for a non-zero constant difference.
    public static func pairedTTest(_ a: [Double], _ b: [Double]) -> TTest {
        precondition(a.count == b.count && a.count >= 2, "pairedTTest: needs two equal-length samples of size ≥ 2")
        let d = zip(a, b).map { $0 - $1 }
        let n = Double(d.count)
        let mean = d.reduce(0, +) / n
        let variance = d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        let se = (variance / n).squareRoot()
        if se == 0 { return TTest(t: mean == 0 ? 0 : .infinity * (mean > 0 ? 1 : -1), df: d.count - 1, p: mean == 0 ? 1 : 0, meanDifference: mean) }
        let t = mean / se
        return TTest(t: t, df: d.count - 1, p: studentTwoSidedP(t: t, df: n - 1), meanDifference: mean)
    }

    /// McNemar's exact test (two-sided binomial on the discordant pairs): `b` = only the first model
    /// right, `c` = only the second model right.
    public static func mcnemarExactP(b: Int, c: Int) -> Double {
        let n = b + c
        if n == 0 { return 1 }
        let k = min(b, c)
        var sum = 0.0
        for i in 0...k {
            sum += exp(lgamma(Double(n + 1)) - lgamma(Double(i + 1)) - lgamma(Double(n - i + 1)) - Double(n) * log(2))
        }
        return min(1, 2 * sum)
    }

    /// McNemar's test from per-image correctness of two models on the same images.
    public static func mcnemar(_ correctA: [Bool], _ correctB: [Bool]) -> (b: Int, c: Int, p: Double) {
        precondition(correctA.count == correctB.count, "mcnemar: different numbers of images")
        var b = 0, c = 0
        for (x, y) in zip(correctA, correctB) { if x && !y { b += 1 } else if !x && y { c += 1 } }
        return (b, c, mcnemarExactP(b: b, c: c))
    }

    /// Bonferroni correction: p · m, capped at 1.
    public static func bonferroni(_ p: Double, comparisons m: Int) -> Double { min(1, p * Double(m)) }

    /// Mean and sample standard deviation.
    public static func meanStd(_ x: [Double]) -> (mean: Double, std: Double) {
        guard !x.isEmpty else { return (0, 0) }
        let m = x.reduce(0, +) / Double(x.count)
        guard x.count > 1 else { return (m, 0) }
        return (m, (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)).squareRoot())
    }
}
