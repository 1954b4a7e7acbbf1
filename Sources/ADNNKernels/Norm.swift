import Foundation

// Batch-norm and layer-norm kernels over channels-last data viewed as [rows, C].
//
// Batch norm reduces over rows (N·H·W) for every channel: rows are split into one contiguous part
// per worker; each part accumulates blocks of 64 rows in Float SIMD16 lanes across C and flushes
// every block into per-part Double partial sums, which are combined in Double at the end. Statistics
// are shifted by the first row (x − x₀) so the variance does not cancel catastrophically.
// Layer norm reduces over C for every row: rows are split over workers, each row is two SIMD passes
// (mean, then centred variance) plus a fused normalise+affine pass.
// Every kernel has a `...Naive` twin (plain loops, Double accumulation) compared in tests.

@inline(__always) private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always) private func store16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Rows per Float accumulation block before flushing into Double partial sums.
private let flushRows = 64

/// Number of contiguous row parts for a reduction over `rows × channels` elements.
@inline(__always) private func partCount(rows: Int, channels: Int) -> Int {
    Swift.max(1, Swift.min(Threading.threads, Swift.min(rows, rows * channels / 16384)))
}

/// Column sums over a [rows, C] layout of two per-element quantities `f(row pointers, c)` → (a, b),
/// accumulated in Float blocks and Double partials; writes Double totals into `outA`, `outB` ([C]).
/// `body(row, acc1, acc2)` must add one row's contributions into the Float accumulators.
@inline(__always)
func columnReduce2(rows: Int, channels: Int, _ outA: UnsafeMutablePointer<Double>, _ outB: UnsafeMutablePointer<Double>,
                           _ body: (Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
    let c = channels
    let parts = partCount(rows: rows, channels: c)
    let chunk = (rows + parts - 1) / parts
    let partial = UnsafeMutablePointer<Double>.allocate(capacity: parts * 2 * c)
    let acc = UnsafeMutablePointer<Float>.allocate(capacity: parts * 2 * c)
    defer { partial.deallocate(); acc.deallocate() }
    partial.initialize(repeating: 0, count: parts * 2 * c)
    parallelFor(parts) { r in
        for part in r {
            let lo = part * chunk, hi = Swift.min(rows, lo + chunk)
            let da = partial + part * 2 * c, db = da + c
            let fa = acc + part * 2 * c, fb = fa + c
            var b = lo
            while b < hi {
                let e = Swift.min(hi, b + flushRows)
                fa.update(repeating: 0, count: 2 * c)
                for row in b..<e { body(row, fa, fb) }
                for k in 0..<c { da[k] += Double(fa[k]); db[k] += Double(fb[k]) }
                b = e
            }
        }
    }
    for k in 0..<c {
        var a = 0.0, bb = 0.0
        for part in 0..<parts { a += partial[part * 2 * c + k]; bb += partial[part * 2 * c + c + k] }
        outA[k] = a; outB[k] = bb
    }
}

// MARK: - Batch norm

/// Per-channel mean and biased variance (divide by `rows`) of a [rows, C] array.
// mean, variance: [C], x: [rows, C]
public func batchNormStatistics(_ mean: UnsafeMutablePointer<Float>, _ variance: UnsafeMutablePointer<Float>,
                                _ x: UnsafePointer<Float>, rows: Int, channels: Int) {
    let c = channels
    if c == 0 { return }
    if rows == 0 {
        mean.update(repeating: .nan, count: c); variance.update(repeating: .nan, count: c); return
    }
    let s1 = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c), s2 = s1 + c
    defer { s1.deallocate() }
    let shift = x  // first row
    columnReduce2(rows: rows, channels: c, s1, s2) { row, a, b in addShiftedSums(a, b, x + row * c, shift: shift, channels: c) }
    let n = Double(rows)
    for k in 0..<c {
        let m = s1[k] / n
        mean[k] = Float(Double(shift[k]) + m)
        variance[k] = Float(Swift.max(0, s2[k] / n - m * m))
    }
}

