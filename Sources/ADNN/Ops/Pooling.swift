import ADNNKernels

// Pooling and padding over channels-last `[N, H, W, C]` tensors, PyTorch semantics.

@inline(__always)
private func poolGeometry(_ op: String, _ x: Tensor, kernel: Int, stride: Int, padding: Int) -> Pool2DGeometry {
    precondition(x.rank == 4, "\(op): input must be [N, H, W, C], got \(x.shape)")
    let g = Pool2DGeometry(batch: x.shape[0], inHeight: x.shape[1], inWidth: x.shape[2], channels: x.shape[3],
                           kernel: kernel, stride: stride, padding: padding)
    g.validate(op)
    return g
}

/// Max pooling with a square `kernel`, padding with −∞ (PyTorch `max_pool2d`, floor mode).
/// The gradient goes to the (first) maximum of each window.
/// - Parameters:
///   - x: `[N, H, W, C]`.
///   - padding: at most `kernel / 2`.
/// - Returns: `[N, (H + 2p − k)/s + 1, (W + 2p − k)/s + 1, C]`.
public func maxPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
    let g = poolGeometry("maxPool2d", x, kernel: kernel, stride: stride, padding: padding)
    let y = Tensor.empty([g.batch, g.outHeight, g.outWidth, g.channels])
    guard needsGrad(x) else {
        maxPool2dForward(y.ptr, argmax: nil, x.ptr, g)
        return y
    }
    var argmax = [Int32](repeating: 0, count: y.count)
    argmax.withUnsafeMutableBufferPointer { maxPool2dForward(y.ptr, argmax: $0.baseAddress!, x.ptr, g) }
    let indices = argmax
    y.record("maxPool2d", [x]) { dy in
        let dx = Tensor.empty(x.shape)
        indices.withUnsafeBufferPointer { maxPool2dBackward(dx.ptr, dy.ptr, argmax: $0.baseAddress!, g) }
        return [dx]
    }
    return y
}

/// Average pooling with a square `kernel`, zero padding counted in the divisor
/// (PyTorch `avg_pool2d` defaults: `count_include_pad=True`, floor mode).
/// - Parameters:
///   - x: `[N, H, W, C]`.
///   - padding: at most `kernel / 2`.
/// - Returns: `[N, (H + 2p − k)/s + 1, (W + 2p − k)/s + 1, C]`.
public func avgPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
    let g = poolGeometry("avgPool2d", x, kernel: kernel, stride: stride, padding: padding)
    let y = Tensor.empty([g.batch, g.outHeight, g.outWidth, g.channels])
    avgPool2dForward(y.ptr, x.ptr, g)
    if needsGrad(x) {
        y.record("avgPool2d", [x]) { dy in
            let dx = Tensor.empty(x.shape)
            avgPool2dBackward(dx.ptr, dy.ptr, g)
            return [dx]
        }
    }
    return y
}

/// Adaptive average pooling to `outputSize × outputSize` with PyTorch's windows
/// `[⌊i·In/Out⌋, ⌈(i+1)·In/Out⌉)` (windows may overlap when the size does not divide).
/// - Parameter x: `[N, H, W, C]`.
/// - Returns: `[N, outputSize, outputSize, C]`.
public func adaptiveAvgPool2d(_ x: Tensor, outputSize: Int) -> Tensor {
    adaptiveAvgPool2d(x, outputHeight: outputSize, outputWidth: outputSize)
}

/// Adaptive average pooling to `outputHeight × outputWidth` (PyTorch windows).
/// - Parameter x: `[N, H, W, C]`.
/// - Returns: `[N, outputHeight, outputWidth, C]`.
public func adaptiveAvgPool2d(_ x: Tensor, outputHeight: Int, outputWidth: Int) -> Tensor {
    precondition(x.rank == 4, "adaptiveAvgPool2d: input must be [N, H, W, C], got \(x.shape)")
    precondition(outputHeight > 0 && outputWidth > 0, "adaptiveAvgPool2d: output size must be positive, got \(outputHeight)×\(outputWidth)")
    precondition(x.shape[1] > 0 && x.shape[2] > 0 && x.shape[3] > 0, "adaptiveAvgPool2d: empty input \(x.shape)")
    let N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    let y = Tensor.empty([N, outputHeight, outputWidth, C])
    adaptiveAvgPool2dForward(y.ptr, x.ptr, batch: N, inHeight: H, inWidth: W, channels: C,
                             outHeight: outputHeight, outWidth: outputWidth)
    if needsGrad(x) {
        y.record("adaptiveAvgPool2d", [x]) { dy in
            let dx = Tensor.empty(x.shape)
            adaptiveAvgPool2dBackward(dx.ptr, dy.ptr, batch: N, inHeight: H, inWidth: W, channels: C,
                                      outHeight: outputHeight, outWidth: outputWidth)
            return [dx]
        }
    }
    return y
}

/// Global average pooling: mean over the spatial axes, `[N, H, W, C] → [N, C]`.
public func globalAvgPool(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "globalAvgPool: input must be [N, H, W, C], got \(x.shape)")
    let N = x.shape[0], P = x.shape[1] * x.shape[2], C = x.shape[3]
    precondition(P > 0, "globalAvgPool: empty spatial extent in \(x.shape)")
    let y = Tensor.empty([N, C])
    Profiler.measure("globalAvgPool") { globalAvgPoolForward(y.ptr, x.ptr, batch: N, spatial: P, channels: C) }
    if needsGrad(x) {
        y.record("globalAvgPool", [x]) { dy in
            let dx = Tensor.empty(x.shape)
            globalAvgPoolBackward(dx.ptr, dy.ptr, batch: N, spatial: P, channels: C)
            return [dx]
        }
    }
    return y
}

/// Pads the spatial axes of `[N, H, W, C]` with a constant `value` (PyTorch `F.pad(x, (l, r, t, b), value=v)`
/// on NCHW). Backward crops the gradient.
/// - Returns: `[N, H + top + bottom, W + left + right, C]`.
public func pad2d(_ x: Tensor, _ p: Padding2D, value: Float = 0) -> Tensor {
    precondition(x.rank == 4, "pad2d: input must be [N, H, W, C], got \(x.shape)")
    precondition(p.top >= 0 && p.bottom >= 0 && p.left >= 0 && p.right >= 0, "pad2d: negative padding \(p)")
    let N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    let y = Tensor.empty([N, H + p.top + p.bottom, W + p.left + p.right, C])
    pad2dForward(y.ptr, x.ptr, batch: N, height: H, width: W, channels: C,
                 top: p.top, bottom: p.bottom, left: p.left, right: p.right, value: value)
    if needsGrad(x) {
        y.record("pad2d", [x]) { dy in
            let dx = Tensor.empty(x.shape)
            pad2dBackward(dx.ptr, dy.ptr, batch: N, height: H, width: W, channels: C,
                          top: p.top, bottom: p.bottom, left: p.left, right: p.right)
            return [dx]
        }
    }
    return y
}
