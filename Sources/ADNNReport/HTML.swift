import Foundation
import ADNNTrain

/// Small helpers for writing the report's HTML and SVG text.
public enum HTML {
    /// `s` with `& < > " '` escaped, for text and attribute values.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// An `<img>` element embedding PNG bytes as a base64 data URI.
    public static func pngImage(_ png: [UInt8], alt: String, width: Int? = nil) -> String {
        let w = width.map { " width=\"\($0)\"" } ?? ""
        return "<img src=\"data:image/png;base64,\(Data(png).base64EncodedString())\" alt=\"\(escape(alt))\"\(w)>"
    }

    /// A table: `header` cells and `rows` of already-escaped cell HTML; `numeric` columns are right-aligned.
    public static func table(header: [String], rows: [[String]], numeric: Set<Int> = [], caption: String? = nil) -> String {
        var s = "<table>\n"
        if let caption { s += "<caption>\(escape(caption))</caption>\n" }
        s += "<thead><tr>" + header.enumerated().map { i, h in
            "<th\(numeric.contains(i) ? " class=\"num\"" : "")>\(escape(h))</th>"
        }.joined() + "</tr></thead>\n<tbody>\n"
        for r in rows {
            s += "<tr>" + r.enumerated().map { i, c in "<td\(numeric.contains(i) ? " class=\"num\"" : "")>\(c)</td>" }.joined() + "</tr>\n"
        }
        return s + "</tbody>\n</table>\n"
    }

    /// The stylesheet shared by every report (inline; no fonts or resources are fetched).
    static let css = """
    body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; margin: 24px auto; max-width: 1180px; padding: 0 16px; background: #fff; }
    h1 { font-size: 24px; margin-bottom: 4px; }
    h2 { font-size: 19px; margin-top: 32px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
    h3 { font-size: 15px; margin: 12px 0 6px; }
    p.meta { color: #555; margin-top: 0; font-size: 13px; }
    p.note { color: #7a4b00; background: #fff6e0; border-left: 3px solid #e0a000; padding: 6px 10px; font-size: 13px; }
    .cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
    .card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 110px; background: #fafafa; }
    .card .v { font-size: 20px; font-weight: bold; }
    .card .k { font-size: 12px; color: #666; }
    .grid { display: flex; flex-wrap: wrap; gap: 12px; }
    .grid > div { flex: 0 0 auto; }
    table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; max-width: 100%; }
    caption { text-align: left; font-size: 12px; color: #555; caption-side: bottom; padding-top: 4px; }
    th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; }
    th { background: #f2f2f2; }
    td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    tr.best td { background: #eaf6ea; font-weight: bold; }
    pre { background: #f7f7f7; border: 1px solid #e2e2e2; padding: 8px; font-size: 12px; overflow-x: auto; }
    .mistakes { display: flex; flex-wrap: wrap; gap: 12px; }
    figure { margin: 0; border: 1px solid #ddd; border-radius: 6px; padding: 6px; background: #fafafa; }
    figure img { image-rendering: pixelated; display: inline-block; margin-right: 2px; }
    figcaption { font-size: 12px; margin-top: 4px; line-height: 1.35; }
    details summary { cursor: pointer; color: #333; font-size: 13px; }
    footer { margin-top: 40px; font-size: 11px; color: #888; }
    """

    /// A whole self-contained document around `body`.
    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(escape(title))</title>
        <style>
        \(css)
        </style>
        </head>
        <body>
        \(body)
        <footer>Written by adnn report. Self-contained: inline SVG, embedded PNG, no network resources, no scripts.</footer>
        </body>
        </html>

        """
    }

    /// A number with `digits` decimals.
    static func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    /// A percentage of a fraction, e.g. `0.9321` → `93.21`.
    static func percent(_ v: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", v * 100) }
}