/// a[k] += row[k] − shift[k] and b[k] += (row[k] − shift[k])² over one row of `c` channels: the shifted sums
/// behind the batch statistics (`batchNormStatistics`, `pointwiseConvForwardStatistics`).
@inline(__always)
func addShiftedSums(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, _ row: UnsafePointer<Float>,
                    shift: UnsafePointer<Float>, channels c: Int) {
    var k = 0
    while k + 16 <= c {
        let d = load16(row + k) - load16(shift + k)
        store16(a + k, load16(a + k) + d)
        store16(b + k, load16(b + k) + d * d)
        k += 16
    }
    while k < c { let d = row[k] - shift[k]; a[k] += d; b[k] += d * d; k += 1 }
}

/// Naive twin of `batchNormStatistics` (two passes, Double).
public func batchNormStatisticsNaive(_ mean: UnsafeMutablePointer<Float>, _ variance: UnsafeMutablePointer<Float>,
                                     _ x: UnsafePointer<Float>, rows: Int, channels: Int) {
    for k in 0..<channels {
        var s = 0.0
        for r in 0..<rows { s += Double(x[r * channels + k]) }
        let m = s / Double(rows)
        var v = 0.0
        for r in 0..<rows { let d = Double(x[r * channels + k]) - m; v += d * d }
        mean[k] = Float(m)
        variance[k] = Float(v / Double(rows))
    }
}

/// Fused per-channel affine map `out = x · scale[c] + shift[c]` (the normalise+affine pass of batch
/// norm with scale = w/σ, shift = b − μ·w/σ; also the eval-mode input gradient with shift = 0).
/// `out` may alias `x`.
// out, x: [rows, C], scale, shift: [C]
public func batchNormForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                             scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, rows: Int, channels: Int) {
    let c = channels
    if c == 1 {
        let s = scale[0], t = shift[0]
        parallelFor(rows, grain: 1 << 15) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound { store16(out + i, load16(x + i) * s + t); i += 16 }
            while i < r.upperBound { out[i] = x[i] * s + t; i += 1 }
        }
        return
    }
    parallelFor(rows, grain: Swift.max(1, 16384 / Swift.max(c, 1))) { r in
        for row in r {
            let xr = x + row * c, o = out + row * c
            var k = 0
            while k + 16 <= c { store16(o + k, load16(xr + k) * load16(scale + k) + load16(shift + k)); k += 16 }
            while k < c { o[k] = xr[k] * scale[k] + shift[k]; k += 1 }
        }
    }
}

/// Naive twin of `batchNormForward`.
public func batchNormForwardNaive(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                  scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, rows: Int, channels: Int) {
    for r in 0..<rows {
        for k in 0..<channels {
            out[r * channels + k] = Float(Double(x[r * channels + k]) * Double(scale[k]) + Double(shift[k]))
        }
    }
}

/// Backward reductions of batch norm: `sumG[c] = Σ g`, `sumGXhat[c] = Σ g · (x − mean[c]) · invstd[c]`
/// over all rows (these are also dbias and dweight).
// sumG, sumGXhat, mean, invstd: [C], g, x: [rows, C]
public func batchNormBackwardReduce(_ sumG: UnsafeMutablePointer<Float>, _ sumGXhat: UnsafeMutablePointer<Float>,
                                    _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                    mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>, rows: Int, channels: Int) {
    batchNormBackwardSums(sumG, sumGXhat, invstd: invstd, rows: rows, channels: channels) { s1, s2 in
        let c = channels
        columnReduce2(rows: rows, channels: c, s1, s2) { row, a, b in
            let gr = g + row * c, xr = x + row * c
            var k = 0
            while k + 16 <= c {
                let gv = load16(gr + k)
                store16(a + k, load16(a + k) + gv)
                store16(b + k, load16(b + k) + gv * (load16(xr + k) - load16(mean + k)))
                k += 16
            }
            while k < c { a[k] += gr[k]; b[k] += gr[k] * (xr[k] - mean[k]); k += 1 }
        }
    }
}

/// The frame of the batch-norm backward reductions (`batchNormBackwardReduce`, `batchNormActivationBackwardReduce`):
/// `accumulate` fills the Double column sums Σ g' and Σ g'·(x − mean) (g' the gradient at the batch-norm output);
/// they come out as `sumG` and `sumGXhat` = Σ g'·(x − mean)·invstd. No rows: both zero.
// sumG, sumGXhat, invstd: [C]
@inline(__always)
func batchNormBackwardSums(_ sumG: UnsafeMutablePointer<Float>, _ sumGXhat: UnsafeMutablePointer<Float>,
                           invstd: UnsafePointer<Float>, rows: Int, channels c: Int,
                           accumulate: (UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Void) {
    if c == 0 { return }
    if rows == 0 {
        sumG.update(repeating: 0, count: c); sumGXhat.update(repeating: 0, count: c); return
    }
    let s1 = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c), s2 = s1 + c
    defer { s1.deallocate() }
    accumulate(s1, s2)
    for k in 0..<c {
        sumG[k] = Float(s1[k])
        sumGXhat[k] = Float(s2[k] * Double(invstd[k]))
    }
}

