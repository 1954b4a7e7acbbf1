/// A small RFC-4180 CSV reader over a file held in memory: comma-separated, optional double
/// quotes (with `""` escapes and embedded newlines), `\n` or `\r\n` line ends, UTF-8 BOM ignored.
struct CSVFile {
    let path: String
    let bytes: [UInt8]

    init(path: String) throws {
        self.path = path
        self.bytes = try readFileBytes(path)
    }

    init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }

    /// Calls `body(line, fields)` for every record; `line` is the 1-based line where it starts.
    /// Empty lines are skipped.
    func forEachRecord(_ body: (Int, [ArraySlice<UInt8>]) throws -> Void) throws {
        let n = bytes.count
        var i = 0
        if n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { i = 3 }
        var line = 1
        var fields: [ArraySlice<UInt8>] = []
        fields.reserveCapacity(16)
        while i < n {
            let startLine = line
            fields.removeAll(keepingCapacity: true)
            // Skip empty lines.
            if bytes[i] == 0x0A { i += 1; line += 1; continue }
            if bytes[i] == 0x0D && i + 1 < n && bytes[i + 1] == 0x0A { i += 2; line += 1; continue }
            var endOfRecord = false
            while !endOfRecord {
                if i < n && bytes[i] == 0x22 {                       // quoted field
                    i += 1
                    let s = i
                    var escaped = false
                    while true {
                        guard i < n else {
                            throw DataError.malformed(path: path, line: startLine, reason: "unterminated quoted field")
                        }
                        if bytes[i] == 0x22 {
                            if i + 1 < n && bytes[i + 1] == 0x22 { escaped = true; i += 2; continue }
                            break
                        }
                        if bytes[i] == 0x0A { line += 1 }
                        i += 1
                    }
                    if escaped {
                        var un: [UInt8] = []
                        var k = s
                        while k < i { un.append(bytes[k]); k += bytes[k] == 0x22 ? 2 : 1 }
                        fields.append(un[...])
                    } else {
                        fields.append(bytes[s..<i])
                    }
                    i += 1                                           // closing quote
                    while i < n && bytes[i] != 0x2C && bytes[i] != 0x0A && bytes[i] != 0x0D { i += 1 }
                } else {
                    let s = i
                    while i < n && bytes[i] != 0x2C && bytes[i] != 0x0A && bytes[i] != 0x0D { i += 1 }
                    fields.append(bytes[s..<i])
                }
                if i >= n { endOfRecord = true }
                else if bytes[i] == 0x2C { i += 1; if i >= n { fields.append(bytes[n..<n]); endOfRecord = true } }
                else {
                    if bytes[i] == 0x0D { i += 1 }
                    if i < n && bytes[i] == 0x0A { i += 1 }
                    line += 1
                    endOfRecord = true
                }
            }
            try body(startLine, fields)
        }
    }

    /// The first record as trimmed strings (the header), or `nil` for an empty file.
    func header() throws -> [String]? {
        var result: [String]? = nil
        struct Stop: Error {}
        do {
            try forEachRecord { _, fields in
                result = fields.map { csvString($0) }
                throw Stop()
            }
        } catch is Stop {}
        return result
    }
}

/// A CSV field as a string with surrounding spaces removed.
@inline(__always)
func csvString(_ f: ArraySlice<UInt8>) -> String {
    var s = f.startIndex, e = f.endIndex
    while s < e && (f[s] == 0x20 || f[s] == 0x09) { s += 1 }
    while e > s && (f[e - 1] == 0x20 || f[e - 1] == 0x09) { e -= 1 }
    return String(decoding: f[s..<e], as: UTF8.self)
}

/// A CSV field parsed as a non-negative or negative decimal integer.
@inline(__always)
func csvInt(_ f: ArraySlice<UInt8>) -> Int? {
    var s = f.startIndex, e = f.endIndex
    while s < e && f[s] == 0x20 { s += 1 }
    while e > s && f[e - 1] == 0x20 { e -= 1 }
    if s == e { return nil }
    var neg = false
    if f[s] == 0x2D { neg = true; s += 1 } else if f[s] == 0x2B { s += 1 }
    if s == e { return nil }
    var v = 0
    while s < e {
        let d = Int(f[s]) - 48
        if d < 0 || d > 9 {
            // Accept "3.0"-style integers.
            if f[s] == 0x2E && f[(s + 1)..<e].allSatisfy({ $0 == 0x30 }) { break }
            return nil
        }
        v = v &* 10 &+ d
        if v > 1 << 40 { return nil }
        s += 1
    }
    return neg ? -v : v
}
