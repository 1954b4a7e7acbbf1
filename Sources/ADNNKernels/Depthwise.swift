// Depthwise 2-D convolution (groups == C == O): direct loops vectorised over channels.
//
// Layouts: x [N, H, W, C], weights [C, kh, kw, 1] (OHWI with one input channel per group),
// bias [C], y [N, Ho, Wo, C]. The weights are transposed once per call to [kh, kw, C] so the
// innermost loads of x, y and w are all contiguous SIMD16 vectors over channels.

// Small helpers, private to this file so that they inline in debug (non-WMO) builds too.
/// ⌊a / b⌋ for b > 0 and any sign of a.
@inline(__always) private func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
/// ⌈a / b⌉ for b > 0 and any sign of a.
@inline(__always) private func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }
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

/// Depthwise weights w [C, kh·kw] → wt [kh·kw, C], the layout the forward kernel reads (done once per
/// call unless the caller passes it in, as inference with frozen weights does).
// wt: [taps, C], w: [C, taps]
@inline(__always)
public func depthwiseTransposeTaps(_ wt: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>, channels C: Int, taps T: Int) {
    for c in 0..<C { for t in 0..<T { wt[t * C + c] = w[c * T + t] } }
}

/// Depthwise convolution forward, split over (n, output row).
// y: [N, Ho, Wo, C], x: [N, H, W, C], w: [C, kh, kw, 1], bias: [C]
public func depthwiseConv2dForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                   _ bias: UnsafePointer<Float>?, _ g: Conv2DGeometry) {
    if depthwiseDirectApplies(g) {
        // Same rounding as the rows below (the MPI equivalence checks were measured with it), faster.
        withDepthwiseTaps(w, g) { depthwiseConv2dDirect(y, x, taps: $0, scale: nil, shift: bias, activation: nil, g, bitExact: true) }
        return
    }
    depthwiseConv2dForwardRows(y, x, w, bias, g) { _, _ in }
}

