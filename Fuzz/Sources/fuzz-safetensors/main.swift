import CFuzzer
import Glibc
import ADNN

// libFuzzer target: `SafeTensors.parse` (header length, JSON header, dtypes, shapes, offsets, conversion).

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if let file = try? SafeTensors.parse(bytes, path: "fuzz.safetensors") {
        for (name, t) in file.ordered { precondition(file.dtypes[name] != nil && t.count >= 0) }
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzz))
