import CFuzzer
import Glibc
import ADNNData

// libFuzzer target: PNG decoding (libpng via the CPNG shim: palette, low-bit gray, 16-bit, alpha,
// interlace, size limits). Inputs without the PNG signature are left to `fuzz-jpeg`; thrown errors are
// expected. Chunk checksums are recomputed before decoding, so that mutations reach the chunk parsers
// instead of failing libpng's CRC check.

/// CRC-32 (ISO 3309, as PNG uses) lookup table.
let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

/// Rewrites the CRC of every complete chunk after the 8-byte signature.
func fixChunkCRCs(_ b: inout [UInt8]) {
    var p = 8
    while p + 12 <= b.count {
        let length = Int(b[p]) << 24 | Int(b[p + 1]) << 16 | Int(b[p + 2]) << 8 | Int(b[p + 3])
        guard length <= b.count - p - 12 else { return }
        var c: UInt32 = 0xFFFF_FFFF
        for i in (p + 4)..<(p + 8 + length) { c = crcTable[Int((c ^ UInt32(b[i])) & 0xff)] ^ (c >> 8) }
        c ^= 0xFFFF_FFFF
        let q = p + 8 + length
        b[q] = UInt8(c >> 24); b[q + 1] = UInt8((c >> 16) & 0xff); b[q + 2] = UInt8((c >> 8) & 0xff); b[q + 3] = UInt8(c & 0xff)
        p = q + 4
    }
}

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    guard bytes.withUnsafeBytes({ ImageFileFormat.sniff($0) }) == .png else { return 0 }
    fixChunkCRCs(&bytes)
    if let image = try? decodeImage(bytes, name: "fuzz.png") {
        precondition(image.pixels.count == image.width * image.height * image.channels)
    }
    return 0
}

// Smaller than the defaults so huge headers fail fast; the limit check itself is the code under test.
ImageLimits.maxSide = 4096
ImageLimits.maxPixels = 1 << 22
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzz))
