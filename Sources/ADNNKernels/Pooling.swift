// Pooling and padding kernels over channels-last tensors [N, H, W, C], vectorised over channels.

// Small helpers, private to this file so that they inline in debug (non-WMO) builds too.
@inline(__always) private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) private func load16(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) private func store16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}
/// dst[0..<n] += src[0..<n] (SIMD16 body, scalar tail).
@inline(__always) private func addRow(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n { store16(dst + i, load16(dst + i) + load16(src + i)); i += 16 }
    while i < n { dst[i] += src[i]; i += 1 }
}

/// Shape of a square-window pooling: `Ho = (H + 2·padding − kernel) / stride + 1` (floor mode).
public struct Pool2DGeometry: Sendable, Equatable {
    public var batch: Int
    public var inHeight: Int
    public var inWidth: Int
    public var channels: Int
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    public init(batch: Int, inHeight: Int, inWidth: Int, channels: Int, kernel: Int, stride: Int, padding: Int = 0) {
        self.batch = batch; self.inHeight = inHeight; self.inWidth = inWidth; self.channels = channels
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    /// Output height.
    public var outHeight: Int { (inHeight + 2 * padding - kernel) / stride + 1 }
    /// Output width.
    public var outWidth: Int { (inWidth + 2 * padding - kernel) / stride + 1 }
    public var inputCount: Int { batch * inHeight * inWidth * channels }
    public var outputCount: Int { batch * outHeight * outWidth * channels }

    /// Checks the geometry (PyTorch's rules: padding at most half the kernel, non-empty output).
    public func validate(_ op: String) {
        precondition(batch >= 0 && inHeight > 0 && inWidth > 0 && channels > 0, "\(op): bad input sizes \(self)")
        precondition(kernel > 0 && stride > 0, "\(op): kernel \(kernel) and stride \(stride) must be positive")
        precondition(padding >= 0 && 2 * padding <= kernel,
                     "\(op): padding \(padding) must be between 0 and half the kernel size \(kernel)")
        precondition(inHeight + 2 * padding >= kernel && inWidth + 2 * padding >= kernel,
                     "\(op): kernel \(kernel) larger than padded input \(inHeight)×\(inWidth) (padding \(padding))")
    }
}

/// Number of channel blocks of 16 (the work unit of the scatter-style backward kernels).
@inline(__always) private func channelBlocks(_ C: Int) -> Int { (C + 15) / 16 }

@inline(__always) private func zeroFill(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
    parallelFor(count, grain: 1 << 16) { r in (p + r.lowerBound).update(repeating: 0, count: r.count) }
}

// MARK: - max pooling

/// Max pooling with −∞ padding. Writes, when `argmax` is given, the flat spatial index iy·W + ix
/// of the chosen input for every output element (first maximum in window order; NaN wins, as in
/// PyTorch).
// y: [N, Ho, Wo, C], argmax: [N, Ho, Wo, C], x: [N, H, W, C]
public func maxPool2dForward(_ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?,
                             _ x: UnsafePointer<Float>, _ g: Pool2DGeometry) {
    g.validate("maxPool2d")
    let N = g.batch, H = g.inHeight, W = g.inWidth, C = g.channels, Ho = g.outHeight, Wo = g.outWidth
    let k = g.kernel, s = g.stride, p = g.padding
    parallelFor(N * Ho, grain: Swift.max(1, 2048 / Swift.max(1, Wo * C * k * k))) { r in
        for row in r {
            let n = row / Ho, oy = row % Ho
            let hs = oy * s - p, hlo = Swift.max(hs, 0), hhi = Swift.min(hs + k, H)
            for ox in 0..<Wo {
                let ws = ox * s - p, wlo = Swift.max(ws, 0), whi = Swift.min(ws + k, W)
                let o = (row * Wo + ox) * C
                var c = 0
                while c + 16 <= C {
                    var mx = SIMD16<Float>(repeating: -.infinity)
                    var idx = SIMD16<Int32>(repeating: -1)
                    for iy in hlo..<hhi {
                        for ix in wlo..<whi {
                            let v = load16(x + ((n * H + iy) * W + ix) * C + c)
                            let m = (v .> mx) .| (v .!= v)
                            mx.replace(with: v, where: m)
                            idx.replace(with: Int32(iy * W + ix), where: m)
                        }
                    }
                    store16(y + o + c, mx)
                    if let argmax { UnsafeMutableRawPointer(argmax + o + c).storeBytes(of: idx, as: SIMD16<Int32>.self) }
                    c += 16
                }
                while c < C {
                    var mx = -Float.infinity, idx: Int32 = -1
                    for iy in hlo..<hhi {
                        for ix in wlo..<whi {
                            let v = x[((n * H + iy) * W + ix) * C + c]
                            if v > mx || v.isNaN { mx = v; idx = Int32(iy * W + ix) }
                        }
                    }
                    y[o + c] = mx
                    if let argmax { argmax[o + c] = idx }
                    c += 1
                }
            }
        }
    }
}

/// Naive twin of `maxPool2dForward`: explicit −∞ padding, scalar loops.
// y: [N, Ho, Wo, C], argmax: [N, Ho, Wo, C], x: [N, H, W, C]
public func maxPool2dForwardNaive(_ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?,
                                  _ x: UnsafePointer<Float>, _ g: Pool2DGeometry) {
    let H = g.inHeight, W = g.inWidth, C = g.channels, Ho = g.outHeight, Wo = g.outWidth
    for n in 0..<g.batch { for oy in 0..<Ho { for ox in 0..<Wo { for c in 0..<C {
        var mx = -Float.infinity, idx: Int32 = -1
        for ky in 0..<g.kernel { for kx in 0..<g.kernel {
            let iy = oy * g.stride - g.padding + ky, ix = ox * g.stride - g.padding + kx
            let v = (iy < 0 || iy >= H || ix < 0 || ix >= W) ? -Float.infinity : x[((n * H + iy) * W + ix) * C + c]
            if v > mx || v.isNaN { mx = v; idx = Int32(iy * W + ix) }
        } }
        let o = ((n * Ho + oy) * Wo + ox) * C + c
        y[o] = mx
        argmax?[o] = idx
    } } } }
}

/// Max pooling backward: routes each output gradient to its argmax (overwrites dx).
/// Split over (image, block of 16 channels), so scatters never collide.
// dx: [N, H, W, C], dy: [N, Ho, Wo, C], argmax: [N, Ho, Wo, C]
public func maxPool2dBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
                              argmax: UnsafePointer<Int32>, _ g: Pool2DGeometry) {
    g.validate("maxPool2d")
    let N = g.batch, HW = g.inHeight * g.inWidth, C = g.channels, P = g.outHeight * g.outWidth
    zeroFill(dx, g.inputCount)
    let blocks = channelBlocks(C)
    parallelFor(N * blocks) { r in
        for task in r {
            let n = task / blocks, c0 = (task % blocks) * 16, c1 = Swift.min(C, c0 + 16)
            let dxImage = dx + n * HW * C
            for q in 0..<P {
                let o = (n * P + q) * C
                for c in c0..<c1 {
                    let i = Int(argmax[o + c])
                    if i >= 0 { dxImage[i * C + c] += dy[o + c] }
                }
            }
        }
    }
}