/// Depthwise forward that hands every finished output row (`Wo` pixels × C, still in cache) to
/// `epilogue(rowPointer, Wo)` on the thread that computed it. `taps`, when given, is `w` already in the
/// [kh·kw, C] layout of `depthwiseTransposeTaps` (then `w` is not read).
// y: [N, Ho, Wo, C], x: [N, H, W, C], w: [C, kh, kw, 1], bias: [C], taps: [kh·kw, C]
@inline(__always)
func depthwiseConv2dForwardRows(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                _ bias: UnsafePointer<Float>?, _ g: Conv2DGeometry, taps: UnsafePointer<Float>? = nil,
                                _ epilogue: (UnsafeMutablePointer<Float>, Int) -> Void) {
    g.validate()
    precondition(g.groups == g.inChannels && g.outChannels == g.inChannels,
                 "depthwiseConv2d: needs groups == C == O, got \(g.groups), \(g.inChannels), \(g.outChannels)")
    let N = g.batch, H = g.inHeight, W = g.inWidth, C = g.inChannels, Ho = g.outHeight, Wo = g.outWidth
    let kh = g.kernelHeight, kw = g.kernelWidth, s = g.stride, d = g.dilation, pt = g.padTop, pl = g.padLeft
    if N * Ho * Wo == 0 { return }
    let wt: UnsafeMutablePointer<Float>? = taps == nil ? .allocate(capacity: kh * kw * C) : nil
    defer { wt?.deallocate() }
    if let wt { depthwiseTransposeTaps(wt, w, channels: C, taps: kh * kw) }
    let zeros: UnsafeMutablePointer<Float>? = bias == nil ? .allocate(capacity: C) : nil
    defer { zeros?.deallocate() }
    zeros?.update(repeating: 0, count: C)
    let b = bias ?? UnsafePointer(zeros!)
    let wtc = taps ?? UnsafePointer(wt!)
    parallelFor(N * Ho, grain: Swift.max(1, 4096 / Swift.max(1, Wo * C * kh * kw))) { r in
        for row in r {
            let n = row / Ho, oy = row % Ho
            let iy0 = oy * s - pt
            let kyLo = Swift.max(0, ceilDiv(-iy0, d)), kyHi = Swift.min(kh - 1, floorDiv(H - 1 - iy0, d))
            var ox = 0
            while ox < Wo {
                // Four interior pixels at once (all taps inside the row): four independent accumulators
                // share each weight load, so the FMA latency chain no longer sets the pace.
                if ox + 3 < Wo && ox * s - pl >= 0 && (ox + 3) * s - pl + (kw - 1) * d <= W - 1 {
                    let out = y + ((n * Ho + oy) * Wo + ox) * C
                    let xBase = x + ((n * H + iy0) * W + ox * s - pl) * C
                    let step = s * C
                    var c = 0
                    while c + 16 <= C {
                        let bv = load16(b + c)
                        var a0 = bv, a1 = bv, a2 = bv, a3 = bv
                        var ky = kyLo
                        while ky <= kyHi {
                            let xr = xBase + (ky * d * W) * C + c, wr = wtc + ky * kw * C + c
                            for kx in 0..<kw {
                                let wv = load16(wr + kx * C), xp = xr + kx * d * C
                                a0 += load16(xp) * wv
                                a1 += load16(xp + step) * wv
                                a2 += load16(xp + 2 * step) * wv
                                a3 += load16(xp + 3 * step) * wv
                            }
                            ky += 1
                        }
                        store16(out + c, a0); store16(out + C + c, a1); store16(out + 2 * C + c, a2); store16(out + 3 * C + c, a3)
                        c += 16
                    }
                    while c < C {
                        for q in 0..<4 {
                            var acc = b[c]
                            var ky = kyLo
                            while ky <= kyHi {
                                for kx in 0..<kw { acc += xBase[q * step + (ky * d * W + kx * d) * C + c] * wtc[(ky * kw + kx) * C + c] }
                                ky += 1
                            }
                            out[q * C + c] = acc
                        }
                        c += 1
                    }
                    ox += 4
                    continue
                }
                let ix0 = ox * s - pl
                let kxLo = Swift.max(0, ceilDiv(-ix0, d)), kxHi = Swift.min(kw - 1, floorDiv(W - 1 - ix0, d))
                let out = y + ((n * Ho + oy) * Wo + ox) * C
                let xBase = x + ((n * H + iy0) * W + ix0) * C
                var c = 0
                while c + 16 <= C {
                    var acc = load16(b + c)
                    var ky = kyLo
                    while ky <= kyHi {
                        let xr = xBase + (ky * d * W) * C + c, wr = wtc + ky * kw * C + c
                        var kx = kxLo
                        while kx <= kxHi { acc += load16(xr + kx * d * C) * load16(wr + kx * C); kx += 1 }
                        ky += 1
                    }
                    store16(out + c, acc)
                    c += 16
                }
                while c < C {
                    var acc = b[c]
                    var ky = kyLo
                    while ky <= kyHi {
                        var kx = kxLo
                        while kx <= kxHi { acc += xBase[(ky * d * W + kx * d) * C + c] * wtc[(ky * kw + kx) * C + c]; kx += 1 }
                        ky += 1
                    }
                    out[c] = acc
                    c += 1
                }
                ox += 1
            }
            epilogue(y + (n * Ho + oy) * Wo * C, Wo)
        }
    }
}

/// Naive twin of `depthwiseConv2dForward` (Double accumulation).
// y: [N, Ho, Wo, C], x: [N, H, W, C], w: [C, kh, kw, 1], bias: [C]
public func depthwiseConv2dForwardNaive(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                        _ bias: UnsafePointer<Float>?, _ g: Conv2DGeometry) {
    let H = g.inHeight, W = g.inWidth, C = g.inChannels, Ho = g.outHeight, Wo = g.outWidth
    let kh = g.kernelHeight, kw = g.kernelWidth
    for n in 0..<g.batch { for oy in 0..<Ho { for ox in 0..<Wo { for c in 0..<C {
        var acc = bias.map { Double($0[c]) } ?? 0
        for ky in 0..<kh { for kx in 0..<kw {
            let iy = oy * g.stride - g.padTop + ky * g.dilation, ix = ox * g.stride - g.padLeft + kx * g.dilation
            if iy < 0 || iy >= H || ix < 0 || ix >= W { continue }
            acc += Double(x[((n * H + iy) * W + ix) * C + c]) * Double(w[(c * kh + ky) * kw + kx])
        } }
        y[((n * Ho + oy) * Wo + ox) * C + c] = Float(acc)
    } } } }
}

