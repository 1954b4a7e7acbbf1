import Foundation

// Separable image resampling with PyTorch `F.interpolate` semantics (bilinear / bicubic,
// align_corners, antialias). Used by the `resize` op and by the data pipeline.

/// Interpolation filter of `makeResizeTable` / `resizeNHWC`.
public enum ResizeMode: Sendable {
    /// Linear interpolation per axis (PyTorch `mode="bilinear"`; with antialias a triangle filter).
    case bilinear
    /// Cubic convolution per axis (PyTorch `mode="bicubic"`: a = −0.75; with antialias a = −0.5).
    case bicubic
}

/// Per-axis resampling table: output `i` reads `taps` inputs `index[i*taps + t]` (already clamped
/// to `[0, inSize)`) with weight `weight[i*taps + t]`. Unused taps carry weight 0.
public struct ResizeTable: Sendable {
    /// Input length along the axis.
    public let inSize: Int
    /// Output length along the axis.
    public let outSize: Int
    /// Inputs read per output.
    public let taps: Int
    /// `outSize × taps` input indices, each in `0..<inSize`.
    public let index: [Int32]
    /// `outSize × taps` weights.
    public let weight: [Float]

    /// A table from explicit indices and weights (indices must lie in `0..<inSize`).
    public init(inSize: Int, outSize: Int, taps: Int, index: [Int32], weight: [Float]) {
        precondition(inSize > 0 && outSize > 0 && taps > 0,
                     "ResizeTable: sizes must be positive (in \(inSize), out \(outSize), taps \(taps))")
        precondition(index.count == outSize * taps && weight.count == outSize * taps,
                     "ResizeTable: expected \(outSize * taps) indices and weights, got \(index.count) and \(weight.count)")
        precondition(index.allSatisfy { $0 >= 0 && Int($0) < inSize }, "ResizeTable: index outside 0..<\(inSize)")
        self.inSize = inSize
        self.outSize = outSize
        self.taps = taps
        self.index = index
        self.weight = weight
    }

    /// The adjoint table (`inSize` and `outSize` swapped): applying it computes the gradient of
    /// the resampling. Repeated (clamped) indices are merged; taps = the largest fan-out.
    public func transposed() -> ResizeTable {
        var entries = [[(Int32, Float)]](repeating: [], count: inSize)
        for i in 0..<outSize {
            for t in 0..<taps {
                let w = weight[i * taps + t]
                if w == 0 { continue }
                let p = Int(index[i * taps + t])
                if let last = entries[p].last, last.0 == Int32(i) {
                    entries[p][entries[p].count - 1].1 += w
                } else {
                    entries[p].append((Int32(i), w))
                }
            }
        }
        let tt = Swift.max(1, entries.map { $0.count }.max() ?? 1)
        var idx = [Int32](repeating: 0, count: inSize * tt)
        var wt = [Float](repeating: 0, count: inSize * tt)
        for p in 0..<inSize {
            for (k, e) in entries[p].enumerated() { idx[p * tt + k] = e.0; wt[p * tt + k] = e.1 }
        }
        return ResizeTable(inSize: outSize, outSize: inSize, taps: tt, index: idx, weight: wt)
    }
}

/// PyTorch `area_pixel_compute_scale` (sizes given, no scale factor), in Float as PyTorch does.
@inline(__always)
private func areaScale(_ inSize: Int, _ outSize: Int, _ alignCorners: Bool) -> Float {
    if alignCorners { return outSize > 1 ? Float(inSize - 1) / Float(outSize - 1) : 0 }
    return Float(inSize) / Float(outSize)
}

/// Cubic convolution kernel for |x| ≤ 1.
@inline(__always)
private func cubic1(_ x: Float, _ a: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }

/// Cubic convolution kernel for 1 < |x| < 2.
@inline(__always)
private func cubic2(_ x: Float, _ a: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }

