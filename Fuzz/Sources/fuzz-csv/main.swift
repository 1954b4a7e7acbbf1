import CFuzzer
import Glibc
import ADNNData

// libFuzzer target: the CSV reader and the FER2013 row parser (`Dataset.parseFER2013`), then reading
// every in-memory sample back as an image.

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    guard let dataset = try? Dataset.parseFER2013(csv: bytes, name: "fuzz.csv") else { return 0 }
    for name in dataset.splitNames {
        guard let split = try? dataset.split(name) else { continue }
        for sample in split.samples {
            precondition((0..<dataset.numClasses).contains(sample.label))
            _ = try? dataset.loadImage(sample)
        }
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzz))