/// Naive twin of `maxPool2dBackward`: recomputes the argmax from x (same tie rule), Double sums.
// dx: [N, H, W, C], dy: [N, Ho, Wo, C], x: [N, H, W, C]
public func maxPool2dBackwardNaive(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
                                   _ x: UnsafePointer<Float>, _ g: Pool2DGeometry) {
    let H = g.inHeight, W = g.inWidth, C = g.channels, Ho = g.outHeight, Wo = g.outWidth
    var acc = [Double](repeating: 0, count: g.inputCount)
    for n in 0..<g.batch { for oy in 0..<Ho { for ox in 0..<Wo { for c in 0..<C {
        var mx = -Float.infinity, best = -1
        for ky in 0..<g.kernel { for kx in 0..<g.kernel {
            let iy = oy * g.stride - g.padding + ky, ix = ox * g.stride - g.padding + kx
            if iy < 0 || iy >= H || ix < 0 || ix >= W { continue }
            let v = x[((n * H + iy) * W + ix) * C + c]
            if v > mx || v.isNaN { mx = v; best = (n * H + iy) * W + ix }
        } }
        if best >= 0 { acc[best * C + c] += Double(dy[((n * Ho + oy) * Wo + ox) * C + c]) }
    } } } }
    for i in 0..<acc.count { dx[i] = Float(acc[i]) }
}

// MARK: - average pooling (count_include_pad = True)