/// Naive twin of `batchNormBackwardReduce` (Double).
public func batchNormBackwardReduceNaive(_ sumG: UnsafeMutablePointer<Float>, _ sumGXhat: UnsafeMutablePointer<Float>,
                                         _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                         mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>, rows: Int, channels: Int) {
    for k in 0..<channels {
        var a = 0.0, b = 0.0
        for r in 0..<rows {
            let gv = Double(g[r * channels + k])
            a += gv
            b += gv * (Double(x[r * channels + k]) - Double(mean[k])) * Double(invstd[k])
        }
        sumG[k] = Float(a); sumGXhat[k] = Float(b)
    }
}

/// Training-mode batch-norm input gradient (statistics from the batch):
/// `dx = (w/σ) · (g − sumG/n − x̂ · sumGXhat/n)` with x̂ = (x − μ)/σ, n = rows, w = 1 when `weight` is nil.
// dx, g, x: [rows, C]; mean, invstd, weight, sumG, sumGXhat: [C]
public func batchNormBackwardInput(_ dx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                   mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                   sumG: UnsafePointer<Float>, sumGXhat: UnsafePointer<Float>, rows: Int, channels: Int) {
    let c = channels
    if c == 0 || rows == 0 { return }
    // dx = A·g + B·(x − μ) + D per channel.
    let coef = UnsafeMutablePointer<Float>.allocate(capacity: 3 * c)
    defer { coef.deallocate() }
    batchNormInputCoefficients(coef, invstd: invstd, weight: weight, sumG: sumG, sumGXhat: sumGXhat, rows: rows, channels: c)
    let ca = coef, cb = coef + c, cd = coef + 2 * c
    parallelFor(rows, grain: Swift.max(1, 16384 / c)) { rr in
        for row in rr {
            let gr = g + row * c, xr = x + row * c, o = dx + row * c
            var k = 0
            while k + 16 <= c {
                let v = load16(ca + k) * load16(gr + k) + load16(cb + k) * (load16(xr + k) - load16(mean + k)) + load16(cd + k)
                store16(o + k, v)
                k += 16
            }
            while k < c { o[k] = ca[k] * gr[k] + cb[k] * (xr[k] - mean[k]) + cd[k]; k += 1 }
        }
    }
}

/// The per-channel coefficients of a batch-norm input gradient `dx = A·g + B·(x − μ) + D` ([3, C]: A, B, D):
/// A = w/σ, B = −A/σ · sumGXhat/n, D = −A · sumG/n with n = rows (w = 1 when `weight` is nil); B = D = 0 when
/// the sums are nil (running statistics: constants).
// coef: [3, C]; invstd, weight, sumG, sumGXhat: [C]
func batchNormInputCoefficients(_ coef: UnsafeMutablePointer<Float>, invstd: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                sumG: UnsafePointer<Float>?, sumGXhat: UnsafePointer<Float>?, rows: Int, channels c: Int) {
    let n = Double(rows)
    for k in 0..<c {
        let r = Double(invstd[k]), a = Double(weight?[k] ?? 1) * r
        coef[k] = Float(a)
        coef[c + k] = sumGXhat.map { Float(-a * r * Double($0[k]) / n) } ?? 0
        coef[2 * c + k] = sumG.map { Float(-a * Double($0[k]) / n) } ?? 0
    }
}

/// Naive twin of `batchNormBackwardInput` (Double).
public func batchNormBackwardInputNaive(_ dx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                        mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                        sumG: UnsafePointer<Float>, sumGXhat: UnsafePointer<Float>, rows: Int, channels: Int) {
    let n = Double(rows)
    for r in 0..<rows {
        for k in 0..<channels {
            let i = r * channels + k
            let s = Double(invstd[k])
            let xhat = (Double(x[i]) - Double(mean[k])) * s
            let w = Double(weight?[k] ?? 1)
            dx[i] = Float(w * s * (Double(g[i]) - Double(sumG[k]) / n - xhat * Double(sumGXhat[k]) / n))
        }
    }
}