/// Depthwise convolution, gradient w.r.t. the input (overwrites dx). A gather over input
/// pixels, split over (n, input row): no races, no zero-fill pass.
// dx: [N, H, W, C], dy: [N, Ho, Wo, C], w: [C, kh, kw, 1]
public func depthwiseConv2dBackwardInput(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                         _ g: Conv2DGeometry) {
    g.validate()
    precondition(g.groups == g.inChannels && g.outChannels == g.inChannels,
                 "depthwiseConv2d: needs groups == C == O, got \(g.groups), \(g.inChannels), \(g.outChannels)")
    let N = g.batch, H = g.inHeight, W = g.inWidth, C = g.inChannels, Ho = g.outHeight, Wo = g.outWidth
    let kh = g.kernelHeight, kw = g.kernelWidth, s = g.stride, d = g.dilation, pt = g.padTop, pl = g.padLeft
    if N * H * W == 0 { return }
    // Stride 1: the input gradient is the forward convolution of dy with the kernel turned 180° and the
    // padding mirrored (k − 1 − p on each side), so it runs the register-blocked forward kernel.
    if let flipped = depthwiseBackwardInputAsForward(g) {
        let rotated = UnsafeMutablePointer<Float>.allocate(capacity: kh * kw * C)
        defer { rotated.deallocate() }
        for c in 0..<C {
            for t in 0..<(kh * kw) { rotated[c * kh * kw + t] = w[c * kh * kw + kh * kw - 1 - t] }
        }
        depthwiseConv2dForward(dx, dy, rotated, nil, flipped)
        return
    }
    let wt = UnsafeMutablePointer<Float>.allocate(capacity: kh * kw * C)
    defer { wt.deallocate() }
    depthwiseTransposeTaps(wt, w, channels: C, taps: kh * kw)
    let wtc = UnsafePointer(wt)
    let rows = TapTable(inputSize: H, outputSize: Ho, kernel: kh, stride: s, dilation: d, padding: pt)
    let cols = TapTable(inputSize: W, outputSize: Wo, kernel: kw, stride: s, dilation: d, padding: pl)
    defer { rows.deallocate(); cols.deallocate() }
    parallelFor(N * H, grain: Swift.max(1, 4096 / Swift.max(1, W * C * kh * kw))) { r in
        for row in r {
            let n = row / H, iy = row % H
            depthwiseGatherInputRow(dx + (n * H + iy) * W * C, dy + n * Ho * Wo * C, firstRow: 0, wtc, rows, cols, g, iy: iy)
        }
    }
}

/// dx of input row `iy` of one image: every input pixel gathers the dy pixels that read it, through the tap tables
/// `rows`/`cols` of `g`. `dy` holds the image's output rows from `firstRow` on (row oy at dy + (oy − firstRow)·Wo·C).
// dxRow: [W, C], dy: [rows ≥ firstRow, Wo, C], wt: [kh·kw, C]
@inline(__always)
func depthwiseGatherInputRow(_ dxRow: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, firstRow: Int,
                             _ wt: UnsafePointer<Float>, _ rows: TapTable, _ cols: TapTable, _ g: Conv2DGeometry, iy: Int) {
    let W = g.inWidth, C = g.inChannels, Wo = g.outWidth, kh = g.kernelHeight, kw = g.kernelWidth
    let rTap = rows.tap, rOut = rows.out, cCount = cols.count, cTap = cols.tap, cOut = cols.out
    let ny = rows.count[iy]
    for ix in 0..<W {
        let dst = dxRow + ix * C
        let nx = cCount[ix]
        var c = 0
        while c + 16 <= C {
            var acc = SIMD16<Float>(repeating: 0)
            for jy in 0..<ny {
                let dyRow = dy + (rOut[iy * kh + jy] - firstRow) * Wo * C + c
                let wRow = wt + rTap[iy * kh + jy] * kw * C + c
                for jx in 0..<nx {
                    acc += load16(dyRow + cOut[ix * kw + jx] * C) * load16(wRow + cTap[ix * kw + jx] * C)
                }
            }
            store16(dst + c, acc)
            c += 16
        }
        while c < C {
            var acc: Float = 0
            for jy in 0..<ny {
                let dyRow = dy + (rOut[iy * kh + jy] - firstRow) * Wo * C + c
                let wRow = wt + rTap[iy * kh + jy] * kw * C + c
                for jx in 0..<nx { acc += dyRow[cOut[ix * kw + jx] * C] * wRow[cTap[ix * kw + jx] * C] }
            }
            dst[c] = acc
            c += 1
        }
    }
}