/// PyTorch's average-pool window for output index `o`: clipped [lo, hi) and the divisor
/// (window size clipped to the padded input, padding counted).
@inline(__always)
private func avgWindow(_ o: Int, stride s: Int, padding p: Int, kernel k: Int, size n: Int) -> (lo: Int, hi: Int, span: Int) {
    let start = o * s - p
    let end = Swift.min(start + k, n + p)
    return (Swift.max(start, 0), Swift.min(end, n), end - start)
}

/// Average pooling, padding counted in the divisor (PyTorch `count_include_pad=True`).
// y: [N, Ho, Wo, C], x: [N, H, W, C]
public func avgPool2dForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ g: Pool2DGeometry) {
    g.validate("avgPool2d")
    let N = g.batch, H = g.inHeight, W = g.inWidth, C = g.channels, Ho = g.outHeight, Wo = g.outWidth
    let k = g.kernel, s = g.stride, p = g.padding
    parallelFor(N * Ho, grain: Swift.max(1, 2048 / Swift.max(1, Wo * C * k * k))) { r in
        for row in r {
            let n = row / Ho, oy = row % Ho
            let wy = avgWindow(oy, stride: s, padding: p, kernel: k, size: H)
            for ox in 0..<Wo {
                let wx = avgWindow(ox, stride: s, padding: p, kernel: k, size: W)
                let div = Float(wy.span * wx.span)
                let o = y + (row * Wo + ox) * C
                var c = 0
                while c + 16 <= C {
                    var acc = SIMD16<Float>(repeating: 0)
                    for iy in wy.lo..<wy.hi { for ix in wx.lo..<wx.hi { acc += load16(x + ((n * H + iy) * W + ix) * C + c) } }
                    store16(o + c, acc / SIMD16<Float>(repeating: div))
                    c += 16
                }
                while c < C {
                    var acc: Float = 0
                    for iy in wy.lo..<wy.hi { for ix in wx.lo..<wx.hi { acc += x[((n * H + iy) * W + ix) * C + c] } }
                    o[c] = acc / div
                    c += 1
                }
            }
        }
    }
}

/// Naive twin of `avgPool2dForward`: explicit zero padding, divisor from PyTorch's formula.
// y: [N, Ho, Wo, C], x: [N, H, W, C]
public func avgPool2dForwardNaive(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ g: Pool2DGeometry) {
    let H = g.inHeight, W = g.inWidth, C = g.channels, Ho = g.outHeight, Wo = g.outWidth, k = g.kernel
    for n in 0..<g.batch { for oy in 0..<Ho { for ox in 0..<Wo { for c in 0..<C {
        let hs = oy * g.stride - g.padding, ws = ox * g.stride - g.padding
        let he = Swift.min(hs + k, H + g.padding), we = Swift.min(ws + k, W + g.padding)
        var s = 0.0
        for iy in hs..<he { for ix in ws..<we where iy >= 0 && iy < H && ix >= 0 && ix < W {
            s += Double(x[((n * H + iy) * W + ix) * C + c])
        } }
        y[((n * Ho + oy) * Wo + ox) * C + c] = Float(s / Double((he - hs) * (we - ws)))
    } } } }
}

/// Average pooling backward (overwrites dx). Split over (image, block of 16 channels).
// dx: [N, H, W, C], dy: [N, Ho, Wo, C]
public func avgPool2dBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ g: Pool2DGeometry) {
    g.validate("avgPool2d")
    let N = g.batch, H = g.inHeight, W = g.inWidth, C = g.channels, Ho = g.outHeight, Wo = g.outWidth
    let k = g.kernel, s = g.stride, p = g.padding
    zeroFill(dx, g.inputCount)
    let blocks = channelBlocks(C)
    parallelFor(N * blocks) { r in
        for task in r {
            let n = task / blocks, c0 = (task % blocks) * 16, nc = Swift.min(C, c0 + 16) - c0
            for oy in 0..<Ho {
                let wy = avgWindow(oy, stride: s, padding: p, kernel: k, size: H)
                for ox in 0..<Wo {
                    let wx = avgWindow(ox, stride: s, padding: p, kernel: k, size: W)
                    let inv = 1 / Float(wy.span * wx.span)
                    let src = dy + ((n * Ho + oy) * Wo + ox) * C + c0
                    if nc == 16 {
                        let v = load16(src) * inv
                        for iy in wy.lo..<wy.hi { for ix in wx.lo..<wx.hi {
                            let d = dx + ((n * H + iy) * W + ix) * C + c0
                            store16(d, load16(d) + v)
                        } }
                    } else {
                        for iy in wy.lo..<wy.hi { for ix in wx.lo..<wx.hi {
                            let d = dx + ((n * H + iy) * W + ix) * C + c0
                            for c in 0..<nc { d[c] += src[c] * inv }
                        } }
                    }
                }
            }
        }
    }
}

