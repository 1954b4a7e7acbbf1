// Register-blocked depthwise forward for the shapes every EfficientNet/MobileNet block has: square 3×3 or
// 5×5 kernels, stride 1 or 2, no dilation, channels a multiple of 16 — with the per-channel epilogue
// y = act(acc·scale + shift) applied in registers before the one store.
//
// Per output row and 16-channel chunk, interior pixels go in runs of 8 (stride 1) or 4 (stride 2): for
// every kernel row the run's input vectors are loaded once and shared by all the taps that read them
// (a 3×3 run of 8 loads 10 input vectors for 24 FMAs, where pixel-at-a-time code loads 24), the weights
// once per tap; a tail of interior pixels shorter than a run takes a run overlapping the previous one.
// Border pixels take the taps that fall inside the image, with two accumulators. Images at most 16 wide
// go to the padded-tile kernel of DepthwiseSmall.swift instead, 3×3 images to its unrolled tiny kernel.
// `depthwiseConv2dForwardNaive` / `conv2dForwardScaleShiftActivationNaive` are the twins in the tests.

@inline(__always) private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) private func store16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Whether `depthwiseConv2dDirect` takes geometry `g`.
public func depthwiseDirectApplies(_ g: Conv2DGeometry) -> Bool {
    g.groups == g.inChannels && g.outChannels == g.inChannels && g.inChannels % 16 == 0 && g.dilation == 1
        && g.kernelHeight == g.kernelWidth && (g.kernelWidth == 3 || g.kernelWidth == 5) && (g.stride == 1 || g.stride == 2)
}

/// Runs `body` with `w` ([C, k·k]) transposed into the [k·k, C] tap layout `depthwiseConv2dDirect` reads
/// (a temporary buffer; inference scopes keep a frozen copy instead).
@inline(__always)
func withDepthwiseTaps(_ w: UnsafePointer<Float>, _ g: Conv2DGeometry, _ body: (UnsafePointer<Float>) -> Void) {
    let T = g.kernelHeight * g.kernelWidth
    let taps = UnsafeMutablePointer<Float>.allocate(capacity: T * g.inChannels)
    defer { taps.deallocate() }
    depthwiseTransposeTaps(taps, w, channels: g.inChannels, taps: T)
    body(taps)
}

/// Lane constants of one 16-channel chunk's epilogue.
struct ChunkEpilogue {
    var scale: SIMD16<Float>, shift: SIMD16<Float>, slope: SIMD16<Float>, ceiling: SIMD16<Float>

    /// The lanes of channels c ..< c + 16 (scale/shift nil = 1/0).
    @inline(__always)
    init(channel c: Int, scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, slope: SIMD16<Float>, ceiling: SIMD16<Float>) {
        self.scale = scale.map { load16($0 + c) } ?? SIMD16(repeating: 1)
        self.shift = shift.map { load16($0 + c) } ?? SIMD16()
        self.slope = slope; self.ceiling = ceiling
    }

    /// The lanes of channels c ..< c + 16 with the activation lanes of `epilogueLanes`.
    @inline(__always)
    init(channel c: Int, scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, lanes: EpilogueLanes) {
        self.init(channel: c, scale: scale, shift: shift, slope: lanes.slope, ceiling: lanes.ceiling)
    }
    @_transparent func callAsFunction(_ acc: SIMD16<Float>) -> SIMD16<Float> {
        var v = acc * scale + shift
        v.replace(with: v * slope, where: v .< 0)
        v.replace(with: ceiling, where: v .> ceiling)
        return v
    }
}

