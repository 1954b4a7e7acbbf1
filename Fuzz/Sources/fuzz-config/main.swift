import CFuzzer
import Glibc
import ADNNTrain

// libFuzzer target: `Config.parse(yaml:file:)` (Yams, strict key merge, typed decode, validation),
// then the JSON and YAML round trips a checkpoint and a run folder store.

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let config = try? Config.parse(yaml: text, file: "fuzz.yaml") else { return 0 }
    let json = config.jsonString()
    precondition((try? Config.fromJSON(json)) != nil, "resolved config does not round-trip through JSON")
    _ = config.yamlString()
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzz))
