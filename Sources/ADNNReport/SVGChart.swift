import Foundation
import ADNNTrain

/// The colour cycle of the charts (colour-blind-friendly "deep" palette).
public let chartPalette = ["#4878d0", "#ee854a", "#6acc64", "#d65f5f", "#956cb4", "#8c613c", "#dc7ec0", "#797979", "#d5bb67", "#82c6e2"]

/// Tick positions of an axis.
public struct AxisTicks: Equatable {
    /// The axis range (expanded to whole ticks for linear axes).
    public var low: Double, high: Double
    /// Tick values in data units.
    public var values: [Double]
    /// Tick labels.
    public var labels: [String]

    /// Linear "nice" ticks (steps 1, 2, 2.5 or 5 × 10ᵏ) covering `low…high` with about `count` intervals;
    /// `integer` keeps the step at least 1.
    public static func linear(_ low: Double, _ high: Double, count: Int = 5, integer: Bool = false) -> AxisTicks {
        var lo = low, hi = high
        if !(lo.isFinite && hi.isFinite) { lo = 0; hi = 1 }
        if hi < lo { swap(&lo, &hi) }
        if hi - lo < 1e-12 { let pad = max(abs(lo) * 0.05, integer ? 1 : 1e-3); lo -= pad; hi += pad }
        let raw = (hi - lo) / Double(max(count, 1))
        let mag = pow(10, floor(log10(raw)))
        var step = ([1, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw * 0.999 }) ?? 10 * mag
        if integer { step = max(1, step.rounded()) }
        let start = floor(lo / step + 1e-9) * step, end = ceil(hi / step - 1e-9) * step
        var values: [Double] = []
        var v = start
        while v <= end + step * 1e-6 && values.count < 50 { values.append(abs(v) < step * 1e-9 ? 0 : v); v += step }
        let decimals = max(0, min(6, Int(-floor(log10(step) + 1e-9)) + (step / mag == 2.5 ? 1 : 0)))
        let labels = values.map { x -> String in
            if abs(x) >= 1e5 || (abs(x) < 1e-3 && x != 0) { return compactScientific(x) }
            return String(format: "%.\(decimals)f", x)
        }
        return AxisTicks(low: start, high: end, values: values, labels: labels)
    }

    /// Log ticks at powers of ten (and 2×, 5× when the range spans at most two decades) over
    /// positive `low…high`; values are in data units, the range in log10 units.
    public static func log10Scale(_ low: Double, _ high: Double) -> AxisTicks {
        let lo = floor(log10(max(low, 1e-30))), hi = max(ceil(log10(max(high, 1e-30))), lo + 1)
        var values: [Double] = []
        for e in Int(lo)...Int(hi) {
            for m in (hi - lo <= 2 ? [1.0, 2, 5] : [1.0]) {
                let v = m * pow(10, Double(e))
                if log10(v) <= hi + 1e-9 { values.append(v) }
            }
        }
        return AxisTicks(low: lo, high: hi, values: values, labels: values.map(compactScientific))
    }

    /// `2e-3`-style text of a number.
    public static func compactScientific(_ v: Double) -> String {
        guard v != 0 else { return "0" }
        let e = Int(floor(log10(abs(v)) + 1e-9))
        let m = v / pow(10, Double(e))
        let ms = abs(m - m.rounded()) < 1e-6 ? String(Int(m.rounded())) : String(format: "%.1f", m)
        return "\(ms)e\(e)"
    }
}

/// One series of a ``LineChart``.
public struct ChartSeries {
    /// How the points are drawn.
    public enum Style { case line, markers, lineAndMarkers, step }
    public var name: String
    public var points: [(x: Double, y: Double)]
    public var color: String
    public var style: Style
    public var dashed: Bool
    public init(name: String, points: [(x: Double, y: Double)], color: String, style: Style = .lineAndMarkers, dashed: Bool = false) {
        self.name = name; self.points = points; self.color = color; self.style = style; self.dashed = dashed
    }
}

/// Shared drawing of a chart frame: title, legend rows, axes with ticks, grid and axis titles.
struct ChartFrame {
    let width: Double, height: Double
    let left: Double, right: Double, top: Double, bottom: Double
    var plotWidth: Double { width - left - right }
    var plotHeight: Double { height - top - bottom }