/// Naive twin of `avgPool2dBackward` (Double accumulation).
// dx: [N, H, W, C], dy: [N, Ho, Wo, C]
public func avgPool2dBackwardNaive(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ g: Pool2DGeometry) {
    let H = g.inHeight, W = g.inWidth, C = g.channels, Ho = g.outHeight, Wo = g.outWidth, k = g.kernel
    var acc = [Double](repeating: 0, count: g.inputCount)
    for n in 0..<g.batch { for oy in 0..<Ho { for ox in 0..<Wo { for c in 0..<C {
        let hs = oy * g.stride - g.padding, ws = ox * g.stride - g.padding
        let he = Swift.min(hs + k, H + g.padding), we = Swift.min(ws + k, W + g.padding)
        let v = Double(dy[((n * Ho + oy) * Wo + ox) * C + c]) / Double((he - hs) * (we - ws))
        for iy in hs..<he { for ix in ws..<we where iy >= 0 && iy < H && ix >= 0 && ix < W {
            acc[((n * H + iy) * W + ix) * C + c] += v
        } }
    } } } }
    for i in 0..<acc.count { dx[i] = Float(acc[i]) }
}

// MARK: - adaptive average pooling

/// PyTorch's adaptive window for output index i: [⌊i·In/Out⌋, ⌈(i+1)·In/Out⌉).
@inline(__always)
public func adaptiveWindow(_ i: Int, input: Int, output: Int) -> Range<Int> {
    (i * input) / output ..< ((i + 1) * input + output - 1) / output
}

/// Adaptive average pooling to `outHeight × outWidth` (PyTorch window rule).
// y: [N, Ho, Wo, C], x: [N, H, W, C]
public func adaptiveAvgPool2dForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                     batch N: Int, inHeight H: Int, inWidth W: Int, channels C: Int,
                                     outHeight Ho: Int, outWidth Wo: Int) {
    precondition(H > 0 && W > 0 && Ho > 0 && Wo > 0 && C > 0, "adaptiveAvgPool2d: bad sizes \(H)×\(W) → \(Ho)×\(Wo), C \(C)")
    parallelFor(N * Ho, grain: Swift.max(1, 2048 / Swift.max(1, W * C))) { r in
        for row in r {
            let n = row / Ho, oy = row % Ho
            let wy = adaptiveWindow(oy, input: H, output: Ho)
            for ox in 0..<Wo {
                let wx = adaptiveWindow(ox, input: W, output: Wo)
                let div = Float(wy.count * wx.count)
                let o = y + (row * Wo + ox) * C
                var c = 0
                while c + 16 <= C {
                    var acc = SIMD16<Float>(repeating: 0)
                    for iy in wy { for ix in wx { acc += load16(x + ((n * H + iy) * W + ix) * C + c) } }
                    store16(o + c, acc / SIMD16<Float>(repeating: div))
                    c += 16
                }
                while c < C {
                    var acc: Float = 0
                    for iy in wy { for ix in wx { acc += x[((n * H + iy) * W + ix) * C + c] } }
                    o[c] = acc / div
                    c += 1
                }
            }
        }
    }
}

/// Naive twin of `adaptiveAvgPool2dForward` (Double accumulation; windows from floor/ceil in Double).
// y: [N, Ho, Wo, C], x: [N, H, W, C]
public func adaptiveAvgPool2dForwardNaive(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                          batch N: Int, inHeight H: Int, inWidth W: Int, channels C: Int,
                                          outHeight Ho: Int, outWidth Wo: Int) {
    for n in 0..<N { for oy in 0..<Ho { for ox in 0..<Wo { for c in 0..<C {
        let hs = Int((Double(oy * H) / Double(Ho)).rounded(.down)), he = Int((Double((oy + 1) * H) / Double(Ho)).rounded(.up))
        let ws = Int((Double(ox * W) / Double(Wo)).rounded(.down)), we = Int((Double((ox + 1) * W) / Double(Wo)).rounded(.up))
        var s = 0.0
        for iy in hs..<he { for ix in ws..<we { s += Double(x[((n * H + iy) * W + ix) * C + c]) } }
        y[((n * Ho + oy) * Wo + ox) * C + c] = Float(s / Double((he - hs) * (we - ws)))
    } } } }
}