// MARK: - Layer norm

/// Layer norm over the last axis: per row μ, σ² (biased), `out = (x − μ)/√(σ² + eps) · w + b`
/// (w = 1, b = 0 when nil). Writes the row mean and 1/√(σ² + eps) for the backward pass.
// out, x: [rows, D]; mean, rstd: [rows]; weight, bias: [D]
public func layerNormForward(_ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                             rstd: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
                             rows: Int, dim: Int, eps: Float) {
    let d = dim
    if d == 0 { return }
    parallelFor(rows, grain: Swift.max(1, 8192 / d)) { r in
        for row in r {
            let xr = x + row * d, o = out + row * d
            var acc = SIMD16<Float>(repeating: 0)
            var k = 0
            while k + 16 <= d { acc += load16(xr + k); k += 16 }
            var s = Double(acc.sum())
            while k < d { s += Double(xr[k]); k += 1 }
            let m = Float(s / Double(d))
            let mv = SIMD16<Float>(repeating: m)
            acc = SIMD16<Float>(repeating: 0)
            k = 0
            while k + 16 <= d { let t = load16(xr + k) - mv; acc += t * t; k += 16 }
            var v = Double(acc.sum())
            while k < d { let t = Double(xr[k] - m); v += t * t; k += 1 }
            let rs = Float(1 / (v / Double(d) + Double(eps)).squareRoot())
            mean[row] = m; rstd[row] = rs
            k = 0
            switch (weight, bias) {
            case let (w?, b?):
                while k + 16 <= d { store16(o + k, (load16(xr + k) - mv) * rs * load16(w + k) + load16(b + k)); k += 16 }
                while k < d { o[k] = (xr[k] - m) * rs * w[k] + b[k]; k += 1 }
            case let (w?, nil):
                while k + 16 <= d { store16(o + k, (load16(xr + k) - mv) * rs * load16(w + k)); k += 16 }
                while k < d { o[k] = (xr[k] - m) * rs * w[k]; k += 1 }
            case let (nil, b?):
                while k + 16 <= d { store16(o + k, (load16(xr + k) - mv) * rs + load16(b + k)); k += 16 }
                while k < d { o[k] = (xr[k] - m) * rs + b[k]; k += 1 }
            case (nil, nil):
                while k + 16 <= d { store16(o + k, (load16(xr + k) - mv) * rs); k += 16 }
                while k < d { o[k] = (xr[k] - m) * rs; k += 1 }
            }
        }
    }
}

/// Naive twin of `layerNormForward` (two passes, Double).
public func layerNormForwardNaive(_ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                                  rstd: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                  weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
                                  rows: Int, dim: Int, eps: Float) {
    for r in 0..<rows {
        var s = 0.0
        for k in 0..<dim { s += Double(x[r * dim + k]) }
        let m = s / Double(dim)
        var v = 0.0
        for k in 0..<dim { let t = Double(x[r * dim + k]) - m; v += t * t }
        let rs = 1 / (v / Double(dim) + Double(eps)).squareRoot()
        mean[r] = Float(m); rstd[r] = Float(rs)
        for k in 0..<dim {
            let y = (Double(x[r * dim + k]) - m) * rs * Double(weight?[k] ?? 1) + Double(bias?[k] ?? 0)
            out[r * dim + k] = Float(y)
        }
    }
}

