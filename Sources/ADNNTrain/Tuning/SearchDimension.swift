import Foundation
import ADNN

/// One tuned setting: a numeric config key (dotted, e.g. `optim.lr`) and its range.
///
/// The tuner works on the unit interval; ``value(atNormalized:)`` maps a coordinate to a value
/// (log-uniformly with `log`, rounded to an integer with `integer`, otherwise rounded to four
/// significant digits) and ``normalized(_:)`` maps back (Snoek et al. 2012,
/// https://arxiv.org/abs/1206.2944, optimise in a warped unit cube).
public struct SearchDimension: Equatable, Sendable {
    /// The dotted config key, e.g. `optim.weight_decay`.
    public var key: String
    /// Inclusive bounds of the value.
    public var low: Double, high: Double
    /// Search `log(value)` uniformly (needs `low > 0`).
    public var log: Bool
    /// Only integer values (each integer gets an equal share of the unit interval).
    public var integer: Bool

    public init(key: String, low: Double, high: Double, log: Bool = false, integer: Bool = false) {
        precondition(low.isFinite && high.isFinite && low < high, "SearchDimension \(key): need low < high, got [\(low), \(high)]")
        precondition(!log || low > 0, "SearchDimension \(key): a log dimension needs low > 0, got \(low)")
        precondition(!integer || (low == low.rounded() && high == high.rounded()),
                     "SearchDimension \(key): integer bounds must be integers, got [\(low), \(high)]")
        precondition(!(log && integer) || low >= 1, "SearchDimension \(key): a log integer dimension needs low ≥ 1")
        self.key = key; self.low = low; self.high = high; self.log = log; self.integer = integer
    }

    /// The interval that [0, 1] maps onto, before warping: integer ranges are widened by ½ on each
    /// side so that rounding gives every integer the same width.
    private var span: (Double, Double) {
        let a = integer ? low - 0.5 : low, b = integer ? high + 0.5 : high
        return log ? (Foundation.log(a), Foundation.log(b)) : (a, b)
    }

    /// The value at unit coordinate `u` (clamped to [0, 1]).
    public func value(atNormalized u: Double) -> Double {
        let (a, b) = span
        let t = a + min(max(u, 0), 1) * (b - a)
        var v = log ? exp(t) : t
        if integer {
            v = v.rounded()
        } else if v != 0 {
            v = Double(String(format: "%.4g", v)) ?? v
        }
        return min(max(v, low), high)
    }

    /// The unit coordinate of `value` (clamped to [0, 1]).
    public func normalized(_ value: Double) -> Double {
        let (a, b) = span
        let v = min(max(value, low), high)
        return min(max(((log ? Foundation.log(v) : v) - a) / (b - a), 0), 1)
    }
}