/// y = act(depthwise(x, taps)·scale + shift) (scale/shift nil = 1/0, activation nil = identity), for the
/// geometries `depthwiseDirectApplies` accepts. `taps` is the weight in the [kh·kw, C] layout of
/// `depthwiseTransposeTaps`. Split over (n, output row) on the kernel pool.
///
/// `bitExact` (scale and activation nil, `shift` the bias) rounds exactly as the pixel-at-a-time kernel of
/// `depthwiseConv2dForwardRows` does — bias first, then one multiply and one add per tap in kernel order —
/// so that training results stay bit-for-bit those that the multi-rank equivalence checks were measured
/// with; the default fuses each tap into an FMA and adds the shift last.
// y: [N, Ho, Wo, C], x: [N, H, W, C], taps: [k·k, C], scale, shift: [C]
public func depthwiseConv2dDirect(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, taps: UnsafePointer<Float>,
                                  scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, activation: ActivationKind?,
                                  _ g: Conv2DGeometry, bitExact: Bool = false) {
    g.validate()
    precondition(depthwiseDirectApplies(g), "depthwiseConv2dDirect: geometry \(g) is not 3×3/5×5, stride 1/2, C % 16 == 0")
    precondition(!bitExact || (scale == nil && activation == nil), "depthwiseConv2dDirect: bitExact takes a bias only")
    if !bitExact && depthwiseTinyApplies(g) {
        depthwiseConv2dTiny(y, x, taps: taps, scale: scale, shift: shift, activation: activation, g)
        return
    }
    if !bitExact && depthwiseSmallApplies(g) {
        depthwiseConv2dSmall(y, x, taps: taps, scale: scale, shift: shift, activation: activation, g)
        return
    }
    let N = g.batch, Ho = g.outHeight, Wo = g.outWidth, C = g.inChannels, k = g.kernelWidth
    if N * Ho * Wo == 0 { return }
    let lanes = epilogueLanes(activation)
    // Work items are (output row, channel block): whole rows when there are plenty, else the channels of
    // each row split so that every thread gets several items (the last stages at batch 1 have 3–5 rows).
    let rowCount = N * Ho, chunks = C / 16, wanted = 4 * Threading.threads
    let blocks = rowCount >= wanted ? 1 : Swift.min(chunks, (wanted + rowCount - 1) / rowCount)
    let perBlock = (chunks + blocks - 1) / blocks
    parallelFor(rowCount * blocks, grain: blocks > 1 ? 1 : Swift.max(1, 4096 / Swift.max(1, Wo * C * k * k))) { r in
        for item in r {
            let row = item / blocks, block = item % blocks
            let n = row / Ho, oy = row % Ho
            let c0 = block * perBlock * 16, c1 = Swift.min(C, c0 + perBlock * 16)
            if c0 >= c1 { continue }
            let out = y + row * Wo * C
            depthwiseRowKernel(out, x, taps, scale, shift, lanes, g, n: n, oy: oy, c0: c0, c1: c1, exact: bitExact)
            if !lanes.cheap, let activation { activateRows(out + c0, stride: C, rows: Wo, columns: c1 - c0, activation) }
        }
    }
}

/// `depthwiseConv2dDirect` (not bit-exact) for channels `channels` only (multiples of 16), every image and
/// row, on the calling thread, by the same kernel it would pick (3×3 image, small image, row runs): for a
/// caller that splits the channels over threads itself. `tile` is scratch of `smallTileFloats` floats.
// y: [N, Ho, Wo, C], x: [N, H, W, C], taps: [k·k, C], scale, shift: [C]
func depthwiseDirectChannels(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, taps: UnsafePointer<Float>,
                             scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, activation: ActivationKind?,
                             _ g: Conv2DGeometry, channels: Range<Int>, tile: UnsafeMutablePointer<Float>) {
    let N = g.batch, Ho = g.outHeight, Wo = g.outWidth, C = g.inChannels
    if N * Ho * Wo == 0 || channels.isEmpty { return }
    let lanes = epilogueLanes(activation)
    let chunks = stride(from: channels.lowerBound, to: channels.upperBound, by: 16)
    if depthwiseTinyApplies(g) {
        for n in 0..<N {
            for c in chunks {
                depthwiseTinyKernel(y + n * 9 * C + c, x + n * 9 * C + c, taps + c,
                                    ChunkEpilogue(channel: c, scale: scale, shift: shift, lanes: lanes), g)
            }
        }
    } else if depthwiseSmallApplies(g) {
        let bandRows = depthwiseSmallMaxBandRows(g)
        for n in 0..<N {
            for c in chunks {
                let out = y + (n * Ho * Wo) * C + c, ep = ChunkEpilogue(channel: c, scale: scale, shift: shift, lanes: lanes)
                for oy0 in stride(from: 0, to: Ho, by: bandRows) {
                    depthwiseSmallBandKernel(out, tile, x, taps + c, ep, g, n: n, c: c, oy0: oy0, oy1: Swift.min(Ho, oy0 + bandRows))
                }
            }
        }
    } else {
        for row in 0..<(N * Ho) {
            depthwiseRowKernel(y + row * Wo * C, x, taps, scale, shift, lanes, g, n: row / Ho, oy: row % Ho,
                               c0: channels.lowerBound, c1: channels.upperBound, exact: false)
        }
    }
    if !lanes.cheap, let activation {
        activateRows(y + channels.lowerBound, stride: C, rows: N * Ho * Wo, columns: channels.count, activation)
    }
}

