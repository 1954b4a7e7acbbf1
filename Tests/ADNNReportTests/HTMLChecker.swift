import Foundation
import ADNNTrain
import XCTest

/// A small well-formedness checker for the reports: every opened element is closed in order
/// (void elements excepted), attribute quotes are balanced, and text holds no bare `<`.
enum HTMLChecker {
    static let void: Set<String> = ["meta", "img", "br", "hr", "input", "link", "area", "base", "col", "source", "wbr"]

    /// Problems found (empty when well formed), and the element names seen with their counts.
    static func check(_ html: String) -> (problems: [String], elements: [String: Int]) {
        var problems: [String] = []
        var stack: [String] = []
        var counts: [String: Int] = [:]
        let s = Array(html.unicodeScalars)
        var i = 0
        func lineOf(_ at: Int) -> Int { s[0..<min(at, s.count)].filter { $0 == "\n" }.count + 1 }
        while i < s.count {
            guard s[i] == "<" else { i += 1; continue }
            if html.unicodeScalars.count > i + 3, String(String.UnicodeScalarView(s[i..<min(i + 4, s.count)])) == "<!--" {
                var j = i + 4
                while j + 2 < s.count && !(s[j] == "-" && s[j + 1] == "-" && s[j + 2] == ">") { j += 1 }
                i = j + 3; continue
            }
            // Find the tag end, honouring quotes.
            var j = i + 1, quote: Unicode.Scalar? = nil
            while j < s.count {
                if let q = quote { if s[j] == q { quote = nil } } else if s[j] == "\"" || s[j] == "'" { quote = s[j] } else if s[j] == ">" { break }
                else if s[j] == "<" { problems.append("line \(lineOf(j)): '<' inside a tag"); break }
                j += 1
            }
            guard j < s.count, s[j] == ">" else { problems.append("line \(lineOf(i)): unterminated tag"); return (problems, counts) }
            let inner = String(String.UnicodeScalarView(s[(i + 1)..<j]))
            i = j + 1
            if inner.hasPrefix("!") { continue }                                   // <!DOCTYPE html>
            if inner.hasPrefix("/") {
                let name = inner.dropFirst().trimmingCharacters(in: .whitespaces).lowercased()
                if stack.last == name { stack.removeLast() } else {
                    problems.append("line \(lineOf(i)): </\(name)> closes <\(stack.last ?? "nothing")>")
                    if let k = stack.lastIndex(of: name) { stack.removeSubrange(k...) }
                }
                continue
            }
            let name = String(inner.prefix { !$0.isWhitespace && $0 != "/" }).lowercased()
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                problems.append("line \(lineOf(i)): bad tag <\(inner.prefix(20))>"); continue
            }
            counts[name, default: 0] += 1
            if inner.hasSuffix("/") || void.contains(name) { continue }
            if name == "style" || name == "script" {
                // Raw text up to the closing tag.
                let rest = String(String.UnicodeScalarView(s[i...]))
                guard let r = rest.range(of: "</\(name)>") else { problems.append("unclosed <\(name)>"); return (problems, counts) }
                i += rest.unicodeScalars.distance(from: rest.unicodeScalars.startIndex, to: r.lowerBound.samePosition(in: rest.unicodeScalars)!)
                    + name.count + 3
                continue
            }
            stack.append(name)
        }
        if !stack.isEmpty { problems.append("unclosed: " + stack.joined(separator: ", ")) }
        return (problems, counts)
    }

    /// Asserts `html` is well formed, self-contained (no http/https references, no scripts) and
    /// that every embedded PNG is valid base64; returns the element counts and the PNG payloads.
    @discardableResult
    static func assertSelfContained(_ html: String, file: StaticString = #filePath, line: UInt = #line) -> (elements: [String: Int], pngs: [Data]) {
        let (problems, counts) = check(html)
        XCTAssertEqual(problems, [], "HTML not well formed", file: file, line: line)
        XCTAssertFalse(html.contains("http://"), "network reference", file: file, line: line)
        XCTAssertFalse(html.contains("https://"), "network reference", file: file, line: line)
        XCTAssertNil(counts["script"], "scripts", file: file, line: line)
        XCTAssertNil(counts["link"], "external stylesheet", file: file, line: line)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"), file: file, line: line)
        var pngs: [Data] = []
        var rest = Substring(html)
        while let r = rest.range(of: "data:image/png;base64,") {
            let tail = rest[r.upperBound...]
            let b64 = tail.prefix { $0 != "\"" }
            guard let d = Data(base64Encoded: String(b64)) else { XCTFail("bad base64 image", file: file, line: line); break }
            pngs.append(d)
            rest = tail.dropFirst(b64.count)
        }
        // Every src attribute is an embedded image.
        var srcRest = Substring(html)
        while let r = srcRest.range(of: " src=\"") {
            XCTAssertTrue(srcRest[r.upperBound...].hasPrefix("data:image/png;base64,"), "non-embedded src", file: file, line: line)
            srcRest = srcRest[r.upperBound...]
        }
        return (counts, pngs)
    }
}
