// 2-D convolution kernels over channels-last tensors.
//
// Layouts: x [N, H, W, C], weights OHWI [O, kh, kw, C/groups], bias [O], y [N, Ho, Wo, O].
// Three forward paths, chosen by `conv2dForward`:
//   (a) pointwise (1×1, stride 1, no padding): one GEMM per group straight on x, no copy;
//   (b) depthwise (groups == C == O > 1): direct SIMD16 loops over channels (Depthwise.swift);
//   (c) everything else: im2col (rows = output pixels, columns = (ky, kx, c) with channels
//       innermost) + GEMM, per group, over chunks of output pixels so the column buffer stays
//       ≤ 64 MB.
// Backward mirrors the forward: dX = GEMM + col2im (a gather, so it splits over input rows
// without races), dW = GEMM over the same columns, dBias = column sums.

import Foundation

/// Shape of a 2-D convolution: input, filter, stride, dilation, explicit (possibly asymmetric)
/// padding and groups. Output size is `(H + top + bottom − dilation·(kh − 1) − 1) / stride + 1`.
public struct Conv2DGeometry: Sendable, Equatable {
    public var batch: Int
    public var inHeight: Int
    public var inWidth: Int
    public var inChannels: Int
    public var outChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var stride: Int
    public var dilation: Int
    public var padTop: Int
    public var padBottom: Int
    public var padLeft: Int
    public var padRight: Int
    public var groups: Int

    public init(batch: Int, inHeight: Int, inWidth: Int, inChannels: Int, outChannels: Int,
                kernelHeight: Int, kernelWidth: Int, stride: Int = 1, dilation: Int = 1,
                padTop: Int = 0, padBottom: Int = 0, padLeft: Int = 0, padRight: Int = 0, groups: Int = 1) {
        self.batch = batch; self.inHeight = inHeight; self.inWidth = inWidth
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.stride = stride; self.dilation = dilation
        self.padTop = padTop; self.padBottom = padBottom; self.padLeft = padLeft; self.padRight = padRight
        self.groups = groups
    }

    /// Output height.
    public var outHeight: Int { (inHeight + padTop + padBottom - dilation * (kernelHeight - 1) - 1) / stride + 1 }
    /// Output width.
    public var outWidth: Int { (inWidth + padLeft + padRight - dilation * (kernelWidth - 1) - 1) / stride + 1 }
    /// Input channels per group.
    public var groupInChannels: Int { inChannels / groups }
    /// Output channels per group.
    public var groupOutChannels: Int { outChannels / groups }
    /// Elements of one weight row (one output channel): kh · kw · C/groups.
    public var patchSize: Int { kernelHeight * kernelWidth * (inChannels / groups) }
    /// Elements of x, the weights and y.
    public var inputCount: Int { batch * inHeight * inWidth * inChannels }
    public var weightCount: Int { outChannels * patchSize }
    public var outputCount: Int { batch * outHeight * outWidth * outChannels }

    /// 1×1, stride 1, no padding: the convolution is a plain GEMM on x.
    public var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padTop == 0 && padBottom == 0 && padLeft == 0 && padRight == 0
    }
    /// One filter per channel (channel multiplier 1).
    public var isDepthwise: Bool { groups > 1 && groups == inChannels && outChannels == inChannels }

    /// Checks that the geometry is well formed; the message names the offending value.
    public func validate() {
        precondition(batch >= 0 && inHeight > 0 && inWidth > 0 && inChannels > 0 && outChannels > 0,
                     "conv2d: bad sizes \(self)")
        precondition(kernelHeight > 0 && kernelWidth > 0, "conv2d: kernel must be positive, got \(kernelHeight)×\(kernelWidth)")
        precondition(stride > 0 && dilation > 0, "conv2d: stride \(stride) and dilation \(dilation) must be positive")
        precondition(padTop >= 0 && padBottom >= 0 && padLeft >= 0 && padRight >= 0, "conv2d: negative padding in \(self)")
        precondition(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                     "conv2d: groups \(groups) must divide in channels \(inChannels) and out channels \(outChannels)")
        precondition(outHeight > 0 && outWidth > 0,
                     "conv2d: empty output \(outHeight)×\(outWidth) for input \(inHeight)×\(inWidth), kernel \(kernelHeight)×\(kernelWidth)")
    }
}

// MARK: - helpers

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

/// Tuning knobs of the convolution kernels.
public enum ConvTuning {
    /// Maximum number of floats in one im2col column buffer (default 16 Mi floats = 64 MB).
    /// The batch's output pixels are processed in chunks that fit. Tests lower it to exercise chunking.
    nonisolated(unsafe) public static var im2colMaxFloats = 16 << 20
}