/// Builds the resampling table of one axis, matching PyTorch
/// `F.interpolate(size=…, mode=…, align_corners=…, antialias=…)` on float tensors:
/// - bilinear: source `src = (i + 0.5)·in/out − 0.5` (negative clamped to 0), or
///   `i·(in−1)/(out−1)` with `alignCorners`; taps `floor(src)` and the next index (clamped).
/// - bicubic: the same source without the clamp, 4 taps `floor(src) − 1 … + 2` clamped to the
///   border, cubic convolution with a = −0.75.
/// - `antialias`: PyTorch's (= PIL's) support-scaled filter centred at `(i + 0.5)·scale`: triangle
///   (support 1) or cubic a = −0.5 (support 2), stretched by `scale` when downscaling, weights
///   normalised to sum 1, taps outside the image dropped.
public func makeResizeTable(inSize: Int, outSize: Int, mode: ResizeMode, alignCorners: Bool = false,
                            antialias: Bool = false) -> ResizeTable {
    precondition(inSize > 0 && outSize > 0, "makeResizeTable: sizes must be positive (in \(inSize), out \(outSize))")
    let scale = areaScale(inSize, outSize, alignCorners)
    if antialias {
        let interpSize = mode == .bilinear ? 2 : 4
        let support: Float = scale >= 1 ? Float(Double(interpSize) * 0.5 * Double(scale)) : Float(interpSize) * 0.5
        let taps = Int(Double(support).rounded(.up)) * 2 + 1
        let invScale: Float = scale >= 1 ? Float(1.0 / Double(scale)) : 1
        let filter: (Float) -> Float
        switch mode {
        case .bilinear:
            filter = { x in let ax = Swift.abs(x); return ax < 1 ? 1 - ax : 0 }
        case .bicubic:
            filter = { x in
                let ax = Swift.abs(x)
                if ax < 1 { return cubic1(ax, -0.5) }
                if ax < 2 { return cubic2(ax, -0.5) }
                return 0
            }
        }
        var index = [Int32](repeating: 0, count: outSize * taps)
        var weight = [Float](repeating: 0, count: outSize * taps)
        for i in 0..<outSize {
            let center = Float(Double(scale) * (Double(i) + 0.5))
            let xmin = Swift.max(Int(Double(center) - Double(support) + 0.5), 0)
            var xsize = Swift.min(Int(Double(center) + Double(support) + 0.5), inSize) - xmin
            xsize = Swift.min(Swift.max(xsize, 0), taps)
            var total: Float = 0
            for j in 0..<xsize {
                let w = filter(Float((Double(Float(j + xmin) - center) + 0.5) * Double(invScale)))
                weight[i * taps + j] = w
                total += w
            }
            for j in 0..<taps {
                index[i * taps + j] = Int32(Swift.min(xmin + Swift.min(j, Swift.max(xsize - 1, 0)), inSize - 1))
                if total != 0 && j < xsize { weight[i * taps + j] /= total }
            }
        }
        return ResizeTable(inSize: inSize, outSize: outSize, taps: taps, index: index, weight: weight)
    }
    let taps = mode == .bilinear ? 2 : 4
    var index = [Int32](repeating: 0, count: outSize * taps)
    var weight = [Float](repeating: 0, count: outSize * taps)
    for i in 0..<outSize {
        var src = alignCorners ? scale * Float(i) : scale * (Float(i) + 0.5) - 0.5
        if mode == .bilinear && src < 0 { src = 0 }
        // PyTorch guard_index_and_lambda.
        let i0 = Swift.min(Int(src.rounded(.down)), inSize - 1)
        let t = Swift.min(Swift.max(src - Float(i0), 0), 1)
        switch mode {
        case .bilinear:
            index[i * 2] = Int32(i0)
            index[i * 2 + 1] = Int32(i0 < inSize - 1 ? i0 + 1 : i0)
            weight[i * 2] = 1 - t
            weight[i * 2 + 1] = t
        case .bicubic:
            let a: Float = -0.75
            let c: [Float] = [cubic2(t + 1, a), cubic1(t, a), cubic1(1 - t, a), cubic2(2 - t, a)]
            for k in 0..<4 {
                index[i * 4 + k] = Int32(Swift.min(Swift.max(i0 - 1 + k, 0), inSize - 1))
                weight[i * 4 + k] = c[k]
            }
        }
    }
    return ResizeTable(inSize: inSize, outSize: outSize, taps: taps, index: index, weight: weight)
}

