import ADNNKernels

/// Resampling filter of `resize` (re-exported from the kernel layer).
public typealias ResizeMode = ADNNKernels.ResizeMode