/// Fills every row of y [rows, n] with `bias` [n].
// y: [rows, n], bias: [n]
public func fillRowsWithBias(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, n: Int) {
    parallelFor(rows, grain: Swift.max(1, 16384 / Swift.max(n, 1))) { r in
        for row in r { (y + row * n).update(from: bias, count: n) }
    }
}

/// im2col for one group over output pixels p0..<p0+np:
/// col[q, (ky·kw + kx)·Cg + ci] = x[n, oy·s − pt + ky·d, ox·s − pl + kx·d, gi·Cg + ci] (0 outside).
// col: [np, kh·kw·Cg], x: [N, H, W, C]
func im2col(_ col: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ g: Conv2DGeometry,
            group gi: Int, pixelStart p0: Int, pixelCount np: Int) {
    parallelFor(np, grain: Swift.max(1, 8192 / Swift.max(g.patchSize, 1))) { r in
        im2colRows(col + r.lowerBound * g.patchSize, x, g, group: gi, pixels: (p0 + r.lowerBound)..<(p0 + r.upperBound))
    }
}

/// Serial im2col of output pixels `pixels` into consecutive rows of `col` (row 0 = pixels.lowerBound).
/// The pixel coordinates advance incrementally (no division per pixel); single-channel taps are
/// copied without an inner loop.
// col: [pixels.count, kh·kw·Cg], x: [N, H, W, C]
@inline(__always)
func im2colRows(_ col: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ g: Conv2DGeometry,
                group gi: Int, pixels: Range<Int>) {
    if pixels.isEmpty { return }
    let H = g.inHeight, W = g.inWidth, C = g.inChannels, Ho = g.outHeight, Wo = g.outWidth
    let kh = g.kernelHeight, kw = g.kernelWidth, s = g.stride, d = g.dilation
    let pt = g.padTop, pl = g.padLeft, Cg = g.groupInChannels, c0 = gi * Cg
    let first = pixels.lowerBound
    var n = first / (Ho * Wo), oy = (first % (Ho * Wo)) / Wo, ox = first % Wo
    var dst = col
    for _ in pixels {
        for ky in 0..<kh {
            let iy = oy * s - pt + ky * d
            if iy < 0 || iy >= H {
                dst.update(repeating: 0, count: kw * Cg); dst += kw * Cg
                continue
            }
            let xrow = x + ((n * H + iy) * W) * C + c0
            let ix0 = ox * s - pl
            if d == 1 && Cg == C && ix0 >= 0 && ix0 + kw <= W {
                // The whole kernel row is inside the image: kw·C contiguous floats (a stem's 3 or 9).
                let src = xrow + ix0 * C, run = kw * C
                for i in 0..<run { dst[i] = src[i] }
                dst += run
                continue
            }
            for kx in 0..<kw {
                let ix = ox * s - pl + kx * d
                if ix < 0 || ix >= W {
                    if Cg == 1 { dst[0] = 0 } else { for i in 0..<Cg { dst[i] = 0 } }
                } else {
                    let src = xrow + ix * C
                    if Cg == 1 { dst[0] = src[0] } else { for i in 0..<Cg { dst[i] = src[i] } }
                }
                dst += Cg
            }
        }
        ox += 1
        if ox == Wo { ox = 0; oy += 1; if oy == Ho { oy = 0; n += 1 } }
    }
}

/// Gather lists of one spatial axis: for every input index i, the kernel taps k and output
/// indices o with o·stride − padding + k·dilation = i and 0 ≤ o < outputSize. Built once per
/// call so the backward gathers run without divisions or modulo tests in their inner loops.
struct TapTable {
    /// Number of (tap, output) pairs of input index i: count[i].
    let count: UnsafeMutablePointer<Int>
    /// Kernel tap of pair j of input index i: tap[i · kernel + j].
    let tap: UnsafeMutablePointer<Int>
    /// Output index of pair j of input index i: out[i · kernel + j].
    let out: UnsafeMutablePointer<Int>

    init(inputSize n: Int, outputSize: Int, kernel: Int, stride: Int, dilation: Int, padding: Int) {
        count = .allocate(capacity: Swift.max(n, 1))
        tap = .allocate(capacity: Swift.max(n * kernel, 1))
        out = .allocate(capacity: Swift.max(n * kernel, 1))
        for i in 0..<n {
            var j = 0
            for k in 0..<kernel {
                let t = i + padding - k * dilation
                if t < 0 { break }
                if t % stride == 0 && t / stride < outputSize {
                    tap[i * kernel + j] = k; out[i * kernel + j] = t / stride; j += 1
                }
            }
            count[i] = j
        }
    }

    func deallocate() { count.deallocate(); tap.deallocate(); out.deallocate() }
}

