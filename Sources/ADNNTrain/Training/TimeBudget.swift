import Foundation
import ADNN

/// Fits a warm-up + cosine schedule to a wall-clock budget (`schedule.time_budget_minutes`,
/// `adnn train --time-budget 60m`): the same recipe ends on time on a slow or a fast machine.
///
/// The trainer reports how long every step and every epoch's end (validation and checkpoints) took;
/// the budget keeps running estimates of both and plans how many steps still fit, leaving room for
/// the final evaluation. The plan is refreshed every `replanInterval` steps and at every epoch end,
/// so a machine that slows down (or speeds up) mid-run still finishes its cosine on time. The time
/// already spent survives a resume (it is stored in the checkpoint).
public final class TimeBudget {
    /// The whole budget in seconds.
    public let seconds: Double
    /// Seconds spent by earlier processes of this run (restored on resume).
    public var spentBefore: Double = 0
    /// When this process started counting.
    public let start: Date
    /// Forward passes over the validation split that follow training (2 with flip TTA).
    public var finalEvaluationPasses = 1
    /// Images in the validation split (to estimate its cost before the first epoch has ended).
    public var validationImages = 0
    /// Images per training step.
    public var batchSize = 1
    /// Steps between plan refreshes.
    public var replanInterval = 50

    /// Running estimate of one training step (data loading included), seconds.
    public private(set) var stepSeconds: Double?
    /// Running estimate of one epoch end (validation, checkpoints, metrics), seconds.
    public private(set) var epochEndSeconds: Double?
    private var recentEpochEnds: [Double] = []
    private var firstSteps: [Double] = []
    /// Steps of each process not measured (first-touch allocation, thread start-up).
    private let ignoredSteps = 3
    private var stepsSeen = 0
    /// Steps folded into `stepSeconds` since its first value.
    private var measuredSteps = 8

    public init(minutes: Double, start: Date = Date()) {
        seconds = minutes * 60
        self.start = start
    }

    /// Seconds spent so far by this run (all processes).
    public var elapsed: Double { spentBefore + Date().timeIntervalSince(start) }

    /// Seconds left in the budget.
    public var remaining: Double { seconds - elapsed }

    /// Whether enough steps were measured to plan.
    public var canPlan: Bool { stepSeconds != nil }

    /// Records the duration of one training step.
    public func recordStep(seconds s: Double) {
        stepsSeen += 1
        guard stepsSeen > ignoredSteps, s.isFinite, s >= 0 else { return }
        if let est = stepSeconds {
            // The mean of the steps measured so far, then an average over about the last 100 steps (≈ half
            // a minute): one step's time swings with the data loader's bursts, and a shorter window made
            // the plan (and the cosine's position) jitter by ±10 % within an epoch.
            measuredSteps += 1
            let weight = max(1 / Double(measuredSteps), 0.01)
            stepSeconds = (1 - weight) * est + weight * s
        } else {
            firstSteps.append(s)
            if firstSteps.count >= 8 {
                // The median of the first measured steps: robust to one slow step.
                stepSeconds = firstSteps.sorted()[firstSteps.count / 2]
            }
        }
    }

    /// Records the duration of one epoch end (validation, checkpoint writes). The estimate is the
    /// median of the last three (the mean of the first two): one slow validation — another process on
    /// the machine for a minute — multiplied by every epoch end still to come cut a 2-hour plan by 40 %
    /// for one epoch (and the learning rate with it), while a lasting slowdown shows in two epoch ends.
    public func recordEpochEnd(seconds s: Double) {
        guard s.isFinite, s >= 0 else { return }
        recentEpochEnds.append(s)
        if recentEpochEnds.count > 3 { recentEpochEnds.removeFirst() }
        let r = recentEpochEnds
        epochEndSeconds = r.count < 3 ? r.reduce(0, +) / Double(r.count) : r.sorted()[1]
    }

    /// Estimated seconds of one epoch end: measured, or (before the first) a forward pass over the
    /// validation split at a third of a training step's cost per image.
    var epochEndEstimate: Double {
        if let e = epochEndSeconds { return e }
        guard let t = stepSeconds else { return 0 }
        return Double(validationImages) * t / Double(max(batchSize, 1)) / 3 + 1
    }

    /// Seconds kept back for the final evaluation and a safety margin (1 % of the budget + 5 s).
    var reserve: Double {
        let validation = max(epochEndEstimate - 1, 0)
        return validation * Double(finalEvaluationPasses) + 0.01 * seconds + 5
    }

    /// How many more steps fit: the largest `R ≤ maxMore` with `R · step + epochEnds(R) · epochEnd ≤
    /// remaining − reserve`, where `epochEnds(R)` counts the epoch ends (validations) those steps
    /// cross, the last partial epoch included.
    /// - Parameters:
    ///   - positionInEpoch: steps already done in the current epoch.
    public func stepsThatFit(positionInEpoch: Int, stepsPerEpoch: Int, maxMore: Int) -> Int {
        guard let t = stepSeconds else { return maxMore }
        let available = remaining - reserve
        let spe = max(stepsPerEpoch, 1)
        func cost(_ r: Int) -> Double {
            let ends = r == 0 ? (positionInEpoch > 0 ? 1 : 0) : (positionInEpoch + r + spe - 1) / spe
            return Double(r) * t + Double(ends) * epochEndEstimate
        }
        if cost(0) > available { return 0 }
        var lo = 0, hi = max(maxMore, 0)
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if cost(mid) <= available { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }
}

extension TimeBudget {
    /// Minutes in a duration written as `90`, `90m`, `1.5h`, `45s` or `1h30m` (a bare number is minutes).
    /// - Throws: `ADNNError.invalid` naming `option` for anything else, zero or negative.
    public static func minutes(parsing text: String, option: String = "--time-budget") throws -> Double {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        func bad() -> ADNNError { .invalid("\(option): '\(text)' is not a duration (write e.g. 60m, 1.5h, 90s or 1h30m)") }
        if let v = Double(t) {
            guard v.isFinite && v > 0 else { throw bad() }
            return v
        }
        var total = 0.0, number = "", sawUnit = false
        for ch in t {
            if ch.isNumber || ch == "." { number.append(ch); continue }
            guard let v = Double(number), v.isFinite, v >= 0 else { throw bad() }
            switch ch {
            case "h": total += v * 60
            case "m": total += v
            case "s": total += v / 60
            default: throw bad()
            }
            number = ""; sawUnit = true
        }
        guard sawUnit, number.isEmpty, total > 0, total.isFinite else { throw bad() }
        return total
    }
}
