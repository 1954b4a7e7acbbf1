import CFuzzer
import Glibc
import ADNNData

// libFuzzer target: JPEG decoding (libjpeg-turbo via the CJPEG shim, EXIF orientation, size limits).
// Inputs that do not start with the JPEG magic are left to `fuzz-png`; thrown errors are expected.

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard ImageFileFormat.sniff(bytes) == .jpeg else { return 0 }
    if let image = try? decodeImage(bytes, name: "fuzz.jpg") {
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