/// col2im as a gather for one group, accumulating into dx: every input pixel sums the column
/// entries of the output pixels p0..<p0+np that read it. Splits over input rows (no races).
// dx: [N, H, W, C] (accumulated), dcol: [np, kh·kw·Cg]
func col2imAdd(_ dx: UnsafeMutablePointer<Float>, _ dcol: UnsafePointer<Float>, _ g: Conv2DGeometry,
               group gi: Int, pixelStart p0: Int, pixelCount np: Int) {
    let H = g.inHeight, W = g.inWidth, C = g.inChannels, Ho = g.outHeight, Wo = g.outWidth
    let kh = g.kernelHeight, kw = g.kernelWidth, s = g.stride, d = g.dilation
    let pt = g.padTop, Cg = g.groupInChannels, K = g.patchSize, c0 = gi * Cg
    let p1 = p0 + np
    // Flattened input rows (n·H + iy) that the output rows of this chunk can touch.
    let r0 = p0 / Wo, r1 = (p1 - 1) / Wo
    let lo = (r0 / Ho) * H + Swift.max(0, (r0 % Ho) * s - pt)
    let hi = (r1 / Ho) * H + Swift.min(H - 1, (r1 % Ho) * s - pt + (kh - 1) * d)
    if lo > hi { return }
    let rows = TapTable(inputSize: H, outputSize: Ho, kernel: kh, stride: s, dilation: d, padding: pt)
    let cols = TapTable(inputSize: W, outputSize: Wo, kernel: kw, stride: s, dilation: d, padding: g.padLeft)
    defer { rows.deallocate(); cols.deallocate() }
    let rCount = rows.count, rTap = rows.tap, rOut = rows.out
    let cCount = cols.count, cTap = cols.tap, cOut = cols.out
    parallelFor(hi - lo + 1, grain: 1) { r in
        for rr in r {
            let row = lo + rr, n = row / H, iy = row % H
            let ny = rCount[iy]
            for ix in 0..<W {
                let dst = dx + ((n * H + iy) * W + ix) * C + c0
                let nx = cCount[ix]
                for jy in 0..<ny {
                    let rowBase = (n * Ho + rOut[iy * kh + jy]) * Wo - p0
                    let tapBase = rTap[iy * kh + jy] * kw
                    for jx in 0..<nx {
                        let q = rowBase + cOut[ix * kw + jx]
                        if q >= 0 && q < np {
                            addRow(dst, dcol + q * K + (tapBase + cTap[ix * kw + jx]) * Cg, Cg)
                        }
                    }
                }
            }
        }
    }
}

/// Output pixels per im2col chunk.
@inline(__always) func im2colChunk(_ g: Conv2DGeometry) -> Int {
    let total = g.batch * g.outHeight * g.outWidth
    return Swift.max(1, Swift.min(total, ConvTuning.im2colMaxFloats / Swift.max(g.patchSize, 1)))
}

// MARK: - forward

/// Runs `body(col, group, pixelStart, pixelCount)` over every group and every chunk of at most
/// `im2colChunk(g)` output pixels, in order, with one scratch buffer of `chunk × patchSize` floats
/// (the im2col matrix of the chunk) shared by all calls. The chunked im2col + GEMM loop of the
/// forward and both backward passes.
@inline(__always)
func forEachIm2colChunk(_ g: Conv2DGeometry, pixels P: Int,
                        _ body: (UnsafeMutablePointer<Float>, Int, Int, Int) -> Void) {
    let chunk = im2colChunk(g)
    let col = UnsafeMutablePointer<Float>.allocate(capacity: chunk * g.patchSize)
    defer { col.deallocate() }
    for gi in 0..<g.groups {
        var p0 = 0
        while p0 < P {
            let np = Swift.min(chunk, P - p0)
            body(col, gi, p0, np)
            p0 += np
        }
    }
}

/// Convolution forward: y = conv(x, w) + bias. Picks the pointwise GEMM, depthwise SIMD or
/// im2col + GEMM path from the geometry.
// y: [N, Ho, Wo, O], x: [N, H, W, C], w: [O, kh, kw, C/groups], bias: [O]
public func conv2dForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                          _ bias: UnsafePointer<Float>?, _ g: Conv2DGeometry) {
    g.validate()
    if g.outputCount == 0 { return }
    if g.isDepthwise { depthwiseConv2dForward(y, x, w, bias, g); return }
    let O = g.outChannels, Og = g.groupOutChannels, Cg = g.groupInChannels, K = g.patchSize
    let P = g.batch * g.outHeight * g.outWidth
    if let bias { fillRowsWithBias(y, bias, rows: P, n: O) }
    let beta: Float = bias == nil ? 0 : 1
    if g.isPointwise {
        // y[P, O] (group columns) = x[P, C] (group columns) × W_gᵀ
        for gi in 0..<g.groups {
            sgemm(y + gi * Og, x + gi * Cg, w + gi * Og * Cg, m: P, n: Og, k: Cg, transB: true,
                  beta: beta, lda: g.inChannels, ldb: Cg, ldc: O)
        }
        return
    }
    forEachIm2colChunk(g, pixels: P) { col, gi, p0, np in
        im2col(col, x, g, group: gi, pixelStart: p0, pixelCount: np)
        sgemm(y + p0 * O + gi * Og, col, w + gi * Og * K, m: np, n: Og, k: K, transB: true,
              beta: beta, lda: K, ldb: K, ldc: O)
    }
}

