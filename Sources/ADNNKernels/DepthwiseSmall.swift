import Foundation

// Depthwise forward for the small images of the last stages (3×3 … 16×16 at batch 1), where the row
// kernel of DepthwiseDirect.swift finds few or no interior runs and takes most pixels one at a time with
// clipped tap loops. Here each work item — one image, one 16-channel chunk, one band of output rows —
// first copies its input rows into a zero-padded tile on the stack ([rows, Wp, 16], in L1), so every tap
// of every output pixel is inside the tile; then each output row goes in runs of up to 8 pixels with the
// tap loops fully unrolled on literal k, s and run length, one accumulator per pixel, and the per-channel
// epilogue in registers before the one store. `depthwiseConv2dForwardNaive` /
// `conv2dForwardScaleShiftActivationNaive` are the twins in DepthwiseDirectTests.

/// When the small-image path is taken.
public enum DepthwiseTuning {
    /// Input images at most this wide take the padded-tile path (`depthwiseConv2dSmall`); wider rows keep
    /// the run kernel. `ADNN_DW_SMALL_MAX_WIDTH` overrides it (0 turns the path off, for comparisons).
    nonisolated(unsafe) public static var smallMaxWidth: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_DW_SMALL_MAX_WIDTH"], let v = Int(s), v >= 0 { return v }
        return 16
    }()
    /// Stride-1 input gradients run as a forward convolution with the turned kernel on the direct kernel
    /// (`ADNN_DW_BACKWARD_DIRECT=0` keeps the tap-table gather, for comparisons).
    nonisolated(unsafe) public static var backwardInputDirect: Bool =
        ProcessInfo.processInfo.environment["ADNN_DW_BACKWARD_DIRECT"] != "0"
}

@inline(__always) private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) private func store16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Floats of padded tile one work item may use (64 KiB): bands are cut so that each fits.
let smallTileFloats = 16 * 1024

/// Whether `depthwiseConv2dSmall` takes geometry `g` (a `depthwiseDirectApplies` geometry whose input is
/// at most `DepthwiseTuning.smallMaxWidth` wide).
public func depthwiseSmallApplies(_ g: Conv2DGeometry) -> Bool {
    guard depthwiseDirectApplies(g) && g.inWidth <= DepthwiseTuning.smallMaxWidth
        && ((g.outWidth - 1) * g.stride + g.kernelWidth) * g.kernelHeight * 16 <= smallTileFloats else { return false }
    // Kernel rows outside the image are skipped, kernel columns are not: the path pays for the padding
    // columns' taps, so it is taken only where they are under a third of the real ones (a 5×5 kernel on a
    // 3×3 image would do 5 taps a row for 3); and for rows of 3 pixels building the tile costs as much as
    // the taps (3×3 × 1152 channels, 3×3 kernel: 9.0 µs against 6.0 µs on one Zen 4 core).
    guard g.outWidth >= 4 else { return false }
    var valid = 0
    for ox in 0..<g.outWidth {
        let ix0 = ox * g.stride - g.padLeft
        valid += Swift.max(0, Swift.min(g.kernelWidth - 1, g.inWidth - 1 - ix0) - Swift.max(0, -ix0) + 1)
    }
    return valid > 0 && 3 * g.outWidth * g.kernelWidth <= 4 * valid
}

/// y = act(depthwise(x, taps)·scale + shift) for the geometries `depthwiseSmallApplies` accepts (same
/// contract as `depthwiseConv2dDirect` without its bit-exact mode). Work items are (image, 16-channel
/// chunk, band of output rows), as many bands as it takes to give every thread several items.
// y: [N, Ho, Wo, C], x: [N, H, W, C], taps: [k·k, C], scale, shift: [C]
public func depthwiseConv2dSmall(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, taps: UnsafePointer<Float>,
                                 scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, activation: ActivationKind?,
                                 _ g: Conv2DGeometry) {
    g.validate()
    precondition(depthwiseSmallApplies(g), "depthwiseConv2dSmall: geometry \(g) is not a small 3×3/5×5 depthwise")
    let N = g.batch, Ho = g.outHeight, Wo = g.outWidth, C = g.inChannels
    if N * Ho * Wo == 0 { return }
    let lanes = epilogueLanes(activation)
    let chunks = C / 16, wanted = 4 * Threading.threads
    // Output rows per band: enough bands for every thread to get several items, and a tile that fits.
    let bandsWanted = Swift.max(1, (wanted + N * chunks - 1) / (N * chunks))
    let bandRows = Swift.min(depthwiseSmallMaxBandRows(g), Swift.max(1, (Ho + bandsWanted - 1) / bandsWanted))
    let bands = (Ho + bandRows - 1) / bandRows
    parallelFor(N * chunks * bands) { r in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: smallTileFloats) { tileBuffer in
            let tile = tileBuffer.baseAddress!
            for item in r {
                let band = item % bands, chunk = (item / bands) % chunks, n = item / (bands * chunks)
                let oy0 = band * bandRows, oy1 = Swift.min(Ho, oy0 + bandRows)
                let c = chunk * 16
                let out = y + (n * Ho * Wo) * C + c
                depthwiseSmallBandKernel(out, tile, x, taps + c, ChunkEpilogue(channel: c, scale: scale, shift: shift, lanes: lanes), g,
                                         n: n, c: c, oy0: oy0, oy1: oy1)
                if !lanes.cheap, let activation {
                    activateRows(out + oy0 * Wo * C, stride: C, rows: (oy1 - oy0) * Wo, columns: 16, activation)
                }
            }
        }
    }
}

