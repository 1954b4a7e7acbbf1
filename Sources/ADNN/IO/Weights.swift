import Foundation

/// Reads a weights file: safetensors, or a PyTorch `.pth` state dict.
public func loadWeights(_ path: String) throws -> [String: Tensor] {
    guard FileManager.default.fileExists(atPath: path) else { throw ADNNError.io("\(path): weights file not found") }
    if path.hasSuffix(".pth") || path.hasSuffix(".pt") || path.hasSuffix(".bin") {
        return try TorchPickle.readStateDict(path)
    }
    let st = try SafeTensors.read(path)
    return st.tensors
}