/// Naive twin of `conv2dForward`: direct loops, Double accumulation.
// y: [N, Ho, Wo, O], x: [N, H, W, C], w: [O, kh, kw, C/groups], bias: [O]
public func conv2dForwardNaive(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                               _ bias: UnsafePointer<Float>?, _ g: Conv2DGeometry) {
    g.validate()
    let H = g.inHeight, W = g.inWidth, C = g.inChannels, O = g.outChannels, Ho = g.outHeight, Wo = g.outWidth
    let Og = g.groupOutChannels, Cg = g.groupInChannels, kh = g.kernelHeight, kw = g.kernelWidth
    for n in 0..<g.batch { for oy in 0..<Ho { for ox in 0..<Wo { for o in 0..<O {
        let gi = o / Og
        var s = bias.map { Double($0[o]) } ?? 0
        for ky in 0..<kh { for kx in 0..<kw {
            let iy = oy * g.stride - g.padTop + ky * g.dilation, ix = ox * g.stride - g.padLeft + kx * g.dilation
            if iy < 0 || iy >= H || ix < 0 || ix >= W { continue }
            for ci in 0..<Cg {
                s += Double(x[((n * H + iy) * W + ix) * C + gi * Cg + ci]) * Double(w[((o * kh + ky) * kw + kx) * Cg + ci])
            }
        } }
        y[((n * Ho + oy) * Wo + ox) * O + o] = Float(s)
    } } } }
}

// MARK: - backward

/// Gradient of the convolution w.r.t. its input (overwrites dx).
// dx: [N, H, W, C], dy: [N, Ho, Wo, O], w: [O, kh, kw, C/groups]
public func conv2dBackwardInput(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                _ g: Conv2DGeometry) {
    g.validate()
    if g.inputCount == 0 { return }
    if g.isDepthwise { depthwiseConv2dBackwardInput(dx, dy, w, g); return }
    let C = g.inChannels, O = g.outChannels, Og = g.groupOutChannels, Cg = g.groupInChannels, K = g.patchSize
    let P = g.batch * g.outHeight * g.outWidth
    if g.isPointwise {
        // dx[P, C] (group columns) = dy[P, O] (group columns) × W_g[Og, Cg]
        for gi in 0..<g.groups {
            sgemm(dx + gi * Cg, dy + gi * Og, w + gi * Og * Cg, m: P, n: Cg, k: Og,
                  lda: O, ldb: Cg, ldc: C)
        }
        return
    }
    let total = g.inputCount
    parallelFor(total, grain: 1 << 16) { r in (dx + r.lowerBound).update(repeating: 0, count: r.count) }
    forEachIm2colChunk(g, pixels: P) { dcol, gi, p0, np in
        // dcol[np, K] = dy[np, Og] × W_g[Og, K]
        sgemm(dcol, dy + p0 * O + gi * Og, w + gi * Og * K, m: np, n: K, k: Og, lda: O, ldb: K, ldc: K)
        col2imAdd(dx, dcol, g, group: gi, pixelStart: p0, pixelCount: np)
    }
}

/// Naive twin of `conv2dBackwardInput` (Double accumulation).
// dx: [N, H, W, C], dy: [N, Ho, Wo, O], w: [O, kh, kw, C/groups]
public func conv2dBackwardInputNaive(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                     _ g: Conv2DGeometry) {
    g.validate()
    let H = g.inHeight, W = g.inWidth, C = g.inChannels, O = g.outChannels, Ho = g.outHeight, Wo = g.outWidth
    let Og = g.groupOutChannels, Cg = g.groupInChannels, kh = g.kernelHeight, kw = g.kernelWidth
    var acc = [Double](repeating: 0, count: g.inputCount)
    for n in 0..<g.batch { for oy in 0..<Ho { for ox in 0..<Wo { for o in 0..<O {
        let gi = o / Og
        let gv = Double(dy[((n * Ho + oy) * Wo + ox) * O + o])
        for ky in 0..<kh { for kx in 0..<kw {
            let iy = oy * g.stride - g.padTop + ky * g.dilation, ix = ox * g.stride - g.padLeft + kx * g.dilation
            if iy < 0 || iy >= H || ix < 0 || ix >= W { continue }
            for ci in 0..<Cg {
                acc[((n * H + iy) * W + ix) * C + gi * Cg + ci] += gv * Double(w[((o * kh + ky) * kw + kx) * Cg + ci])
            }
        } }
    } } } }
    for i in 0..<acc.count { dx[i] = Float(acc[i]) }
}