/// The forward geometry whose output is the input gradient of the stride-1 depthwise convolution `g`
/// (input dy [N, Ho, Wo, C], kernel turned 180°, padding k − 1 − p per side), when the direct forward
/// kernel runs it; nil otherwise.
func depthwiseBackwardInputAsForward(_ g: Conv2DGeometry) -> Conv2DGeometry? {
    guard DepthwiseTuning.backwardInputDirect, g.stride == 1, g.dilation == 1, depthwiseDirectApplies(g) else { return nil }
    let kh = g.kernelHeight, kw = g.kernelWidth
    let pads = (kh - 1 - g.padTop, kh - 1 - g.padBottom, kw - 1 - g.padLeft, kw - 1 - g.padRight)
    guard pads.0 >= 0, pads.1 >= 0, pads.2 >= 0, pads.3 >= 0 else { return nil }
    let f = Conv2DGeometry(batch: g.batch, inHeight: g.outHeight, inWidth: g.outWidth, inChannels: g.inChannels,
                           outChannels: g.inChannels, kernelHeight: kh, kernelWidth: kw, stride: 1, dilation: 1,
                           padTop: pads.0, padBottom: pads.1, padLeft: pads.2, padRight: pads.3, groups: g.inChannels)
    guard f.outHeight == g.inHeight, f.outWidth == g.inWidth, depthwiseDirectApplies(f) else { return nil }
    return f
}

/// Naive twin of `depthwiseConv2dBackwardInput` (Double accumulation).
// dx: [N, H, W, C], dy: [N, Ho, Wo, C], w: [C, kh, kw, 1]
public func depthwiseConv2dBackwardInputNaive(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                              _ g: Conv2DGeometry) {
    let H = g.inHeight, W = g.inWidth, C = g.inChannels, Ho = g.outHeight, Wo = g.outWidth
    let kh = g.kernelHeight, kw = g.kernelWidth
    var acc = [Double](repeating: 0, count: g.inputCount)
    for n in 0..<g.batch { for oy in 0..<Ho { for ox in 0..<Wo { for c in 0..<C {
        let gv = Double(dy[((n * Ho + oy) * Wo + ox) * C + c])
        for ky in 0..<kh { for kx in 0..<kw {
            let iy = oy * g.stride - g.padTop + ky * g.dilation, ix = ox * g.stride - g.padLeft + kx * g.dilation
            if iy < 0 || iy >= H || ix < 0 || ix >= W { continue }
            acc[((n * H + iy) * W + ix) * C + c] += gv * Double(w[(c * kh + ky) * kw + kx])
        } }
    } } } }
    for i in 0..<acc.count { dx[i] = Float(acc[i]) }
}