/// One output row (n, oy), channels c0 ..< c1, by the row kernel specialised for g's (k, s) and `exact`.
@inline(__always)
func depthwiseRowKernel(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ taps: UnsafePointer<Float>,
                        _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ lanes: EpilogueLanes, _ g: Conv2DGeometry,
                        n: Int, oy: Int, c0: Int, c1: Int, exact: Bool) {
    let slope = lanes.slope, ceiling = lanes.ceiling
    switch (g.kernelWidth, g.stride, exact) {
    case (3, 1, false): depthwiseRow3s1(out, x, taps, scale, shift, slope, ceiling, g, n, oy, c0, c1)
    case (3, 2, false): depthwiseRow3s2(out, x, taps, scale, shift, slope, ceiling, g, n, oy, c0, c1)
    case (5, 1, false): depthwiseRow5s1(out, x, taps, scale, shift, slope, ceiling, g, n, oy, c0, c1)
    case (_, _, false): depthwiseRow5s2(out, x, taps, scale, shift, slope, ceiling, g, n, oy, c0, c1)
    case (3, 1, true): depthwiseRow3s1Exact(out, x, taps, scale, shift, slope, ceiling, g, n, oy, c0, c1)
    case (3, 2, true): depthwiseRow3s2Exact(out, x, taps, scale, shift, slope, ceiling, g, n, oy, c0, c1)
    case (5, 1, true): depthwiseRow5s1Exact(out, x, taps, scale, shift, slope, ceiling, g, n, oy, c0, c1)
    case (_, _, true): depthwiseRow5s2Exact(out, x, taps, scale, shift, slope, ceiling, g, n, oy, c0, c1)
    }
}

// One out-of-line function per (k, s), each with the row body inlined on its constants (as `@inline(__always)`
// the body stayed a call with run-time k and s: nothing unrolled, 1.2–1.7× slower than the old kernel).
@inline(never) private func depthwiseRow3s1(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ slope: SIMD16<Float>, _ ceiling: SIMD16<Float>, _ g: Conv2DGeometry, _ n: Int, _ oy: Int, _ c0: Int, _ c1: Int) {
    depthwiseRow(out, x, taps, scale, shift, slope, ceiling, g, n: n, oy: oy, c0: c0, c1: c1, k: 3, s: 1, exact: false)
}
@inline(never) private func depthwiseRow3s2(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ slope: SIMD16<Float>, _ ceiling: SIMD16<Float>, _ g: Conv2DGeometry, _ n: Int, _ oy: Int, _ c0: Int, _ c1: Int) {
    depthwiseRow(out, x, taps, scale, shift, slope, ceiling, g, n: n, oy: oy, c0: c0, c1: c1, k: 3, s: 2, exact: false)
}
@inline(never) private func depthwiseRow5s1(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ slope: SIMD16<Float>, _ ceiling: SIMD16<Float>, _ g: Conv2DGeometry, _ n: Int, _ oy: Int, _ c0: Int, _ c1: Int) {
    depthwiseRow(out, x, taps, scale, shift, slope, ceiling, g, n: n, oy: oy, c0: c0, c1: c1, k: 5, s: 1, exact: false)
}
@inline(never) private func depthwiseRow5s2(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ slope: SIMD16<Float>, _ ceiling: SIMD16<Float>, _ g: Conv2DGeometry, _ n: Int, _ oy: Int, _ c0: Int, _ c1: Int) {
    depthwiseRow(out, x, taps, scale, shift, slope, ceiling, g, n: n, oy: oy, c0: c0, c1: c1, k: 5, s: 2, exact: false)
}
@inline(never) private func depthwiseRow3s1Exact(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ slope: SIMD16<Float>, _ ceiling: SIMD16<Float>, _ g: Conv2DGeometry, _ n: Int, _ oy: Int, _ c0: Int, _ c1: Int) {
    depthwiseRow(out, x, taps, scale, shift, slope, ceiling, g, n: n, oy: oy, c0: c0, c1: c1, k: 3, s: 1, exact: true)
}
@inline(never) private func depthwiseRow3s2Exact(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ slope: SIMD16<Float>, _ ceiling: SIMD16<Float>, _ g: Conv2DGeometry, _ n: Int, _ oy: Int, _ c0: Int, _ c1: Int) {
    depthwiseRow(out, x, taps, scale, shift, slope, ceiling, g, n: n, oy: oy, c0: c0, c1: c1, k: 3, s: 2, exact: true)
}
@inline(never) private func depthwiseRow5s1Exact(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ slope: SIMD16<Float>, _ ceiling: SIMD16<Float>, _ g: Conv2DGeometry, _ n: Int, _ oy: Int, _ c0: Int, _ c1: Int) {
    depthwiseRow(out, x, taps, scale, shift, slope, ceiling, g, n: n, oy: oy, c0: c0, c1: c1, k: 5, s: 1, exact: true)
}
@inline(never) private func depthwiseRow5s2Exact(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ slope: SIMD16<Float>, _ ceiling: SIMD16<Float>, _ g: Conv2DGeometry, _ n: Int, _ oy: Int, _ c0: Int, _ c1: Int) {
    depthwiseRow(out, x, taps, scale, shift, slope, ceiling, g, n: n, oy: oy, c0: c0, c1: c1, k: 5, s: 2, exact: true)
}