/// Gradient of the convolution w.r.t. its weights (overwrites dw).
// dw: [O, kh, kw, C/groups], dy: [N, Ho, Wo, O], x: [N, H, W, C]
public func conv2dBackwardWeight(_ dw: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                 _ g: Conv2DGeometry) {
    g.validate()
    if g.isDepthwise { depthwiseConv2dBackwardWeight(dw, dy, x, g); return }
    let C = g.inChannels, O = g.outChannels, Og = g.groupOutChannels, Cg = g.groupInChannels, K = g.patchSize
    let P = g.batch * g.outHeight * g.outWidth
    if P == 0 { dw.update(repeating: 0, count: g.weightCount); return }
    if g.isPointwise {
        // dW_g[Og, Cg] = dy_gᵀ[Og, P] × x_g[P, Cg]
        for gi in 0..<g.groups {
            sgemm(dw + gi * Og * Cg, dy + gi * Og, x + gi * Cg, m: Og, n: Cg, k: P, transA: true,
                  lda: O, ldb: C, ldc: Cg)
        }
        return
    }
    forEachIm2colChunk(g, pixels: P) { col, gi, p0, np in
        im2col(col, x, g, group: gi, pixelStart: p0, pixelCount: np)
        // dW_g[Og, K] (+)= dy_gᵀ[Og, np] × col[np, K]
        sgemm(dw + gi * Og * K, dy + p0 * O + gi * Og, col, m: Og, n: K, k: np, transA: true,
              beta: p0 == 0 ? 0 : 1, lda: O, ldb: K, ldc: K)
    }
}

/// Naive twin of `conv2dBackwardWeight` (Double accumulation).
// dw: [O, kh, kw, C/groups], dy: [N, Ho, Wo, O], x: [N, H, W, C]
public func conv2dBackwardWeightNaive(_ dw: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                      _ g: Conv2DGeometry) {
    g.validate()
    let H = g.inHeight, W = g.inWidth, C = g.inChannels, O = g.outChannels, Ho = g.outHeight, Wo = g.outWidth
    let Og = g.groupOutChannels, Cg = g.groupInChannels, kh = g.kernelHeight, kw = g.kernelWidth
    for o in 0..<O { for ky in 0..<kh { for kx in 0..<kw { for ci in 0..<Cg {
        let gi = o / Og
        var s = 0.0
        for n in 0..<g.batch { for oy in 0..<Ho { for ox in 0..<Wo {
            let iy = oy * g.stride - g.padTop + ky * g.dilation, ix = ox * g.stride - g.padLeft + kx * g.dilation
            if iy < 0 || iy >= H || ix < 0 || ix >= W { continue }
            s += Double(dy[((n * Ho + oy) * Wo + ox) * O + o]) * Double(x[((n * H + iy) * W + ix) * C + gi * Cg + ci])
        } } }
        dw[((o * kh + ky) * kw + kx) * Cg + ci] = Float(s)
    } } } }
}