/// Depthwise convolution, gradient w.r.t. the weights (overwrites dw). Output rows are split
/// into one contiguous range per worker; each worker sums into its own [kh·kw, C] buffer and the
/// buffers are reduced in worker order at the end (deterministic for a given thread count).
// dw: [C, kh, kw, 1], dy: [N, Ho, Wo, C], x: [N, H, W, C]
public func depthwiseConv2dBackwardWeight(_ dw: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                          _ g: Conv2DGeometry) {
    g.validate()
    precondition(g.groups == g.inChannels && g.outChannels == g.inChannels,
                 "depthwiseConv2d: needs groups == C == O, got \(g.groups), \(g.inChannels), \(g.outChannels)")
    let N = g.batch, H = g.inHeight, W = g.inWidth, C = g.inChannels, Ho = g.outHeight, Wo = g.outWidth
    let T = g.kernelHeight * g.kernelWidth, rows = N * Ho
    let workers = Swift.max(1, Swift.min(Threading.threads, rows, (rows * Wo * C * T) / 32768))
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: workers * T * C)
    defer { partial.deallocate() }
    partial.update(repeating: 0, count: workers * T * C)
    let per = (rows + workers - 1) / workers
    parallelFor(workers) { r in
        for wk in r {
            let acc0 = partial + wk * T * C
            var row = wk * per
            let end = Swift.min(rows, row + per)
            while row < end {
                let n = row / Ho
                depthwiseWeightGradientRow(acc0, dy + row * Wo * C, x + n * H * W * C, g, oy: row % Ho)
                row += 1
            }
        }
    }
    depthwiseReducePartials(dw, partial, workers: workers, taps: T, channels: C)
}

/// dw = Σ over the workers' partial sums (in worker order), transposed from the [kh·kw, C] accumulation layout.
// dw: [C, kh·kw]; partial: [workers, kh·kw, C] (the first worker's sums are overwritten)
func depthwiseReducePartials(_ dw: UnsafeMutablePointer<Float>, _ partial: UnsafeMutablePointer<Float>, workers: Int, taps T: Int,
                             channels C: Int) {
    for wk in 1..<Swift.max(1, workers) { addRow(partial, partial + wk * T * C, T * C) }
    for c in 0..<C { for t in 0..<T { dw[c * T + t] = partial[t * C + c] } }
}

/// Naive twin of `depthwiseConv2dBackwardWeight` (Double accumulation).
// dw: [C, kh, kw, 1], dy: [N, Ho, Wo, C], x: [N, H, W, C]
public func depthwiseConv2dBackwardWeightNaive(_ dw: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                               _ g: Conv2DGeometry) {
    let H = g.inHeight, W = g.inWidth, C = g.inChannels, Ho = g.outHeight, Wo = g.outWidth
    let kh = g.kernelHeight, kw = g.kernelWidth
    for c in 0..<C { for ky in 0..<kh { for kx in 0..<kw {
        var acc = 0.0
        for n in 0..<g.batch { for oy in 0..<Ho { for ox in 0..<Wo {
            let iy = oy * g.stride - g.padTop + ky * g.dilation, ix = ox * g.stride - g.padLeft + kx * g.dilation
            if iy < 0 || iy >= H || ix < 0 || ix >= W { continue }
            acc += Double(dy[((n * Ho + oy) * Wo + ox) * C + c]) * Double(x[((n * H + iy) * W + ix) * C + c])
        } } }
        dw[(c * kh + ky) * kw + kx] = Float(acc)
    } } }
}

