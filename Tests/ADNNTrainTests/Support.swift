import XCTest
import Foundation
import ADNNTrain

/// A fresh folder under the system temporary directory, unique per test.
func makeTemporaryFolder(_ tag: String) throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("adnn-\(tag)-\(getpid())-\(UUID().uuidString.prefix(6))").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// Trains a tiny gray 24 px EfficientNet-B0 for one epoch on synthetic faces into `d/run`; returns
/// `d/run/best.safetensors`.
@discardableResult
func trainTinyModel(in d: String) throws -> String {
    try """
    model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, num_classes: 7, cbam: null, transformer: null}
    schedule: {epochs: 1, warmup_epochs: 0, patience: 0}
    data: {format: synthetic, batch_size: 32, clahe: false, mean: [0.5], std: [0.25], workers: 1}
    augment: {hflip: 0, crop: 0, color_jitter: 0, rotate: 0, noise: 0, cutout: 0, mixup: 0}
    """.write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
    try TrainingRequest(configPath: d + "/c.yaml", dataPath: "synthetic:train=32,val=16,test=0,size=24", out: d + "/run").run()
    return d + "/run/best.safetensors"
}