/// Tuning of `pointwiseConvBackward`.
public enum PointwiseBackwardTuning {
    /// Bytes of dy and x rows per block (kept in L2 between the block's two products).
    nonisolated(unsafe) public static var blockBytes: Int = {
        if let v = ProcessInfo.processInfo.environment["ADNN_POINTWISE_BACKWARD_BLOCK_BYTES"].flatMap(Int.init), v > 0 { return v }
        return 256 << 10
    }()
    /// Bytes of output rows per block of `pointwiseConvForwardStatistics` (`ADNN_CONV_STATS_BLOCK_BYTES`).
    nonisolated(unsafe) public static var forwardBlockBytes: Int = {
        if let v = ProcessInfo.processInfo.environment["ADNN_CONV_STATS_BLOCK_BYTES"].flatMap(Int.init), v > 0 { return v }
        return 512 << 10
    }()
    /// Smallest output (P·O floats) for which the fused training op sums the batch statistics inside the
    /// convolution (`pointwiseConvForwardStatistics`) instead of in a pass of their own
    /// (`ADNN_CONV_STATS_MIN_OUTPUT`; a huge value turns it off, for comparisons).
    nonisolated(unsafe) public static var forwardStatisticsMinOutput: Int = {
        if let v = ProcessInfo.processInfo.environment["ADNN_CONV_STATS_MIN_OUTPUT"].flatMap(Int.init), v >= 0 { return v }
        return 1 << 18
    }()
    /// Largest weight (O·C floats) whose 1×1 convolution → batch norm → activation takes the fused training
    /// backward (`pointwiseConvBatchNormActivationApplies`); `ADNN_CONV_BN_MAX_WEIGHTS` overrides it.
    nonisolated(unsafe) public static var batchNormMaxWeights: Int = {
        if let v = ProcessInfo.processInfo.environment["ADNN_CONV_BN_MAX_WEIGHTS"].flatMap(Int.init), v >= 0 { return v }
        return 1 << 16
    }()
    /// Off (`ADNN_POINTWISE_BACKWARD_FUSED=0`): the two gradients run as two separate GEMMs, for comparisons.
    nonisolated(unsafe) public static var enabled: Bool = ProcessInfo.processInfo.environment["ADNN_POINTWISE_BACKWARD_FUSED"] != "0"
    /// Off (`ADNN_CONV_BN_BACKWARD_FUSED=0`): a training 1×1 convolution → batch norm → activation runs as two
    /// ops (`pointwiseConvBatchNormActivation` falls back to the composition), for comparisons.
    nonisolated(unsafe) public static var batchNormFused: Bool = ProcessInfo.processInfo.environment["ADNN_CONV_BN_BACKWARD_FUSED"] != "0"

    /// Rows of a block for `inChannels` + `outChannels` floats per row (a multiple of 12, at least 48).
    static func blockRows(inChannels C: Int, outChannels O: Int) -> Int {
        Swift.max(48, blockBytes / (4 * (C + O)) / 12 * 12)
    }
}

/// Whether `pointwiseConvBackward` takes both gradients of a convolution of geometry `g`: a one-group 1×1
/// convolution whose weights are small against its pixels (the expansions and projections of inverted-residual
/// blocks during training), with at least two blocks of rows per thread.
public func pointwiseConvBackwardApplies(_ g: Conv2DGeometry) -> Bool {
    PointwiseBackwardTuning.enabled && pointwiseBackwardBlocksFit(g, maxWeights: GEMMTuning.splitKMaxOutput)
}

/// The shape test both one-pass 1×1 backward kernels share: a one-group 1×1 convolution with at most
/// `maxWeights` weights (O·C) and at least two blocks of rows per thread.
private func pointwiseBackwardBlocksFit(_ g: Conv2DGeometry, maxWeights: Int) -> Bool {
    guard g.isPointwise, g.groups == 1 else { return false }
    let P = g.batch * g.outHeight * g.outWidth, C = g.inChannels, O = g.outChannels
    return O * C <= maxWeights && P >= 2 * Threading.threads * PointwiseBackwardTuning.blockRows(inChannels: C, outChannels: O)
}

/// Whether a training 1×1 convolution → batch norm → activation of geometry `g` takes
/// `pointwiseConvBatchNormActivationBackward`: a one-group 1×1 convolution with at least two blocks of rows per
/// thread and at most `PointwiseBackwardTuning.batchNormMaxWeights` weights.
public func pointwiseConvBatchNormActivationApplies(_ g: Conv2DGeometry) -> Bool {
    PointwiseBackwardTuning.batchNormFused && pointwiseBackwardBlocksFit(g, maxWeights: PointwiseBackwardTuning.batchNormMaxWeights)
}

/// Both gradients of a one-group 1×1 convolution in one pass over dy: each thread takes a contiguous range
/// of pixels and, block by block, computes dx = dy·W for the block and adds dyᵀ·x of the block to its own
/// partial dW while the block of dy is still in L2; the partials are summed in thread order (deterministic for
/// a thread count). Two GEMMs read dy from memory twice (dx, then dW); this reads it once. Overwrites dx and dw.
// dx, x: [P, C]; dw, w: [O, C]; dy: [P, O]
public func pointwiseConvBackward(_ dx: UnsafeMutablePointer<Float>, _ dw: UnsafeMutablePointer<Float>,
                                  _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                  pixels P: Int, inChannels C: Int, outChannels O: Int) {
    pointwiseBackwardBlocks(dx, dw, x, w, pixels: P, inChannels: C, outChannels: O, buffered: false) { _, rows in dy + rows.lowerBound * O }
}

