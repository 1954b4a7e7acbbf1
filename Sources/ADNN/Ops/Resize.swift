import ADNNKernels

/// Resizes `[N, H, W, C]` images to `height × width` with PyTorch `F.interpolate` semantics
/// (`mode` bilinear or bicubic with a = −0.75, `align_corners`, `antialias`). Differentiable:
/// the gradient applies the transposed resampling.
public func resize(_ x: Tensor, height: Int, width: Int, mode: ResizeMode,
                   alignCorners: Bool = false, antialias: Bool = false) -> Tensor {
    precondition(x.rank == 4, "resize: expects [N, H, W, C], got shape \(x.shape)")
    precondition(height > 0 && width > 0, "resize: output size \(height)×\(width) must be positive")
    let n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    precondition(h > 0 && w > 0, "resize: input \(x.shape) has an empty spatial axis")
    let rows = makeResizeTable(inSize: h, outSize: height, mode: mode, alignCorners: alignCorners, antialias: antialias)
    let cols = makeResizeTable(inSize: w, outSize: width, mode: mode, alignCorners: alignCorners, antialias: antialias)
    let out = Tensor.empty([n, height, width, c])
    resizeNHWC(out.ptr, x.ptr, n: n, h: h, w: w, c: c, rows: rows, cols: cols)
    if needsGrad(x) {
        out.record("resize", [x]) { g in
            let gx = Tensor.empty([n, h, w, c])
            resizeNHWCBackward(gx.ptr, g.ptr, n: n, h: h, w: w, c: c, rows: rows, cols: cols)
            return [gx]
        }
    }
    return out
}