/// Most output rows of one band whose padded tile fits `smallTileFloats`.
func depthwiseSmallMaxBandRows(_ g: Conv2DGeometry) -> Int {
    let k = g.kernelWidth, s = g.stride, Wp = (g.outWidth - 1) * s + k
    return Swift.max(1, ((smallTileFloats / (Wp * 16)) - k) / s + 1)
}

/// One band of one 16-channel chunk (`depthwiseSmallBand`) by the function specialised for g's (k, s).
@inline(__always)
func depthwiseSmallBandKernel(_ out: UnsafeMutablePointer<Float>, _ tile: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                              _ wc: UnsafePointer<Float>, _ ep: ChunkEpilogue, _ g: Conv2DGeometry, n: Int, c: Int, oy0: Int, oy1: Int) {
    switch (g.kernelWidth, g.stride) {
    case (3, 1): depthwiseSmallBand3s1(out, tile, x, wc, ep, g, n: n, c: c, oy0: oy0, oy1: oy1)
    case (3, 2): depthwiseSmallBand3s2(out, tile, x, wc, ep, g, n: n, c: c, oy0: oy0, oy1: oy1)
    case (5, 1): depthwiseSmallBand5s1(out, tile, x, wc, ep, g, n: n, c: c, oy0: oy0, oy1: oy1)
    default: depthwiseSmallBand5s2(out, tile, x, wc, ep, g, n: n, c: c, oy0: oy0, oy1: oy1)
    }
}

@inline(never) private func depthwiseSmallBand3s1(_ out: UnsafeMutablePointer<Float>, _ tile: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                                  _ wc: UnsafePointer<Float>, _ ep: ChunkEpilogue, _ g: Conv2DGeometry, n: Int, c: Int, oy0: Int, oy1: Int) {
    depthwiseSmallBand(out, tile, x, wc, ep, g, n: n, c: c, oy0: oy0, oy1: oy1, k: 3, s: 1)
}
@inline(never) private func depthwiseSmallBand3s2(_ out: UnsafeMutablePointer<Float>, _ tile: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                                  _ wc: UnsafePointer<Float>, _ ep: ChunkEpilogue, _ g: Conv2DGeometry, n: Int, c: Int, oy0: Int, oy1: Int) {
    depthwiseSmallBand(out, tile, x, wc, ep, g, n: n, c: c, oy0: oy0, oy1: oy1, k: 3, s: 2)
}
@inline(never) private func depthwiseSmallBand5s1(_ out: UnsafeMutablePointer<Float>, _ tile: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                                  _ wc: UnsafePointer<Float>, _ ep: ChunkEpilogue, _ g: Conv2DGeometry, n: Int, c: Int, oy0: Int, oy1: Int) {
    depthwiseSmallBand(out, tile, x, wc, ep, g, n: n, c: c, oy0: oy0, oy1: oy1, k: 5, s: 1)
}
@inline(never) private func depthwiseSmallBand5s2(_ out: UnsafeMutablePointer<Float>, _ tile: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                                  _ wc: UnsafePointer<Float>, _ ep: ChunkEpilogue, _ g: Conv2DGeometry, n: Int, c: Int, oy0: Int, oy1: Int) {
    depthwiseSmallBand(out, tile, x, wc, ep, g, n: n, c: c, oy0: oy0, oy1: oy1, k: 5, s: 2)
}

