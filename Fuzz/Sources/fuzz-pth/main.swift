import CFuzzer
import Glibc
import ADNN

// libFuzzer target: `TorchPickle.parseStateDict` (zip and legacy containers, the pickle VM, tensor gathering).

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if let tensors = try? TorchPickle.parseStateDict(bytes, path: "fuzz.pth") {
        for (_, t) in tensors { precondition(t.count >= 0) }
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzz))