/// The frame of the one-pass 1×1 backward kernels: each thread takes a contiguous range of pixels and, block by
/// block, gets the block's dy from `dyRows` (rows of dy in memory, or computed into the thread's buffer of
/// `blockRows` × O floats when `buffered`), computes dx = dy·W for the block and adds dyᵀ·x of the block to its
/// own partial dW while the block of dy is in L2; the partials are summed in thread order. Overwrites dx and dw.
// dx, x: [P, C]; dw, w: [O, C]
@inline(__always)
private func pointwiseBackwardBlocks(_ dx: UnsafeMutablePointer<Float>, _ dw: UnsafeMutablePointer<Float>,
                                     _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                     pixels P: Int, inChannels C: Int, outChannels O: Int, buffered: Bool,
                                     dyRows: (_ buffer: UnsafeMutablePointer<Float>?, _ rows: Range<Int>) -> UnsafePointer<Float>) {
    // No weights: dx = 0 (no output channel reaches it), dw is empty.
    if O * C == 0 {
        if P * C > 0 { dx.update(repeating: 0, count: P * C) }
        return
    }
    if P == 0 { dw.update(repeating: 0, count: O * C); return }
    let parts = Swift.max(1, Threading.threads)
    let blockRows = PointwiseBackwardTuning.blockRows(inChannels: C, outChannels: O)
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, (parts - 1) * O * C))
    defer { scratch.deallocate() }
    parallelChunks(parts, chunks: parts) { r in
        let buffer: UnsafeMutablePointer<Float>? = buffered ? .allocate(capacity: Swift.min(blockRows, P) * O) : nil
        defer { buffer?.deallocate() }
        for part in r {
            let p0 = part * P / parts, p1 = (part + 1) * P / parts
            let target = part == 0 ? dw : scratch + (part - 1) * O * C
            if p0 == p1 { target.update(repeating: 0, count: O * C); continue }
            var b = p0
            while b < p1 {
                let n = Swift.min(blockRows, p1 - b)
                let dy = dyRows(buffer, b..<(b + n))
                // dx[n, C] = dy[n, O] × W[O, C]
                sgemmSerial(dx + b * C, dy, w, m: n, n: C, k: O)
                // dW[O, C] (+)= dy[n, O]ᵀ × x[n, C]
                sgemmSerial(target, dy, x + b * C, m: O, n: C, k: n, transA: true, beta: b == p0 ? 0 : 1, lda: O, ldb: C)
                b += n
            }
        }
    }
    for part in 1..<parts { addRow(dw, scratch + (part - 1) * O * C, O * C) }
}

/// Both gradients of a one-group 1×1 convolution whose output `y` went through batch norm (batch statistics)
/// and an activation, from the gradient `g` at the activation's output — `pointwiseConvBackward` with the
/// batch-norm + activation input gradient (`batchNormActivationBackwardInput`) as its prologue: per block of
/// rows, dy = (w/σ)·(g·act′(z) − sumG/n − x̂·sumGXhat/n) is computed into a buffer of the thread's (in L2), then
/// dx = dy·W and dW += dyᵀ·x from there. dy is never written to memory and read back (the separate ops write
/// it once and read it once or twice). `sumG`/`sumGXhat` come from `batchNormActivationBackwardReduce` over
/// the same g and y. Overwrites dx and dw; partial dW summed in thread order as in `pointwiseConvBackward`.
// dx, x: [P, C]; dw, w: [O, C]; g, y: [P, O]; scale, shift, mean, invstd, bnWeight, sumG, sumGXhat: [O]
public func pointwiseConvBatchNormActivationBackward(_ dx: UnsafeMutablePointer<Float>, _ dw: UnsafeMutablePointer<Float>,
                                                     _ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                                     _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                                     scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                                     mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                                     bnWeight: UnsafePointer<Float>?, sumG: UnsafePointer<Float>,
                                                     sumGXhat: UnsafePointer<Float>, activation: ActivationKind?,
                                                     pixels P: Int, inChannels C: Int, outChannels O: Int) {
    let coef = UnsafeMutablePointer<Float>.allocate(capacity: 3 * O)
    defer { coef.deallocate() }
    batchNormInputCoefficients(coef, invstd: invstd, weight: bnWeight, sumG: sumG, sumGXhat: sumGXhat, rows: P, channels: O)
    pointwiseBackwardBlocks(dx, dw, x, w, pixels: P, inChannels: C, outChannels: O, buffered: true) { buffer, rows in
        // dy[rows, O]: the batch-norm + activation input gradient of these rows, into the thread's buffer
        batchNormActivationInputRows(buffer!, g, y, scale: scale, shift: shift, mean: mean, coefficients: coef,
                                     batchStatistics: true, activation: activation, rows: rows, channels: O)
        return UnsafePointer(buffer!)
    }
}