/// One band of output rows oy0 ..< oy1 of image n, channels c ..< c + 16: the padded tile, then the rows.
/// `out` points at channel c of the image's first output pixel; `wc` at channel c of tap 0.
@_transparent
func depthwiseSmallBand(_ out: UnsafeMutablePointer<Float>, _ tile: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                        _ wc: UnsafePointer<Float>, _ ep: ChunkEpilogue, _ g: Conv2DGeometry,
                        n: Int, c: Int, oy0: Int, oy1: Int, k: Int, s: Int) {
    let H = g.inHeight, W = g.inWidth, C = g.inChannels, Wo = g.outWidth
    let Wp = (Wo - 1) * s + k
    let iyBase = oy0 * s - g.padTop, ixBase = -g.padLeft
    let rowsIn = (oy1 - oy0 - 1) * s + k
    // [rowsIn, Wp, 16]: input rows iyBase ..< iyBase + rowsIn, columns ixBase ..< ixBase + Wp, zeros outside.
    let xImage = x + n * H * W * C + c
    for r in 0..<rowsIn {
        let iy = iyBase + r
        let dst = tile + r * Wp * 16
        if iy < 0 || iy >= H {
            for col in 0..<Wp { store16(dst + col * 16, SIMD16()) }
            continue
        }
        let src = xImage + iy * W * C
        for col in 0..<Wp {
            let ix = ixBase + col
            store16(dst + col * 16, ix >= 0 && ix < W ? load16(src + ix * C) : SIMD16())
        }
    }
    // Runs of near-equal length, at most 8 pixels (8 zmm accumulators); kernel rows kyLo…kyHi are the
    // ones inside the image (the tile's other rows are zeros).
    let runs = (Wo + 7) / 8
    for oy in oy0..<oy1 {
        let iy0 = oy * s - g.padTop
        let kyLo = Swift.max(0, -iy0), kyHi = Swift.min(k - 1, H - 1 - iy0)
        let rowTile = tile + (oy - oy0) * s * Wp * 16
        let rowOut = out + oy * Wo * C
        var ox = 0
        for run in 0..<runs {
            let len = (Wo - ox) / (runs - run)
            let t = rowTile + ox * s * 16, o = rowOut + ox * C
            switch len {
            case 8: depthwiseSmallRun(o, t, wc, ep, Wp: Wp, C: C, kyLo: kyLo, kyHi: kyHi, k: k, s: s, len: 8)
            case 7: depthwiseSmallRun(o, t, wc, ep, Wp: Wp, C: C, kyLo: kyLo, kyHi: kyHi, k: k, s: s, len: 7)
            case 6: depthwiseSmallRun(o, t, wc, ep, Wp: Wp, C: C, kyLo: kyLo, kyHi: kyHi, k: k, s: s, len: 6)
            case 5: depthwiseSmallRun(o, t, wc, ep, Wp: Wp, C: C, kyLo: kyLo, kyHi: kyHi, k: k, s: s, len: 5)
            case 4: depthwiseSmallRun(o, t, wc, ep, Wp: Wp, C: C, kyLo: kyLo, kyHi: kyHi, k: k, s: s, len: 4)
            case 3: depthwiseSmallRun(o, t, wc, ep, Wp: Wp, C: C, kyLo: kyLo, kyHi: kyHi, k: k, s: s, len: 3)
            case 2: depthwiseSmallRun(o, t, wc, ep, Wp: Wp, C: C, kyLo: kyLo, kyHi: kyHi, k: k, s: s, len: 2)
            default: depthwiseSmallRun(o, t, wc, ep, Wp: Wp, C: C, kyLo: kyLo, kyHi: kyHi, k: k, s: s, len: 1)
            }
            ox += len
        }
    }
}

/// `len` output pixels of one row from the padded tile (`t` at the run's first input column of kernel row 0).
@_transparent
func depthwiseSmallRun(_ out: UnsafeMutablePointer<Float>, _ t: UnsafePointer<Float>, _ wc: UnsafePointer<Float>, _ ep: ChunkEpilogue,
                       Wp: Int, C: Int, kyLo: Int, kyHi: Int, k: Int, s: Int, len: Int) {
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
    var ky = kyLo
    while ky <= kyHi {
        defer { ky += 1 }
        let tr = t + ky * Wp * 16, wr = wc + ky * k * C
        for kx in 0..<k {
            let w = load16(wr + kx * C), tq = tr + kx * 16
            a0.addProduct(load16(tq), w)
            if len > 1 { a1.addProduct(load16(tq + s * 16), w) }
            if len > 2 { a2.addProduct(load16(tq + 2 * s * 16), w) }
            if len > 3 { a3.addProduct(load16(tq + 3 * s * 16), w) }
            if len > 4 { a4.addProduct(load16(tq + 4 * s * 16), w) }
            if len > 5 { a5.addProduct(load16(tq + 5 * s * 16), w) }
            if len > 6 { a6.addProduct(load16(tq + 6 * s * 16), w) }
            if len > 7 { a7.addProduct(load16(tq + 7 * s * 16), w) }
        }
    }
    store16(out, ep(a0))
    if len > 1 { store16(out + C, ep(a1)) }
    if len > 2 { store16(out + 2 * C, ep(a2)) }
    if len > 3 { store16(out + 3 * C, ep(a3)) }
    if len > 4 { store16(out + 4 * C, ep(a4)) }
    if len > 5 { store16(out + 5 * C, ep(a5)) }
    if len > 6 { store16(out + 6 * C, ep(a6)) }
    if len > 7 { store16(out + 7 * C, ep(a7)) }
}