/// Adaptive average pooling backward (overwrites dx). Split over (image, block of 16 channels).
// dx: [N, H, W, C], dy: [N, Ho, Wo, C]
public func adaptiveAvgPool2dBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
                                      batch N: Int, inHeight H: Int, inWidth W: Int, channels C: Int,
                                      outHeight Ho: Int, outWidth Wo: Int) {
    zeroFill(dx, N * H * W * C)
    let blocks = channelBlocks(C)
    parallelFor(N * blocks) { r in
        for task in r {
            let n = task / blocks, c0 = (task % blocks) * 16, nc = Swift.min(C, c0 + 16) - c0
            for oy in 0..<Ho {
                let wy = adaptiveWindow(oy, input: H, output: Ho)
                for ox in 0..<Wo {
                    let wx = adaptiveWindow(ox, input: W, output: Wo)
                    let inv = 1 / Float(wy.count * wx.count)
                    let src = dy + ((n * Ho + oy) * Wo + ox) * C + c0
                    if nc == 16 {
                        let v = load16(src) * inv
                        for iy in wy { for ix in wx {
                            let d = dx + ((n * H + iy) * W + ix) * C + c0
                            store16(d, load16(d) + v)
                        } }
                    } else {
                        for iy in wy { for ix in wx {
                            let d = dx + ((n * H + iy) * W + ix) * C + c0
                            for c in 0..<nc { d[c] += src[c] * inv }
                        } }
                    }
                }
            }
        }
    }
}

/// Naive twin of `adaptiveAvgPool2dBackward` (Double accumulation).
// dx: [N, H, W, C], dy: [N, Ho, Wo, C]
public func adaptiveAvgPool2dBackwardNaive(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
                                           batch N: Int, inHeight H: Int, inWidth W: Int, channels C: Int,
                                           outHeight Ho: Int, outWidth Wo: Int) {
    var acc = [Double](repeating: 0, count: N * H * W * C)
    for n in 0..<N { for oy in 0..<Ho { for ox in 0..<Wo { for c in 0..<C {
        let hs = Int((Double(oy * H) / Double(Ho)).rounded(.down)), he = Int((Double((oy + 1) * H) / Double(Ho)).rounded(.up))
        let ws = Int((Double(ox * W) / Double(Wo)).rounded(.down)), we = Int((Double((ox + 1) * W) / Double(Wo)).rounded(.up))
        let v = Double(dy[((n * Ho + oy) * Wo + ox) * C + c]) / Double((he - hs) * (we - ws))
        for iy in hs..<he { for ix in ws..<we { acc[((n * H + iy) * W + ix) * C + c] += v } }
    } } } }
    for i in 0..<acc.count { dx[i] = Float(acc[i]) }
}

// MARK: - global average pooling

/// Mean over the spatial positions: y[n, c] = Σ_p x[n, p, c] / P. Split over (image, 64 channels).
// y: [N, C], x: [N, P, C] with P = H·W
public func globalAvgPoolForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                 batch N: Int, spatial P: Int, channels C: Int) {
    precondition(P > 0, "globalAvgPool: empty spatial extent")
    let chunk = 64, blocks = (C + chunk - 1) / chunk
    let inv = 1 / Float(P)
    parallelFor(N * blocks, grain: Swift.max(1, 16384 / Swift.max(1, P * chunk))) { r in
        for task in r {
            let n = task / blocks, c0 = (task % blocks) * chunk, nc = Swift.min(C, c0 + chunk) - c0
            let dst = y + n * C + c0
            dst.update(repeating: 0, count: nc)
            for p in 0..<P { addRow(dst, x + (n * P + p) * C + c0, nc) }
            for c in 0..<nc { dst[c] *= inv }
        }
    }
}

/// Naive twin of `globalAvgPoolForward` (Double accumulation).
// y: [N, C], x: [N, P, C]
public func globalAvgPoolForwardNaive(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                      batch N: Int, spatial P: Int, channels C: Int) {
    for n in 0..<N { for c in 0..<C {
        var s = 0.0
        for p in 0..<P { s += Double(x[(n * P + p) * C + c]) }
        y[n * C + c] = Float(s / Double(P))
    } }
}