/// `dst[k] (=|+=) w · src[k]` for `k < n`, SIMD16.
@inline(__always)
private func axpyRow(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ w: Float, _ n: Int, first: Bool) {
    var k = 0
    let wv = SIMD16<Float>(repeating: w)
    if first {
        while k + 16 <= n {
            UnsafeMutableRawPointer(dst + k).storeBytes(of: wv * UnsafeRawPointer(src + k).loadUnaligned(as: SIMD16<Float>.self),
                                                        as: SIMD16<Float>.self)
            k += 16
        }
        while k < n { dst[k] = w * src[k]; k += 1 }
    } else {
        while k + 16 <= n {
            let v = UnsafeRawPointer(dst + k).loadUnaligned(as: SIMD16<Float>.self)
                + wv * UnsafeRawPointer(src + k).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(dst + k).storeBytes(of: v, as: SIMD16<Float>.self)
            k += 16
        }
        while k < n { dst[k] += w * src[k]; k += 1 }
    }
}

/// Separable resize of channels-last images: `out[b, i, j, :] = Σ_r Σ_s rows.w[i,r] · cols.w[j,s] ·
/// x[b, rows.index[i,r], cols.index[j,s], :]`.
///
/// Per output row: a vertical pass blends the input rows into one scratch row of `w·c` floats
/// (SIMD over the whole row), then a horizontal pass blends pixels (SIMD16 over channels when
/// `c ≥ 16`, scalar otherwise). Work is split over (image, output row); each worker allocates
/// one scratch row. An `[H, W, C]` image is `n = 1`.
// out: [n, rows.outSize, cols.outSize, c], x: [n, h, w, c]
public func resizeNHWC(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                       rows: ResizeTable, cols: ResizeTable) {
    precondition(rows.inSize == h && cols.inSize == w,
                 "resizeNHWC: tables are for \(rows.inSize)×\(cols.inSize) input, image is \(h)×\(w)")
    precondition(n >= 0 && c >= 0, "resizeNHWC: negative batch or channel count")
    let oh = rows.outSize, ow = cols.outSize
    if n == 0 || c == 0 { return }
    let rowLen = w * c
    let rt = rows.taps, ct = cols.taps
    let work = rt * rowLen + ct * ow * c
    rows.index.withUnsafeBufferPointer { ri in rows.weight.withUnsafeBufferPointer { rw in
    cols.index.withUnsafeBufferPointer { ci in cols.weight.withUnsafeBufferPointer { cw in
        parallelFor(n * oh, grain: Swift.max(1, 65536 / Swift.max(1, work))) { r in
            let tmp = UnsafeMutablePointer<Float>.allocate(capacity: rowLen)
            defer { tmp.deallocate() }
            for job in r {
                let b = job / oh, i = job % oh
                // Vertical pass: tmp = Σ_r w_r · x[b, idx_r, :, :].
                let img = x + b * h * rowLen
                var first = true
                for t in 0..<rt {
                    let wt = rw[i * rt + t]
                    if wt == 0 && !first { continue }
                    axpyRow(tmp, img + Int(ri[i * rt + t]) * rowLen, wt, rowLen, first: first)
                    first = false
                }
                // Horizontal pass.
                let dst = out + (b * oh + i) * ow * c
                if c >= 16 {
                    for j in 0..<ow {
                        let o = dst + j * c
                        var ch = 0
                        while ch < c {
                            let c0 = Swift.min(ch, c - 16)      // last chunk overlaps: same values rewritten
                            var acc = SIMD16<Float>(repeating: 0)
                            for t in 0..<ct {
                                let wt = cw[j * ct + t]
                                if wt == 0 { continue }
                                acc += SIMD16<Float>(repeating: wt)
                                    * UnsafeRawPointer(tmp + Int(ci[j * ct + t]) * c + c0).loadUnaligned(as: SIMD16<Float>.self)
                            }
                            UnsafeMutableRawPointer(o + c0).storeBytes(of: acc, as: SIMD16<Float>.self)
                            ch += 16
                        }
                    }
                } else if c == 1 {
                    for j in 0..<ow {
                        var s: Float = 0
                        for t in 0..<ct { s += cw[j * ct + t] * tmp[Int(ci[j * ct + t])] }
                        dst[j] = s
                    }
                } else if c == 3 {
                    for j in 0..<ow {
                        var s0: Float = 0, s1: Float = 0, s2: Float = 0
                        for t in 0..<ct {
                            let wt = cw[j * ct + t]
                            let src = tmp + Int(ci[j * ct + t]) * 3
                            s0 += wt * src[0]; s1 += wt * src[1]; s2 += wt * src[2]
                        }
                        dst[j * 3] = s0; dst[j * 3 + 1] = s1; dst[j * 3 + 2] = s2
                    }
                } else {
                    for j in 0..<ow {
                        let o = dst + j * c
                        for ch in 0..<c { o[ch] = 0 }
                        for t in 0..<ct {
                            let wt = cw[j * ct + t]
                            if wt == 0 { continue }
                            let src = tmp + Int(ci[j * ct + t]) * c
                            for ch in 0..<c { o[ch] += wt * src[ch] }
                        }
                    }
                }
            }
        }
    } } } }
}

