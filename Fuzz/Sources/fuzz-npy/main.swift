import CFuzzer
import Glibc
import ADNNData

// libFuzzer target: `NpyReader.firstInteger` (AffectNet label files: versions 1–3, integer, float and string dtypes).

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    _ = try? NpyReader.firstInteger(bytes, path: "fuzz.npy")
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzz))