/// Global average pooling backward: dx[n, p, c] = dy[n, c] / P (overwrites dx).
// dx: [N, P, C], dy: [N, C]
public func globalAvgPoolBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
                                  batch N: Int, spatial P: Int, channels C: Int) {
    let inv = 1 / Float(P)
    parallelFor(N * P, grain: Swift.max(1, 16384 / Swift.max(1, C))) { r in
        for row in r {
            let n = row / P, src = dy + n * C, dst = dx + row * C
            var c = 0
            while c + 16 <= C { store16(dst + c, load16(src + c) * inv); c += 16 }
            while c < C { dst[c] = src[c] * inv; c += 1 }
        }
    }
}

/// Naive twin of `globalAvgPoolBackward`.
// dx: [N, P, C], dy: [N, C]
public func globalAvgPoolBackwardNaive(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
                                       batch N: Int, spatial P: Int, channels C: Int) {
    for n in 0..<N { for p in 0..<P { for c in 0..<C { dx[(n * P + p) * C + c] = Float(Double(dy[n * C + c]) / Double(P)) } } }
}

// MARK: - constant padding

/// Constant padding of the spatial dimensions: y = pad(x, top, bottom, left, right) with `value`.
// y: [N, H + top + bottom, W + left + right, C], x: [N, H, W, C]
public func pad2dForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                         batch N: Int, height H: Int, width W: Int, channels C: Int,
                         top: Int, bottom: Int, left: Int, right: Int, value: Float) {
    precondition(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "pad2d: negative padding")
    let Ho = H + top + bottom, Wo = W + left + right
    parallelFor(N * Ho, grain: Swift.max(1, 16384 / Swift.max(1, Wo * C))) { r in
        for row in r {
            let n = row / Ho, oy = row % Ho, iy = oy - top
            let dst = y + row * Wo * C
            if iy < 0 || iy >= H { dst.update(repeating: value, count: Wo * C); continue }
            dst.update(repeating: value, count: left * C)
            (dst + left * C).update(from: x + (n * H + iy) * W * C, count: W * C)
            (dst + (left + W) * C).update(repeating: value, count: right * C)
        }
    }
}

/// Naive twin of `pad2dForward`.
// y: [N, H + top + bottom, W + left + right, C], x: [N, H, W, C]
public func pad2dForwardNaive(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                              batch N: Int, height H: Int, width W: Int, channels C: Int,
                              top: Int, bottom: Int, left: Int, right: Int, value: Float) {
    let Ho = H + top + bottom, Wo = W + left + right
    for n in 0..<N { for oy in 0..<Ho { for ox in 0..<Wo { for c in 0..<C {
        let iy = oy - top, ix = ox - left
        y[((n * Ho + oy) * Wo + ox) * C + c] = (iy < 0 || iy >= H || ix < 0 || ix >= W) ? value : x[((n * H + iy) * W + ix) * C + c]
    } } } }
}

/// Padding backward: crops the padded gradient back to the input (overwrites dx).
// dx: [N, H, W, C], dy: [N, H + top + bottom, W + left + right, C]
public func pad2dBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
                          batch N: Int, height H: Int, width W: Int, channels C: Int,
                          top: Int, bottom: Int, left: Int, right: Int) {
    let Ho = H + top + bottom, Wo = W + left + right
    parallelFor(N * H, grain: Swift.max(1, 16384 / Swift.max(1, W * C))) { r in
        for row in r {
            let n = row / H, iy = row % H
            (dx + row * W * C).update(from: dy + ((n * Ho + iy + top) * Wo + left) * C, count: W * C)
        }
    }
}

/// Naive twin of `pad2dBackward`.
// dx: [N, H, W, C], dy: [N, H + top + bottom, W + left + right, C]
public func pad2dBackwardNaive(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
                               batch N: Int, height H: Int, width W: Int, channels C: Int,
                               top: Int, bottom: Int, left: Int, right: Int) {
    let Ho = H + top + bottom, Wo = W + left + right
    for n in 0..<N { for iy in 0..<H { for ix in 0..<W { for c in 0..<C {
        dx[((n * H + iy) * W + ix) * C + c] = dy[((n * Ho + iy + top) * Wo + ix + left) * C + c]
    } } } }
}