/// Fused layer-norm backward. With x̂ = (x − μ)·rstd and ĝ = g·w:
/// `dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ·x̂))`, `dweight = Σ_rows g·x̂`, `dbias = Σ_rows g`.
/// Any of `dx`, `dweight`, `dbias` may be nil to skip it.
// dx, g, x: [rows, D]; mean, rstd: [rows]; weight, dweight, dbias: [D]
public func layerNormBackward(_ dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                              dbias: UnsafeMutablePointer<Float>?, _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                              mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                              rows: Int, dim: Int) {
    let d = dim
    if d == 0 { return }
    if let dx {
        let invD = 1 / Float(d)
        parallelFor(rows, grain: Swift.max(1, 8192 / d)) { r in
            for row in r {
                let gr = g + row * d, xr = x + row * d, o = dx + row * d
                let mv = SIMD16<Float>(repeating: mean[row]), rs = rstd[row]
                var a1 = SIMD16<Float>(repeating: 0), a2 = SIMD16<Float>(repeating: 0)
                var k = 0
                var s1: Float = 0, s2: Float = 0
                if let w = weight {
                    while k + 16 <= d {
                        let gw = load16(gr + k) * load16(w + k)
                        a1 += gw; a2 += gw * (load16(xr + k) - mv) * rs; k += 16
                    }
                    s1 = a1.sum(); s2 = a2.sum()
                    while k < d { let gw = gr[k] * w[k]; s1 += gw; s2 += gw * (xr[k] - mean[row]) * rs; k += 1 }
                } else {
                    while k + 16 <= d {
                        let gw = load16(gr + k)
                        a1 += gw; a2 += gw * (load16(xr + k) - mv) * rs; k += 16
                    }
                    s1 = a1.sum(); s2 = a2.sum()
                    while k < d { let gw = gr[k]; s1 += gw; s2 += gw * (xr[k] - mean[row]) * rs; k += 1 }
                }
                let c1 = s1 * invD, c2 = s2 * invD
                k = 0
                if let w = weight {
                    while k + 16 <= d {
                        let xh = (load16(xr + k) - mv) * rs
                        store16(o + k, rs * (load16(gr + k) * load16(w + k) - c1 - xh * c2)); k += 16
                    }
                    while k < d { let xh = (xr[k] - mean[row]) * rs; o[k] = rs * (gr[k] * w[k] - c1 - xh * c2); k += 1 }
                } else {
                    while k + 16 <= d {
                        let xh = (load16(xr + k) - mv) * rs
                        store16(o + k, rs * (load16(gr + k) - c1 - xh * c2)); k += 16
                    }
                    while k < d { let xh = (xr[k] - mean[row]) * rs; o[k] = rs * (gr[k] - c1 - xh * c2); k += 1 }
                }
            }
        }
    }
    if dweight != nil || dbias != nil {
        let sw = UnsafeMutablePointer<Double>.allocate(capacity: 2 * d), sb = sw + d
        defer { sw.deallocate() }
        columnReduce2(rows: rows, channels: d, sw, sb) { row, a, b in
            let gr = g + row * d, xr = x + row * d
            let mv = SIMD16<Float>(repeating: mean[row]), rs = rstd[row]
            var k = 0
            while k + 16 <= d {
                let gv = load16(gr + k)
                store16(a + k, load16(a + k) + gv * (load16(xr + k) - mv) * rs)
                store16(b + k, load16(b + k) + gv)
                k += 16
            }
            while k < d { a[k] += gr[k] * (xr[k] - mean[row]) * rs; b[k] += gr[k]; k += 1 }
        }
        if let dweight { for k in 0..<d { dweight[k] = Float(sw[k]) } }
        if let dbias { for k in 0..<d { dbias[k] = Float(sb[k]) } }
    }
}

/// Naive twin of `layerNormBackward` (Double).
public func layerNormBackwardNaive(_ dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                                   dbias: UnsafeMutablePointer<Float>?, _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                   mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                   rows: Int, dim: Int) {
    var dw = [Double](repeating: 0, count: dim), db = [Double](repeating: 0, count: dim)
    for r in 0..<rows {
        let m = Double(mean[r]), rs = Double(rstd[r])
        var s1 = 0.0, s2 = 0.0
        for k in 0..<dim {
            let i = r * dim + k
            let xh = (Double(x[i]) - m) * rs, gw = Double(g[i]) * Double(weight?[k] ?? 1)
            s1 += gw; s2 += gw * xh
            dw[k] += Double(g[i]) * xh; db[k] += Double(g[i])
        }
        if let dx {
            for k in 0..<dim {
                let i = r * dim + k
                let xh = (Double(x[i]) - m) * rs, gw = Double(g[i]) * Double(weight?[k] ?? 1)
                dx[i] = Float(rs * (gw - s1 / Double(dim) - xh * s2 / Double(dim)))
            }
        }
    }
    if let dweight { for k in 0..<dim { dweight[k] = Float(dw[k]) } }
    if let dbias { for k in 0..<dim { dbias[k] = Float(db[k]) } }
}