    /// Legend rows of (name, colour, dashed) entries that fit `width`, and the height they need.
    static func legendRows(_ items: [(String, String, Bool)], width: Double, left: Double) -> [[(String, String, Bool, Double)]] {
        var rows: [[(String, String, Bool, Double)]] = [[]]
        var x = left
        for it in items {
            let w = 26 + Double(it.0.count) * 6.6 + 14
            if x + w > width - 8 && !(rows.last?.isEmpty ?? true) { rows.append([]); x = left }
            rows[rows.count - 1].append((it.0, it.1, it.2, x))
            x += w
        }
        return rows.filter { !$0.isEmpty }
    }

    static func svgOpen(width: Double, height: Double, label: String) -> String {
        "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" role=\"img\" aria-label=\"\(HTML.escape(label))\">\n"
            + "<rect width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#ffffff\"/>\n"
    }

    static func title(_ t: String, x: Double) -> String {
        String(format: "<text x=\"%.1f\" y=\"18\" font-size=\"14\" font-weight=\"bold\">%@</text>\n", x, HTML.escape(t))
    }

    static func legend(_ rows: [[(String, String, Bool, Double)]], y0: Double) -> String {
        var s = ""
        for (r, row) in rows.enumerated() {
            let y = y0 + Double(r) * 16
            for (name, color, dashed, x) in row {
                s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"3\"%@/>", x, y - 4, x + 20, y - 4, color,
                            dashed ? " stroke-dasharray=\"5,3\"" : "")
                s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%@</text>\n", x + 25, y, HTML.escape(name))
            }
        }
        return s
    }

    /// Horizontal grid lines and y tick labels at `ys` (pixel positions) with `labels`.
    func yAxis(_ ys: [Double], _ labels: [String], title: String) -> String {
        var s = ""
        for (y, l) in zip(ys, labels) {
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>", left, y, left + plotWidth, y)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" fill=\"#444\">%@</text>\n", left - 6, y + 4, HTML.escape(l))
        }
        let cy = top + plotHeight / 2
        s += String(format: "<text x=\"14\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\" fill=\"#333\">%@</text>\n",
                    cy, cy, HTML.escape(title))
        return s
    }

    /// Vertical tick marks and x tick labels at `xs` with `labels`, and the axis title.
    func xAxis(_ xs: [Double], _ labels: [String], title: String, grid: Bool = true) -> String {
        var s = ""
        let y0 = top + plotHeight
        for (x, l) in zip(xs, labels) {
            if grid { s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#f0f0f0\"/>", x, top, x, y0) }
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#666\"/>", x, y0, x, y0 + 4)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" fill=\"#444\">%@</text>\n", x, y0 + 16, HTML.escape(l))
        }
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" fill=\"#333\">%@</text>\n",
                    left + plotWidth / 2, height - 6, HTML.escape(title))
        return s
    }

    /// The plot box's left and bottom axis lines.
    var axisLines: String {
        String(format: "<path d=\"M%.1f %.1f V%.1f H%.1f\" fill=\"none\" stroke=\"#666\"/>\n", left, top, top + plotHeight, left + plotWidth)
    }
}

/// A line/scatter chart with linear x, linear or log y, ticks, grid and a legend.
public struct LineChart {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [ChartSeries]
    public var width: Double = 560
    public var height: Double = 320
    /// Values the y range must include (e.g. 0 or 100).
    public var yInclude: [Double] = []
    /// Log-scaled y axis (non-positive values are left out).
    public var logY = false

    public init(title: String, xLabel: String, yLabel: String, series: [ChartSeries], width: Double = 560, height: Double = 320,
                yInclude: [Double] = [], logY: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
        self.width = width; self.height = height; self.yInclude = yInclude; self.logY = logY
    }

