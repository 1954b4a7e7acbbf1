import Foundation
import ADNNTrain

/// Confidence calibration of a classifier: equal-width confidence bins and the expected calibration
/// error `ECE = Σ_b (n_b / n) · |accuracy_b − confidence_b|` (Guo et al., ICML 2017), where the
/// confidence of an image is its largest class probability.
public struct Calibration {
    /// One confidence bin `[lower, upper)` (the last one includes 1).
    public struct Bin: Equatable {
        public var lower: Double, upper: Double
        public var count: Int
        /// Fraction of the bin's images whose arg-max is the true class (0 when empty).
        public var accuracy: Double
        /// Mean confidence of the bin's images (0 when empty).
        public var confidence: Double
    }
    public let bins: [Bin]
    /// Expected calibration error in 0…1.
    public let ece: Double
    /// Images.
    public let n: Int

    /// Bins `probabilities` (one row of class probabilities per image) against `labels`.
    /// - Throws: `ReportError` when the counts disagree or a label is out of range.
    public init(probabilities: [[Double]], labels: [Int], binCount: Int = 10) throws {
        guard probabilities.count == labels.count else {
            throw ReportError("calibration: \(probabilities.count) probability rows for \(labels.count) labels")
        }
        let b = max(binCount, 1)
        var count = [Int](repeating: 0, count: b), correct = count, confSum = [Double](repeating: 0, count: b)
        for (row, y) in zip(probabilities, labels) {
            guard !row.isEmpty, y >= 0, y < row.count else { throw ReportError("calibration: label \(y) for \(row.count) classes") }
            var best = 0
            for j in 1..<row.count where row[j] > row[best] { best = j }
            let c = min(max(row[best], 0), 1)
            let k = min(Int(c * Double(b)), b - 1)
            count[k] += 1; confSum[k] += c
            if best == y { correct[k] += 1 }
        }
        let total = labels.count
        n = total
        let made = (0..<b).map { k in
            Bin(lower: Double(k) / Double(b), upper: Double(k + 1) / Double(b), count: count[k],
                accuracy: count[k] > 0 ? Double(correct[k]) / Double(count[k]) : 0,
                confidence: count[k] > 0 ? confSum[k] / Double(count[k]) : 0)
        }
        bins = made
        ece = total > 0 ? made.reduce(0) { $0 + Double($1.count) / Double(total) * abs($1.accuracy - $1.confidence) } : 0
    }

    /// The reliability diagram: per-bin accuracy bars, the gap to the bin's mean confidence, the
    /// diagonal of perfect calibration, and the images per bin underneath.
    public func svg(title: String = "Reliability diagram") -> String {
        let width = 470.0, height = 478.0, left = 64.0, top = 56.0
        let plot = 300.0, histTop = top + plot + 50, histH = 56.0
        let fullTitle = title + String(format: " — ECE %.2f %%", ece * 100)
        var s = ChartFrame.svgOpen(width: width, height: height, label: fullTitle) + ChartFrame.title(fullTitle, x: left)
        s += ChartFrame.legend([[("accuracy", "#4878d0", false, left), ("gap to mean confidence", "#d65f5f", false, left + 96),
                                 ("perfect calibration", "#555555", true, left + 268)]], y0: 40)
        func px(_ v: Double) -> Double { left + plot * v }
        func py(_ v: Double) -> Double { top + plot * (1 - v) }
        for t in stride(from: 0.0, through: 1.0001, by: 0.2) {
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>", left, py(t), left + plot, py(t))
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" fill=\"#444\">%.1f</text>", left - 6, py(t) + 4, t)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" fill=\"#444\">%.1f</text>\n", px(t), top + plot + 16, t)
        }
        for bin in bins where bin.count > 0 {
            let x = px(bin.lower) + 1, w = plot * (bin.upper - bin.lower) - 2
            s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#4878d0\"/>", x, py(bin.accuracy), w, py(0) - py(bin.accuracy))
            let hi = max(bin.accuracy, bin.confidence), lo = min(bin.accuracy, bin.confidence)
            s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#d65f5f\" fill-opacity=\"0.45\" stroke=\"#d65f5f\"/>\n",
                        x, py(hi), w, max(py(lo) - py(hi), 0.5))
        }
        s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" stroke-dasharray=\"5,3\"/>\n", px(0), py(0), px(1), py(1))
        s += String(format: "<path d=\"M%.1f %.1f V%.1f H%.1f\" fill=\"none\" stroke=\"#666\"/>\n", left, top, top + plot, left + plot)
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">confidence (max probability)</text>\n", left + plot / 2, top + plot + 32)
        let cy = top + plot / 2
        s += String(format: "<text x=\"14\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">accuracy</text>\n", cy, cy)
        let peak = Double(bins.map(\.count).max() ?? 1)
        for bin in bins where bin.count > 0 {
            let h = histH * Double(bin.count) / max(peak, 1)
            let x = px(bin.lower) + 1, w = plot * (bin.upper - bin.lower) - 2
            s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#999\"/>", x, histTop + histH - h, w, h)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\" fill=\"#333\">%d</text>\n", x + w / 2, histTop + histH - h - 2, bin.count)
        }
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" fill=\"#444\">images</text>\n", left - 6, histTop + histH - 2)
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#444\">per bin</text>\n", left + plot + 6, histTop + histH - 2)
        s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#666\"/>\n", left, histTop + histH, left + plot, histTop + histH)
        return s + "</svg>"
    }
}
