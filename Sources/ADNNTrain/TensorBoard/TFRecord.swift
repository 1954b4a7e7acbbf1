/// The TFRecord framing of TensorBoard event files: per record a little-endian `uint64` length,
/// the masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C of the data.
public enum TFRecord {
    /// One framed record.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = littleEndian(UInt64(data.count))
        out += length
        out += littleEndian(CRC32C.maskedChecksum(length))
        out += data
        out += littleEndian(CRC32C.maskedChecksum(data))
        return out
    }

    /// The records of a framed byte stream, each CRC checked.
    /// - Throws: `ReportError` naming `name` on a truncated stream or a CRC mismatch.
    public static func records(_ bytes: [UInt8], name: String) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            guard bytes.count - i >= 12 else { throw ReportError("\(name): truncated record header at byte \(i)") }
            let lengthBytes = Array(bytes[i..<(i + 8)])
            let length = readLE(UInt64.self, bytes, i)
            guard readLE(UInt32.self, bytes, i + 8) == CRC32C.maskedChecksum(lengthBytes) else {
                throw ReportError("\(name): length CRC mismatch at byte \(i)")
            }
            guard length <= UInt64(bytes.count - i - 16) else { throw ReportError("\(name): truncated record at byte \(i)") }
            let start = i + 12, end = start + Int(length)
            let data = Array(bytes[start..<end])
            guard readLE(UInt32.self, bytes, end) == CRC32C.maskedChecksum(data) else {
                throw ReportError("\(name): data CRC mismatch in the record at byte \(i)")
            }
            out.append(data)
            i = end + 4
        }
        return out
    }

    static func littleEndian<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
    }

    static func readLE<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], _ at: Int) -> T {
        var v: T = 0
        for k in 0..<(T.bitWidth / 8) { v |= T(bytes[at + k]) << (k * 8) }
        return v
    }
}