    /// The chart as an `<svg>` element.
    public func svg() -> String {
        let shown = series.map { s -> ChartSeries in
            var c = s
            c.points = s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) }
            return c
        }
        let left = 64.0
        let rows = ChartFrame.legendRows(shown.map { ($0.name, $0.color, $0.dashed) }, width: width, left: left)
        let frame = ChartFrame(width: width, height: height, left: left, right: 18, top: 30 + Double(rows.count) * 16 + 6, bottom: 46)
        var s = ChartFrame.svgOpen(width: width, height: height, label: title) + ChartFrame.title(title, x: left)
        s += ChartFrame.legend(rows, y0: 40)
        let xs = shown.flatMap { $0.points.map(\.x) }, ys = shown.flatMap { $0.points.map(\.y) } + (logY ? [] : yInclude)
        guard let xMin = xs.min(), let xMax = xs.max(), let yMin = ys.min(), let yMax = ys.max() else {
            return s + "<text x=\"\(Int(width / 2))\" y=\"\(Int(height / 2))\" font-size=\"12\" text-anchor=\"middle\">no data</text>\n</svg>"
        }
        let integerX = xs.allSatisfy { $0 == $0.rounded() }
        let xt = AxisTicks.linear(xMin, xMax, count: integerX ? min(8, max(2, Int(xMax - xMin))) : 5, integer: integerX)
        let yt = logY ? AxisTicks.log10Scale(yMin, yMax) : AxisTicks.linear(yMin, yMax)
        func px(_ x: Double) -> Double { frame.left + frame.plotWidth * (x - xt.low) / max(xt.high - xt.low, 1e-12) }
        func py(_ y: Double) -> Double {
            let v = logY ? log10(y) : y
            return frame.top + frame.plotHeight * (1 - (v - yt.low) / max(yt.high - yt.low, 1e-12))
        }
        s += frame.yAxis(yt.values.map(py), yt.labels, title: yLabel)
        s += frame.xAxis(xt.values.map(px), xt.labels, title: xLabel)
        s += frame.axisLines
        for c in shown where !c.points.isEmpty {
            let dash = c.dashed ? " stroke-dasharray=\"6,4\"" : ""
            switch c.style {
            case .line, .lineAndMarkers:
                let d = c.points.enumerated().map { i, p in String(format: "%@%.1f %.1f", i == 0 ? "M" : "L", px(p.x), py(p.y)) }.joined(separator: " ")
                s += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(c.color)\" stroke-width=\"2\"\(dash)/>\n"
            case .step:
                var d = String(format: "M%.1f %.1f", px(c.points[0].x), py(c.points[0].y))
                for p in c.points.dropFirst() { d += String(format: " H%.1f V%.1f", px(p.x), py(p.y)) }
                s += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(c.color)\" stroke-width=\"2\"\(dash)/>\n"
            case .markers: break
            }
            if c.style == .markers || c.style == .lineAndMarkers {
                for p in c.points {
                    s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.2\" fill=\"%@\" stroke=\"#fff\" stroke-width=\"0.8\"/>", px(p.x), py(p.y), c.color)
                }
                s += "\n"
            }
        }
        return s + "</svg>"
    }
}

/// A matrix of coloured cells with text (confusion matrices).
public struct HeatMap {
    public var title: String
    public var rowLabels: [String], columnLabels: [String]
    /// Colour intensity per cell in 0…1.
    public var intensity: [[Double]]
    /// Text per cell.
    public var text: [[String]]
    public var rowTitle: String, columnTitle: String
    public var cell: Double = 46

    public init(title: String, rowLabels: [String], columnLabels: [String], intensity: [[Double]], text: [[String]],
                rowTitle: String, columnTitle: String, cell: Double = 46) {
        self.title = title; self.rowLabels = rowLabels; self.columnLabels = columnLabels; self.intensity = intensity
        self.text = text; self.rowTitle = rowTitle; self.columnTitle = columnTitle; self.cell = cell
    }

