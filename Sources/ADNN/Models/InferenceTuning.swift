import Foundation

/// Knobs of batched inference in the models.
public enum InferenceTuning {
    /// Largest tensor, in bytes per slice of images, that a model's batched inference aims to keep in cache
    /// (EfficientNet runs its early stages over slices of the batch this small; see `EfficientNet.features`).
    /// `ADNN_SLICE_BYTES` sets it; 0 turns slicing off (whole batch through every stage, for comparisons).
    nonisolated(unsafe) public static var sliceBytes: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_SLICE_BYTES"], let v = Int(s), v >= 0 { return v }
        return 1 << 20
    }()
}