/// Adds one output row's share of the depthwise weight gradient to `acc` ([kh·kw, C]): for every tap,
/// Σ over the row's pixels of dy · x at the pixel the tap reads. On the direct kernel's geometries
/// (`depthwiseDirectApplies`) a register-blocked loop per 16-channel chunk and kernel row: all kernel columns
/// accumulate in registers over the row's interior pixels (two sets, even and odd pixels), each dy vector loaded
/// once for k FMAs — the pixel-at-a-time loop below loads two vectors per FMA. Other geometries, and rows with
/// few interior pixels (whose border pixels would each update the taps in memory), take that loop.
// acc: [kh·kw, C] (accumulated), dyRow: [Wo, C] (output row oy), xImage: [H, W, C] (the row's image)
@inline(__always)
func depthwiseWeightGradientRow(_ acc: UnsafeMutablePointer<Float>, _ dyRow: UnsafePointer<Float>, _ xImage: UnsafePointer<Float>,
                                _ g: Conv2DGeometry, oy: Int) {
    if depthwiseDirectApplies(g) && depthwiseInteriorColumns(g) >= Swift.max(4, (3 * g.outWidth) / 4) {
        switch (g.kernelWidth, g.stride) {
        case (3, 1): depthwiseWeightRow3s1(acc, dyRow, xImage, g, oy)
        case (3, 2): depthwiseWeightRow3s2(acc, dyRow, xImage, g, oy)
        case (5, 1): depthwiseWeightRow5s1(acc, dyRow, xImage, g, oy)
        default: depthwiseWeightRow5s2(acc, dyRow, xImage, g, oy)
        }
        return
    }
    let H = g.inHeight, W = g.inWidth, C = g.inChannels, Wo = g.outWidth
    let kh = g.kernelHeight, kw = g.kernelWidth, s = g.stride, d = g.dilation, pl = g.padLeft
    let iy0 = oy * s - g.padTop
    let kyLo = Swift.max(0, ceilDiv(-iy0, d)), kyHi = Swift.min(kh - 1, floorDiv(H - 1 - iy0, d))
    var ky = kyLo
    while ky <= kyHi {
        let xRow = xImage + ((iy0 + ky * d) * W) * C
        for kx in 0..<kw {
            // output columns whose input column ox·s − pl + kx·d lies inside [0, W)
            let oxLo = Swift.max(0, ceilDiv(pl - kx * d, s))
            let oxHi = Swift.min(Wo - 1, floorDiv(W - 1 + pl - kx * d, s))
            if oxLo > oxHi { continue }
            let dst = acc + (ky * kw + kx) * C
            let xCol = xRow + (kx * d - pl) * C        // + ox·s·C
            var c = 0
            while c + 16 <= C {
                var a = SIMD16<Float>(repeating: 0)
                var ox = oxLo
                while ox <= oxHi { a += load16(dyRow + ox * C + c) * load16(xCol + ox * s * C + c); ox += 1 }
                store16(dst + c, load16(dst + c) + a)
                c += 16
            }
            while c < C {
                var a: Float = 0
                var ox = oxLo
                while ox <= oxHi { a += dyRow[ox * C + c] * xCol[ox * s * C + c]; ox += 1 }
                dst[c] += a
                c += 1
            }
        }
        ky += 1
    }
}

@inline(never) private func depthwiseWeightRow3s1(_ acc: UnsafeMutablePointer<Float>, _ dyRow: UnsafePointer<Float>, _ xImage: UnsafePointer<Float>, _ g: Conv2DGeometry, _ oy: Int) {
    depthwiseWeightRow(acc, dyRow, xImage, g, oy: oy, k: 3, s: 1)
}
@inline(never) private func depthwiseWeightRow3s2(_ acc: UnsafeMutablePointer<Float>, _ dyRow: UnsafePointer<Float>, _ xImage: UnsafePointer<Float>, _ g: Conv2DGeometry, _ oy: Int) {
    depthwiseWeightRow(acc, dyRow, xImage, g, oy: oy, k: 3, s: 2)
}
@inline(never) private func depthwiseWeightRow5s1(_ acc: UnsafeMutablePointer<Float>, _ dyRow: UnsafePointer<Float>, _ xImage: UnsafePointer<Float>, _ g: Conv2DGeometry, _ oy: Int) {
    depthwiseWeightRow(acc, dyRow, xImage, g, oy: oy, k: 5, s: 1)
}
@inline(never) private func depthwiseWeightRow5s2(_ acc: UnsafeMutablePointer<Float>, _ dyRow: UnsafePointer<Float>, _ xImage: UnsafePointer<Float>, _ g: Conv2DGeometry, _ oy: Int) {
    depthwiseWeightRow(acc, dyRow, xImage, g, oy: oy, k: 5, s: 2)
}

/// Output columns of `g` whose kernel window lies inside the input row (square kernel, no dilation).
@inline(__always)
func depthwiseInteriorColumns(_ g: Conv2DGeometry) -> Int {
    let k = g.kernelWidth, s = g.stride, pl = g.padLeft, W = g.inWidth, Wo = g.outWidth
    let oxA = Swift.min(Wo, (pl + s - 1) / s)
    let oxB = W - k + pl >= 0 ? Swift.max(oxA, Swift.min(Wo, (W - k + pl) / s + 1)) : oxA
    return oxB - oxA
}

