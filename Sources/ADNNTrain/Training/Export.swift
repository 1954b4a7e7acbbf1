import Foundation
import ADNN

/// `adnn export`: the inference copy of a checkpoint (`Checkpoint.inferenceOnly`), optionally in half
/// precision: what `models/` ships. The result loads exactly like any checkpoint (`adnn predict
/// --model FILE`, `eval`, `video`).
public struct ExportRequest {
    public var checkpoint: String
    public var out: String
    /// Store the weights as F16 (half the size; read back exactly as the rounded values).
    public var half: Bool
    /// Replace an existing `out`.
    public var force: Bool

    public init(checkpoint: String, out: String, half: Bool = false, force: Bool = false) {
        self.checkpoint = checkpoint; self.out = out; self.half = half; self.force = force
    }

    /// Writes `out` and returns its size in bytes.
    @discardableResult
    public func run(printing: Bool = true) throws -> Int {
        guard FileManager.default.fileExists(atPath: checkpoint) else { throw ADNNError.io("\(checkpoint): no such checkpoint") }
        if FileManager.default.fileExists(atPath: out) && !force {
            throw ADNNError.io("\(out): already exists (pass --force to replace it)")
        }
        if URL(fileURLWithPath: out).standardizedFileURL == URL(fileURLWithPath: checkpoint).standardizedFileURL {
            throw ADNNError.invalid("\(out): is the input checkpoint; export to another file")
        }
        let ck = try Checkpoint.read(checkpoint).inferenceOnly
        _ = try ck.makeModel(source: checkpoint)            // it must load before it is written
        try ck.write(to: out, half: half)
        _ = try Checkpoint.read(out).makeModel(source: out)
        let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        if printing {
            print(String(format: "%@ → %@: %d tensors, %.1f MB%@", checkpoint, out, ck.tensors.count, Double(size) / 1e6,
                         half ? " (float16)" : ""))
        }
        return size
    }
}