/// Whether `depthwiseConv2dTiny` takes geometry `g`: a 3×3 image, stride 1, symmetric padding k/2 (so a 3×3
/// output) — the last stage of a 72- to 96-pixel input, where every pixel is a border pixel.
public func depthwiseTinyApplies(_ g: Conv2DGeometry) -> Bool {
    let p = g.kernelWidth / 2
    return depthwiseDirectApplies(g) && g.inHeight == 3 && g.inWidth == 3 && g.stride == 1
        && g.padTop == p && g.padBottom == p && g.padLeft == p && g.padRight == p
}

/// y = act(depthwise(x, taps)·scale + shift) for the geometries `depthwiseTinyApplies` accepts (contract of
/// `depthwiseConv2dDirect` without its bit-exact mode): per 16-channel chunk the nine outputs, each over
/// exactly its taps inside the image, unrolled on literal k (81 FMAs for a 5×5 kernel, 49 for 3×3).
// y: [N, 3, 3, C], x: [N, 3, 3, C], taps: [k·k, C], scale, shift: [C]
public func depthwiseConv2dTiny(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, taps: UnsafePointer<Float>,
                                scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, activation: ActivationKind?,
                                _ g: Conv2DGeometry) {
    g.validate()
    precondition(depthwiseTinyApplies(g), "depthwiseConv2dTiny: geometry \(g) is not a 3×3 image, stride 1, padding k/2")
    let N = g.batch, C = g.inChannels, chunks = C / 16
    if N == 0 { return }
    let lanes = epilogueLanes(activation)
    parallelFor(N * chunks, grain: 2) { r in
        for item in r {
            let n = item / chunks, c = (item % chunks) * 16
            let out = y + n * 9 * C + c
            depthwiseTinyKernel(out, x + n * 9 * C + c, taps + c, ChunkEpilogue(channel: c, scale: scale, shift: shift, lanes: lanes), g)
            if !lanes.cheap, let activation { activateRows(out, stride: C, rows: 9, columns: 16, activation) }
        }
    }
}

/// The nine outputs of one 16-channel chunk (`depthwiseTinyChunk`) by the function specialised for g's k;
/// `out`, `x` and `wc` point at the chunk's first channel.
@inline(__always)
func depthwiseTinyKernel(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ wc: UnsafePointer<Float>,
                         _ ep: ChunkEpilogue, _ g: Conv2DGeometry) {
    if g.kernelWidth == 5 { depthwiseTinyChunk5(out, x, wc, ep, g.inChannels) } else { depthwiseTinyChunk3(out, x, wc, ep, g.inChannels) }
}

@inline(never) private func depthwiseTinyChunk3(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ wc: UnsafePointer<Float>,
                                                _ ep: ChunkEpilogue, _ C: Int) {
    depthwiseTinyChunk(out, x, wc, ep, C, k: 3)
}
@inline(never) private func depthwiseTinyChunk5(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ wc: UnsafePointer<Float>,
                                                _ ep: ChunkEpilogue, _ C: Int) {
    depthwiseTinyChunk(out, x, wc, ep, C, k: 5)
}

/// The nine outputs of one 16-channel chunk of a 3×3 image: output (oy, ox) sums input (iy, ix) times tap
/// (iy − oy + k/2, ix − ox + k/2) over the inputs within k/2 of it.
@_transparent
func depthwiseTinyChunk(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ wc: UnsafePointer<Float>,
                        _ ep: ChunkEpilogue, _ C: Int, k: Int) {
    let p = k / 2
    for o in 0..<9 {
        let oy = o / 3, ox = o % 3
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
        var odd = false
        for iy in Swift.max(0, oy - p)...Swift.min(2, oy + p) {
            for ix in Swift.max(0, ox - p)...Swift.min(2, ox + p) {
                let v = load16(x + (iy * 3 + ix) * C), w = load16(wc + ((iy - oy + p) * k + (ix - ox + p)) * C)
                if odd { a1.addProduct(v, w) } else { a0.addProduct(v, w) }
                odd.toggle()
            }
        }
        store16(out + o * C, ep(a0 + a1))
    }
}
