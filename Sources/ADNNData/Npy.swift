/// A minimal reader for NumPy `.npy` files holding one label (AffectNet `*_exp.npy`).
///
/// Supports format versions 1–3, little/big-endian integer and float dtypes, and the
/// fixed-width string dtypes `<U…` (UTF-32) and `|S…` (bytes) that AffectNet uses (`'1'`).
public enum NpyReader {
    /// The first element of the array in `bytes`, as an integer.
    /// - Throws: `DataError.malformed` naming `path`.
    public static func firstInteger(_ bytes: [UInt8], path: String) throws -> Int {
        func fail(_ why: String) -> DataError { .malformed(path: path, line: 0, reason: "bad .npy file: \(why)") }
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw fail("missing \\x93NUMPY magic")
        }
        let major = bytes[6]
        let headerLen: Int, headerStart: Int
        if major == 1 {
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8; headerStart = 10
        } else if major == 2 || major == 3 {
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        } else { throw fail("unsupported version \(major)") }
        guard headerStart + headerLen <= bytes.count else { throw fail("truncated header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLen)], as: UTF8.self)
        guard let descr = quotedValue(header, key: "descr") else { throw fail("no 'descr' in header") }
        let data = Array(bytes[(headerStart + headerLen)...])
        guard !data.isEmpty else { throw fail("no data") }
        var chars = Array(descr)
        guard chars.count >= 2 else { throw fail("bad dtype '\(descr)'") }
        var big = false
        if chars[0] == ">" { big = true; chars.removeFirst() }
        else if chars[0] == "<" || chars[0] == "|" || chars[0] == "=" { chars.removeFirst() }
        let kind = chars[0]
        guard let width = Int(String(chars.dropFirst())), width > 0 else { throw fail("bad dtype '\(descr)'") }
        func uint(_ n: Int) throws -> UInt64 {
            guard data.count >= n else { throw fail("data shorter than one element") }
            var v: UInt64 = 0
            for i in 0..<n { v |= UInt64(data[big ? n - 1 - i : i]) << (8 * UInt64(i)) }
            return v
        }
        switch kind {
        case "i":
            guard width <= 8 else { throw fail("unsupported integer width \(width)") }
            let raw = try uint(width)
            let shift = UInt64(64 - 8 * width)
            return Int(Int64(bitPattern: raw << shift) >> Int64(shift))
        case "u", "b":
            guard width <= 8 else { throw fail("unsupported integer width \(width)") }
            let raw = try uint(width)
            guard let value = Int(exactly: raw) else { throw fail("label \(raw) is too large") }
            return value
        case "f":
            let raw = try uint(width)
            let value: Double
            switch width {
            case 4: value = Double(Float(bitPattern: UInt32(raw)))
            case 8: value = Double(bitPattern: raw)
            case 2: value = Double(Float16Bits.toFloat(UInt16(raw)))
            default: throw fail("unsupported float width \(width)")
            }
            guard let label = Int(exactly: value) else { throw fail("label \(value) is not an integer") }
            return label
        case "U":
            var s = ""
            for i in 0..<width {
                guard data.count >= 4 * (i + 1) else { break }
                let o = 4 * i
                let c = big ? UInt32(data[o]) << 24 | UInt32(data[o + 1]) << 16 | UInt32(data[o + 2]) << 8 | UInt32(data[o + 3])
                            : UInt32(data[o]) | UInt32(data[o + 1]) << 8 | UInt32(data[o + 2]) << 16 | UInt32(data[o + 3]) << 24
                if c == 0 { break }
                guard let scalar = Unicode.Scalar(c) else { throw fail("bad UTF-32 text") }
                s.unicodeScalars.append(scalar)
            }
            guard let v = Int(s.trimmingCharacters(in: " ")) else { throw fail("label '\(s)' is not an integer") }
            return v
        case "S", "a":
            let n = min(width, data.count)
            let s = String(decoding: data[0..<n].prefix { $0 != 0 }, as: UTF8.self)
            guard let v = Int(s.trimmingCharacters(in: " ")) else { throw fail("label '\(s)' is not an integer") }
            return v
        default:
            throw fail("unsupported dtype '\(descr)'")
        }
    }

    /// The quoted value of `'key': '…'` in a .npy header dictionary.
    static func quotedValue(_ header: String, key: String) -> String? {
        guard let r = header.range(of: "'\(key)'") else { return nil }
        let rest = header[r.upperBound...]
        guard let q1 = rest.firstIndex(where: { $0 == "'" || $0 == "\"" }) else { return nil }
        let quote = rest[q1]
        let after = rest[rest.index(after: q1)...]
        guard let q2 = after.firstIndex(of: quote) else { return nil }
        return String(after[..<q2])
    }
}

/// IEEE half-precision bit conversion (no dependency on `Float16`, unavailable on some targets).
enum Float16Bits {
    static func toFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exp = Int((h >> 10) & 0x1f), frac = UInt32(h & 0x3ff)
        if exp == 0 {
            let v = Float(frac) * 0x1.0p-24
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | frac << 13) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | frac << 13)
    }
}

private extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