/// One output row (n, oy), channels c0 ..< c1 (multiples of 16); `k` and `s` are literals at each call site so the tap
/// loops unroll and the shared input loads merge.
@_transparent
func depthwiseRow(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ taps: UnsafePointer<Float>,
                          _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ slope: SIMD16<Float>, _ ceiling: SIMD16<Float>,
                          _ g: Conv2DGeometry, n: Int, oy: Int, c0: Int, c1: Int, k: Int, s: Int, exact: Bool) {
    let H = g.inHeight, W = g.inWidth, C = g.inChannels, Wo = g.outWidth, pl = g.padLeft
    let iy0 = oy * s - g.padTop
    let kyLo = Swift.max(0, -iy0), kyHi = Swift.min(k - 1, H - 1 - iy0)
    // Interior pixels: every tap inside the row (ix0 = ox·s − pl ≥ 0 and ix0 + k − 1 ≤ W − 1).
    let oxA = Swift.min(Wo, (pl + s - 1) / s)
    let oxB = W - k + pl >= 0 ? Swift.max(oxA, Swift.min(Wo, (W - k + pl) / s + 1)) : oxA
    let run = s == 1 ? 8 : 4
    let xImage = x + n * H * W * C
    // Pixels outer, channel chunks inner: the row's input is read in address order (chunk-outer order
    // walked each row C/16 times at stride C and ran 1.2–1.7× slower).
    var ox = 0
    while ox < Wo {
        if ox >= oxA && ox < oxB && oxB - oxA >= run {
            // A short tail of interior pixels takes a run that overlaps the previous one (its pixels are
            // written twice with the same values) instead of the pixel-at-a-time border code.
            ox = Swift.min(ox, oxB - run)
            let xr = xImage + (iy0 * W + ox * s - pl) * C
            var c = c0
            while c < c1 {
                let ep = ChunkEpilogue(channel: c, scale: scale, shift: shift, slope: slope, ceiling: ceiling)
                depthwiseRun(out + ox * C + c, xr + c, taps + c, ep, W: W, C: C, kyLo: kyLo, kyHi: kyHi, k: k, s: s, exact: exact)
                c += 16
            }
            ox += run
        } else {
            var c = c0
            while c < c1 {
                let ep = ChunkEpilogue(channel: c, scale: scale, shift: shift, slope: slope, ceiling: ceiling)
                depthwiseBorderPixel(out + ox * C + c, xImage + c, taps + c, ep, W: W, C: C, iy0: iy0, ix0: ox * s - pl,
                                     kyLo: kyLo, kyHi: kyHi, k: k, exact: exact)
                c += 16
            }
            ox += 1
        }
    }
}