/// Forward of a one-group 1×1 convolution (no bias) with the batch-norm statistics of its output: y = x·Wᵀ,
/// and per output channel the mean and biased variance of y over all P rows. Each thread takes a contiguous
/// range of rows and, block by block, runs the product and adds the block's shifted sums (shift = the range's
/// first row, as `batchNormStatistics` shifts by the first row) while the block is in L2 — the statistics
/// pass over y from memory is gone. Ranges combine in Double (Chan et al.'s pairwise update), in thread order.
// y: [P, O], x: [P, C], w: [O, C]; mean, variance: [O]
public func pointwiseConvForwardStatistics(_ y: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>,
                                           _ variance: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                           _ w: UnsafePointer<Float>, pixels P: Int, inChannels C: Int, outChannels O: Int) {
    if O == 0 { return }
    if P == 0 { mean.update(repeating: .nan, count: O); variance.update(repeating: .nan, count: O); return }
    if C == 0 { y.update(repeating: 0, count: P * O) }
    let parts = Swift.max(1, Swift.min(Threading.threads, P))
    // Blocks of y rows (the GEMM streams x; only the block of y has to stay in L2 for the sums).
    let blockRows = Swift.max(48, PointwiseBackwardTuning.forwardBlockBytes / (4 * O) / 12 * 12)
    // Per part: shift [O] (Float), S1 [O], S2 [O] (Double).
    let shifts = UnsafeMutablePointer<Float>.allocate(capacity: parts * O)
    let sums = UnsafeMutablePointer<Double>.allocate(capacity: parts * 2 * O)
    defer { shifts.deallocate(); sums.deallocate() }
    sums.initialize(repeating: 0, count: parts * 2 * O)
    parallelChunks(parts, chunks: parts) { r in
        let acc = UnsafeMutablePointer<Float>.allocate(capacity: 2 * O)
        defer { acc.deallocate() }
        for part in r {
            let p0 = part * P / parts, p1 = (part + 1) * P / parts
            let shift = shifts + part * O, s1 = sums + part * 2 * O, s2 = s1 + O
            var b = p0
            while b < p1 {
                let n = Swift.min(blockRows, p1 - b)
                if C > 0 { sgemmSerial(y + b * O, x + b * C, w, m: n, n: O, k: C, transB: true) }
                if b == p0 { shift.update(from: y + p0 * O, count: O) }
                acc.update(repeating: 0, count: 2 * O)
                let a1 = acc, a2 = acc + O
                for row in b..<(b + n) { addShiftedSums(a1, a2, y + row * O, shift: shift, channels: O) }
                for k in 0..<O { s1[k] += Double(a1[k]); s2[k] += Double(a2[k]) }
                b += n
            }
        }
    }
    // Each part: count n_p, mean m_p = shift + S1/n_p, M2_p = S2 − S1²/n_p; combined in part order.
    let n = Double(P)
    for k in 0..<O {
        var total = 0.0
        for part in 0..<parts {
            let np = Double((part + 1) * P / parts - part * P / parts)
            total += np * (Double(shifts[part * O + k]) + sums[part * 2 * O + k] / np)
        }
        let m = total / n
        var m2 = 0.0
        for part in 0..<parts {
            let np = Double((part + 1) * P / parts - part * P / parts)
            let s1 = sums[part * 2 * O + k], s2 = sums[part * 2 * O + O + k]
            let mp = Double(shifts[part * O + k]) + s1 / np
            m2 += Swift.max(0, s2 - s1 * s1 / np) + np * (mp - m) * (mp - m)
        }
        mean[k] = Float(m)
        variance[k] = Float(m2 / n)
    }
}

/// Gradient of the convolution w.r.t. its bias: column sums of dy (overwrites db). Per-worker
/// partial sums, reduced in a fixed order (deterministic for a given thread count).
// db: [O], dy: [P, O] with P = N·Ho·Wo
public func conv2dBackwardBias(_ db: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, pixels P: Int, channels O: Int) {
    db.update(repeating: 0, count: O)
    if P == 0 { return }
    let workers = Swift.max(1, Swift.min(Threading.threads, P * O / 65536))
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: workers * O)
    defer { partial.deallocate() }
    partial.update(repeating: 0, count: workers * O)
    let per = (P + workers - 1) / workers
    parallelFor(workers) { r in
        for wk in r {
            let dst = partial + wk * O
            var p = wk * per
            let end = Swift.min(P, p + per)
            while p < end { addRow(dst, dy + p * O, O); p += 1 }
        }
    }
    for wk in 0..<workers { addRow(db, partial + wk * O, O) }
}

/// Naive twin of `conv2dBackwardBias` (Double accumulation).
// db: [O], dy: [P, O]
public func conv2dBackwardBiasNaive(_ db: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, pixels P: Int, channels O: Int) {
    for o in 0..<O {
        var s = 0.0
        for p in 0..<P { s += Double(dy[p * O + o]) }
        db[o] = Float(s)
    }
}