/// Gradient of `resizeNHWC` with respect to its input: `gx = Mᵀ · gy`, computed as a forward
/// resize with the transposed tables (a gather, so rows split across workers never collide).
/// Overwrites `gx`.
// gx: [n, h, w, c], gy: [n, rows.outSize, cols.outSize, c]
public func resizeNHWCBackward(_ gx: UnsafeMutablePointer<Float>, _ gy: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                               rows: ResizeTable, cols: ResizeTable) {
    precondition(rows.inSize == h && cols.inSize == w,
                 "resizeNHWCBackward: tables are for \(rows.inSize)×\(cols.inSize) input, image is \(h)×\(w)")
    resizeNHWC(gx, gy, n: n, h: rows.outSize, w: cols.outSize, c: c, rows: rows.transposed(), cols: cols.transposed())
}

/// Naive twin of `resizeNHWC`: the direct 2-D weighted sum per output element (Double accumulation).
// out: [n, rows.outSize, cols.outSize, c], x: [n, h, w, c]
public func resizeNHWCNaive(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                            rows: ResizeTable, cols: ResizeTable) {
    precondition(rows.inSize == h && cols.inSize == w, "resizeNHWCNaive: table sizes do not match the image")
    let oh = rows.outSize, ow = cols.outSize
    for b in 0..<n { for i in 0..<oh { for j in 0..<ow { for ch in 0..<c {
        var s = 0.0
        for r in 0..<rows.taps {
            for t in 0..<cols.taps {
                let y = Int(rows.index[i * rows.taps + r]), xx = Int(cols.index[j * cols.taps + t])
                s += Double(rows.weight[i * rows.taps + r]) * Double(cols.weight[j * cols.taps + t])
                    * Double(x[((b * h + y) * w + xx) * c + ch])
            }
        }
        out[((b * oh + i) * ow + j) * c + ch] = Float(s)
    } } } }
}

/// Naive twin of `resizeNHWCBackward`: scatters each output gradient through the 2-D weights.
// gx: [n, h, w, c], gy: [n, rows.outSize, cols.outSize, c]
public func resizeNHWCBackwardNaive(_ gx: UnsafeMutablePointer<Float>, _ gy: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                                    rows: ResizeTable, cols: ResizeTable) {
    precondition(rows.inSize == h && cols.inSize == w, "resizeNHWCBackwardNaive: table sizes do not match the image")
    let oh = rows.outSize, ow = cols.outSize
    var acc = [Double](repeating: 0, count: n * h * w * c)
    for b in 0..<n { for i in 0..<oh { for j in 0..<ow { for ch in 0..<c {
        let g = Double(gy[((b * oh + i) * ow + j) * c + ch])
        for r in 0..<rows.taps {
            for t in 0..<cols.taps {
                let y = Int(rows.index[i * rows.taps + r]), xx = Int(cols.index[j * cols.taps + t])
                acc[((b * h + y) * w + xx) * c + ch] += Double(rows.weight[i * rows.taps + r]) * Double(cols.weight[j * cols.taps + t]) * g
            }
        }
    } } } }
    for k in 0..<acc.count { gx[k] = Float(acc[k]) }
}