    /// White → dark blue.
    static func color(_ v: Double) -> String {
        let t = min(max(v.isFinite ? v : 0, 0), 1)
        let a = (247.0, 251.0, 255.0), b = (8.0, 48.0, 107.0)
        let m = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t, a.2 + (b.2 - a.2) * t)
        return String(format: "#%02x%02x%02x", Int(m.0.rounded()), Int(m.1.rounded()), Int(m.2.rounded()))
    }

    /// The heat map as an `<svg>` element.
    public func svg() -> String {
        let rows = rowLabels.count, cols = columnLabels.count
        let longestRow = Double(rowLabels.map(\.count).max() ?? 1), longestCol = Double(columnLabels.map(\.count).max() ?? 1)
        let left = 34 + longestRow * 7 + 8
        let top = 30 + longestCol * 5.2 + 14
        let width = left + Double(cols) * cell + 16, height = top + Double(rows) * cell + 36
        var s = ChartFrame.svgOpen(width: width, height: height, label: title) + ChartFrame.title(title, x: 8)
        for (j, l) in columnLabels.enumerated() {
            let x = left + (Double(j) + 0.5) * cell, y = top - 6
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" transform=\"rotate(-40 %.1f %.1f)\">%@</text>\n", x, y, x, y, HTML.escape(l))
        }
        for (i, l) in rowLabels.enumerated() {
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%@</text>\n", left - 6, top + (Double(i) + 0.5) * cell + 4, HTML.escape(l))
        }
        for i in 0..<rows {
            for j in 0..<cols {
                let v = i < intensity.count && j < intensity[i].count ? intensity[i][j] : 0
                let x = left + Double(j) * cell, y = top + Double(i) * cell
                s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\" stroke=\"%@\"/>", x, y, cell, cell, Self.color(v),
                            i == j ? "#333" : "#fff")
                let t = i < text.count && j < text[i].count ? text[i][j] : ""
                s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" fill=\"%@\">%@</text>\n", x + cell / 2, y + cell / 2 + 4,
                            v > 0.5 ? "#fff" : "#222", HTML.escape(t))
            }
        }
        let cy = top + Double(rows) * cell / 2
        s += String(format: "<text x=\"12\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 12 %.1f)\">%@</text>\n", cy, cy, HTML.escape(rowTitle))
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">%@</text>\n", left + Double(cols) * cell / 2, height - 10,
                    HTML.escape(columnTitle))
        return s + "</svg>"
    }
}

/// Grouped bars with ± error whiskers (ablation means over seeds).
public struct BarChart {
    public struct Series {
        public var name: String, color: String
        public var values: [Double], errors: [Double]
        public init(name: String, color: String, values: [Double], errors: [Double]) {
            self.name = name; self.color = color; self.values = values; self.errors = errors
        }
    }
    public var title: String
    public var groups: [String]
    public var series: [Series]
    public var yLabel: String
    public var width: Double = 760, height: Double = 360

    public init(title: String, groups: [String], series: [Series], yLabel: String, width: Double = 760, height: Double = 360) {
        self.title = title; self.groups = groups; self.series = series; self.yLabel = yLabel; self.width = width; self.height = height
    }

    /// The chart as an `<svg>` element.
    public func svg() -> String {
        let left = 64.0
        let rows = ChartFrame.legendRows(series.map { ($0.name, $0.color, false) }, width: width, left: left)
        let frame = ChartFrame(width: width, height: height, left: left, right: 18, top: 30 + Double(rows.count) * 16 + 10, bottom: 46)
        var s = ChartFrame.svgOpen(width: width, height: height, label: title) + ChartFrame.title(title, x: left) + ChartFrame.legend(rows, y0: 40)
        let tops = series.flatMap { sr in zip(sr.values, sr.errors).map { $0 + max($1, 0) } }.filter(\.isFinite)
        let yt = AxisTicks.linear(0, max(tops.max() ?? 1, 1e-9) * 1.08)
        func py(_ y: Double) -> Double { frame.top + frame.plotHeight * (1 - (y - yt.low) / max(yt.high - yt.low, 1e-12)) }
        s += frame.yAxis(yt.values.map(py), yt.labels, title: yLabel)
        let groupW = frame.plotWidth / Double(max(groups.count, 1))
        let barW = groupW * 0.72 / Double(max(series.count, 1))
        s += frame.xAxis(groups.indices.map { left + (Double($0) + 0.5) * groupW }, groups, title: "", grid: false)
        for (g, _) in groups.enumerated() {
            for (k, sr) in series.enumerated() where g < sr.values.count && sr.values[g].isFinite {
                let v = sr.values[g], e = g < sr.errors.count && sr.errors[g].isFinite ? sr.errors[g] : 0
                let x = left + Double(g) * groupW + groupW * 0.14 + Double(k) * barW
                s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"/>", x, py(v), barW - 3, max(py(yt.low) - py(v), 0), sr.color)
                let cx = x + (barW - 3) / 2
                if e > 0 {
                    s += String(format: "<path d=\"M%.1f %.1f V%.1f M%.1f %.1f H%.1f M%.1f %.1f H%.1f\" stroke=\"#222\" stroke-width=\"1.2\" fill=\"none\"/>",
                                cx, py(v + e), py(max(v - e, yt.low)), cx - 4, py(v + e), cx + 4, cx - 4, py(max(v - e, yt.low)), cx + 4)
                }
                s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" fill=\"#222\">%.1f</text>\n", cx, py(v + e) - 4, v)
            }
        }
        s += frame.axisLines
        return s + "</svg>"
    }
}
