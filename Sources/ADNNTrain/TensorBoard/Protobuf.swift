/// The few protocol-buffer wire-format pieces the `tensorflow.Event` messages need, by hand.
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    /// Wire type 1: a little-endian double.
    mutating func double(_ field: Int, _ v: Double) {
        key(field, 1); bytes += TFRecord.littleEndian(v.bitPattern)
    }

    /// Wire type 5: a little-endian float.
    mutating func float(_ field: Int, _ v: Float) {
        key(field, 5); bytes += TFRecord.littleEndian(v.bitPattern)
    }

    /// Wire type 0: an int64 (two's complement, ten bytes when negative).
    mutating func int64(_ field: Int, _ v: Int64) {
        key(field, 0); varint(UInt64(bitPattern: v))
    }

    /// Wire type 2: bytes, a string or an embedded message.
    mutating func lengthDelimited(_ field: Int, _ data: [UInt8]) {
        key(field, 2); varint(UInt64(data.count)); bytes += data
    }

    mutating func string(_ field: Int, _ s: String) { lengthDelimited(field, Array(s.utf8)) }
}

/// One field of a decoded message.
enum ProtoValue {
    case varint(UInt64), fixed64(UInt64), fixed32(UInt32), bytes([UInt8])
}

/// Decodes the top-level fields of a message (unknown fields are kept; groups are an error).
func decodeProto(_ bytes: [UInt8], name: String) throws -> [(field: Int, value: ProtoValue)] {
    var out: [(Int, ProtoValue)] = []
    var i = 0
    func varint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard i < bytes.count, shift < 64 else { throw ReportError("\(name): malformed varint at byte \(i)") }
            let b = bytes[i]; i += 1
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }
    while i < bytes.count {
        let key = try varint()
        let field = Int(key >> 3)
        switch key & 7 {
        case 0: out.append((field, .varint(try varint())))
        case 1:
            guard bytes.count - i >= 8 else { throw ReportError("\(name): truncated fixed64 field \(field)") }
            out.append((field, .fixed64(TFRecord.readLE(UInt64.self, bytes, i)))); i += 8
        case 5:
            guard bytes.count - i >= 4 else { throw ReportError("\(name): truncated fixed32 field \(field)") }
            out.append((field, .fixed32(TFRecord.readLE(UInt32.self, bytes, i)))); i += 4
        case 2:
            let n = try varint()
            guard n <= UInt64(bytes.count - i) else { throw ReportError("\(name): truncated field \(field)") }
            out.append((field, .bytes(Array(bytes[i..<(i + Int(n))])))); i += Int(n)
        default: throw ReportError("\(name): unsupported wire type \(key & 7) for field \(field)")
        }
    }
    return out
}