/// The register-blocked body of `depthwiseWeightGradientRow`; `k` and `s` are literals at each call site so the
/// kernel-column loops unroll into registers.
@_transparent
func depthwiseWeightRow(_ acc: UnsafeMutablePointer<Float>, _ dyRow: UnsafePointer<Float>, _ xImage: UnsafePointer<Float>,
                        _ g: Conv2DGeometry, oy: Int, k: Int, s: Int) {
    let H = g.inHeight, W = g.inWidth, C = g.inChannels, Wo = g.outWidth, pl = g.padLeft
    let iy0 = oy * s - g.padTop
    let kyLo = Swift.max(0, -iy0), kyHi = Swift.min(k - 1, H - 1 - iy0)
    // Interior pixels: every kernel column inside the row (ox·s − pl ≥ 0 and ox·s − pl + k − 1 ≤ W − 1).
    let oxA = Swift.min(Wo, (pl + s - 1) / s)
    let oxB = W - k + pl >= 0 ? Swift.max(oxA, Swift.min(Wo, (W - k + pl) / s + 1)) : oxA
    let sc = s * C
    var ky = kyLo
    while ky <= kyHi {
        let xRow = xImage + (iy0 + ky) * W * C, dst = acc + ky * k * C
        var c = 0
        while c < C {
            let z = SIMD16<Float>()
            var a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, b0 = z, b1 = z, b2 = z, b3 = z, b4 = z
            var ox = oxA
            while ox + 1 < oxB {
                let d0 = load16(dyRow + ox * C + c), d1 = load16(dyRow + (ox + 1) * C + c)
                let x0 = xRow + (ox * s - pl) * C + c, x1 = x0 + sc
                a0.addProduct(d0, load16(x0)); b0.addProduct(d1, load16(x1))
                a1.addProduct(d0, load16(x0 + C)); b1.addProduct(d1, load16(x1 + C))
                a2.addProduct(d0, load16(x0 + 2 * C)); b2.addProduct(d1, load16(x1 + 2 * C))
                if k == 5 {
                    a3.addProduct(d0, load16(x0 + 3 * C)); b3.addProduct(d1, load16(x1 + 3 * C))
                    a4.addProduct(d0, load16(x0 + 4 * C)); b4.addProduct(d1, load16(x1 + 4 * C))
                }
                ox += 2
            }
            if ox < oxB {
                let d0 = load16(dyRow + ox * C + c), x0 = xRow + (ox * s - pl) * C + c
                a0.addProduct(d0, load16(x0)); a1.addProduct(d0, load16(x0 + C)); a2.addProduct(d0, load16(x0 + 2 * C))
                if k == 5 { a3.addProduct(d0, load16(x0 + 3 * C)); a4.addProduct(d0, load16(x0 + 4 * C)) }
            }
            store16(dst + c, load16(dst + c) + (a0 + b0))
            store16(dst + C + c, load16(dst + C + c) + (a1 + b1))
            store16(dst + 2 * C + c, load16(dst + 2 * C + c) + (a2 + b2))
            if k == 5 {
                store16(dst + 3 * C + c, load16(dst + 3 * C + c) + (a3 + b3))
                store16(dst + 4 * C + c, load16(dst + 4 * C + c) + (a4 + b4))
            }
            // Border pixels: the kernel columns inside the row only.
            for bx in 0..<Wo where bx < oxA || bx >= oxB {
                let d0 = load16(dyRow + bx * C + c), ix0 = bx * s - pl
                let kxLo = Swift.max(0, -ix0), kxHi = Swift.min(k - 1, W - 1 - ix0)
                var kx = kxLo
                while kx <= kxHi {
                    let p = dst + kx * C + c
                    store16(p, load16(p) + d0 * load16(xRow + (ix0 + kx) * C + c))
                    kx += 1
                }
            }
            c += 16
        }
        ky += 1
    }
}