/// A run of 8 (stride 1) or 4 (stride 2) interior pixels of one 16-channel chunk. `xr` points at the
/// run's first input pixel in kernel row 0 (rows outside kyLo…kyHi are never read).
@_transparent
func depthwiseRun(_ out: UnsafeMutablePointer<Float>, _ xr: UnsafePointer<Float>, _ wc: UnsafePointer<Float>, _ ep: ChunkEpilogue,
                  W: Int, C: Int, kyLo: Int, kyHi: Int, k: Int, s: Int, exact: Bool) {
    let start = exact ? ep.shift : SIMD16<Float>()
    var a0 = start, a1 = start, a2 = start, a3 = start, a4 = start, a5 = start, a6 = start, a7 = start
    let sc = s * C
    @_transparent func tap(_ a: inout SIMD16<Float>, _ x: SIMD16<Float>, _ w: SIMD16<Float>) {
        if exact { a = a + x * w } else { a.addProduct(x, w) }
    }
    var ky = kyLo
    while ky <= kyHi {
        let xp = xr + ky * W * C, wp = wc + ky * k * C
        for kx in 0..<k {
            let wv = load16(wp + kx * C), xq = xp + kx * C
            tap(&a0, load16(xq), wv)
            tap(&a1, load16(xq + sc), wv)
            tap(&a2, load16(xq + 2 * sc), wv)
            tap(&a3, load16(xq + 3 * sc), wv)
            if s == 1 {
                tap(&a4, load16(xq + 4 * sc), wv)
                tap(&a5, load16(xq + 5 * sc), wv)
                tap(&a6, load16(xq + 6 * sc), wv)
                tap(&a7, load16(xq + 7 * sc), wv)
            }
        }
        ky += 1
    }
    if exact {
        store16(out, a0); store16(out + C, a1); store16(out + 2 * C, a2); store16(out + 3 * C, a3)
        if s == 1 { store16(out + 4 * C, a4); store16(out + 5 * C, a5); store16(out + 6 * C, a6); store16(out + 7 * C, a7) }
        return
    }
    store16(out, ep(a0)); store16(out + C, ep(a1)); store16(out + 2 * C, ep(a2)); store16(out + 3 * C, ep(a3))
    if s == 1 { store16(out + 4 * C, ep(a4)); store16(out + 5 * C, ep(a5)); store16(out + 6 * C, ep(a6)); store16(out + 7 * C, ep(a7)) }
}

/// One pixel of one 16-channel chunk with only the taps inside the image (two accumulators: even and odd
/// kernel columns, so the FMA chain is half as long; `exact`: one accumulator from the bias, in order).
@_transparent
func depthwiseBorderPixel(_ out: UnsafeMutablePointer<Float>, _ xc: UnsafePointer<Float>, _ wc: UnsafePointer<Float>, _ ep: ChunkEpilogue,
                          W: Int, C: Int, iy0: Int, ix0: Int, kyLo: Int, kyHi: Int, k: Int, exact: Bool) {
    let kxLo = Swift.max(0, -ix0), kxHi = Swift.min(k - 1, W - 1 - ix0)
    if exact {
        var a = ep.shift
        var ky = kyLo
        while ky <= kyHi {
            let xp = xc + ((iy0 + ky) * W + ix0) * C, wp = wc + ky * k * C
            var kx = kxLo
            while kx <= kxHi { a = a + load16(xp + kx * C) * load16(wp + kx * C); kx += 1 }
            ky += 1
        }
        store16(out, a)
        return
    }
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
    var ky = kyLo
    while ky <= kyHi {
        let xp = xc + ((iy0 + ky) * W + ix0) * C, wp = wc + ky * k * C
        var kx = kxLo
        while kx + 1 <= kxHi {
            a0.addProduct(load16(xp + kx * C), load16(wp + kx * C))
            a1.addProduct(load16(xp + (kx + 1) * C), load16(wp + (kx + 1) * C))
            kx += 2
        }
        if kx <= kxHi { a0.addProduct(load16(xp + kx * C), load16(wp + kx * C)) }
        ky += 1
    }
    store16(out, ep(a0 + a1))
}
