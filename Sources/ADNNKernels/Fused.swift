import Foundation

// Fused epilogues: per-channel scale + shift followed by an activation, over channels-last rows.
//
// - `scaleShiftActivation`: y = act(x·scale + shift), one pass (in place allowed). Batch norm in eval
//   mode (and in training, once the batch statistics are known) followed by the block activation.
// - `batchNormActivationBackwardReduce`: the first backward pass of the fused op: gz = g·act'(z) with
//   z = x·scale + shift recomputed from x, and the batch-norm column sums of gz, in one pass.
// - `conv2dForwardScaleShiftActivation`: convolution whose output goes through the epilogue while it
//   is still in cache (per output row for depthwise, per block of output pixels for GEMM paths).
// Every kernel has a `...Naive` twin compared in the tests.

@inline(__always) private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) private func load16(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) private func store16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Applies `f` to `rows` rows of `c` channels: out = f(x·scale + shift).
@inline(__always)
private func mapRows<F: LaneFunction>(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ scale: UnsafePointer<Float>?,
                                      _ shift: UnsafePointer<Float>?, rows: Range<Int>, c: Int, _ f: F) {
    for row in rows {
        let xr = x + row * c, o = out + row * c
        var k = 0
        while k + 16 <= c {
            var v = load16(xr + k)
            if let scale { v = v * load16(scale + k) }
            if let shift { v = v + load16(shift + k) }
            store16(o + k, f(v))
            k += 16
        }
        while k < c {
            var v = xr[k]
            if let scale { v *= scale[k] }
            if let shift { v += shift[k] }
            o[k] = f(v)
            k += 1
        }
    }
}

/// Serial epilogue over `rows` rows: out = act(x·scale + shift) (scale/shift nil = 1/0, activation nil = identity).
@inline(__always)
func scaleShiftActivationRows(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, scale: UnsafePointer<Float>?,
                              shift: UnsafePointer<Float>?, activation: ActivationKind?, rows: Range<Int>, channels c: Int) {
    guard let kind = activation else {
        if scale == nil && shift == nil && UnsafePointer(out) == x { return }
        mapRows(out, x, scale, shift, rows: rows, c: c, IdentityLanes()); return
    }
    switch kind {
    case .relu: mapRows(out, x, scale, shift, rows: rows, c: c, ReLULanes())
    case .relu6: mapRows(out, x, scale, shift, rows: rows, c: c, ReLU6Lanes())
    case .leakyRelu(let slope): mapRows(out, x, scale, shift, rows: rows, c: c, LeakyReLULanes(slope: slope))
    case .silu: mapRows(out, x, scale, shift, rows: rows, c: c, SiLULanes())
    case .sigmoid: mapRows(out, x, scale, shift, rows: rows, c: c, SigmoidLanes())
    case .gelu: mapRows(out, x, scale, shift, rows: rows, c: c, GELULanes())
    case .tanh: mapRows(out, x, scale, shift, rows: rows, c: c, TanhLanes())
    }
}

/// y = act(x·scale + shift) per channel over [rows, C] (`out` may alias `x`; scale/shift nil mean 1/0,
/// activation nil means identity).
// out, x: [rows, C], scale, shift: [C]
public func scaleShiftActivation(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, scale: UnsafePointer<Float>?,
                                 shift: UnsafePointer<Float>?, activation: ActivationKind?, rows: Int, channels: Int) {
    if rows == 0 || channels == 0 { return }
    parallelFor(rows, grain: Swift.max(1, 16384 / channels)) { r in
        scaleShiftActivationRows(out, x, scale: scale, shift: shift, activation: activation, rows: r, channels: channels)
    }
}

/// Naive twin of `scaleShiftActivation` (Double arithmetic).
public func scaleShiftActivationNaive(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, scale: UnsafePointer<Float>?,
                                      shift: UnsafePointer<Float>?, activation: ActivationKind?, rows: Int, channels: Int) {
    for r in 0..<rows {
        for k in 0..<channels {
            let z = Double(x[r * channels + k]) * Double(scale?[k] ?? 1) + Double(shift?[k] ?? 0)
            out[r * channels + k] = Float(activationNaive(activation, z))
        }
    }
}

/// act(z) in Double (identity for nil).
func activationNaive(_ kind: ActivationKind?, _ v: Double) -> Double {
    guard let kind else { return v }
    switch kind {
    case .relu: return v > 0 ? v : 0
    case .relu6: return Swift.min(Swift.max(v, 0), 6)
    case .leakyRelu(let s): return v > 0 ? v : v * Double(s)
    case .silu: return v / (1 + Foundation.exp(-v))
    case .sigmoid: return 1 / (1 + Foundation.exp(-v))
    case .gelu: return 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot()))
    case .tanh: return Foundation.tanh(v)
    }
}

/// act'(z) in Double (1 for nil), with the subgradients of `activationBackward`.
func activationDerivativeNaive(_ kind: ActivationKind?, _ v: Double) -> Double {
    guard let kind else { return 1 }
    switch kind {
    case .relu: return v > 0 ? 1 : 0
    case .relu6: return (v > 0 && v < 6) ? 1 : 0
    case .leakyRelu(let s): return v > 0 ? 1 : Double(s)
    case .silu: let s = 1 / (1 + Foundation.exp(-v)); return s * (1 + v * (1 - s))
    case .sigmoid: let s = 1 / (1 + Foundation.exp(-v)); return s * (1 - s)
    case .gelu: return 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot())) + v * Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
    case .tanh: let t = Foundation.tanh(v); return 1 - t * t
    }
}

/// act'(z) = 1 everywhere (no activation): multiplying by it changes nothing.
private struct IdentityDerivative: LaneFunction {
    @inline(__always) func callAsFunction(_ v: SIMD16<Float>) -> SIMD16<Float> { SIMD16(repeating: 1) }
    @inline(__always) func callAsFunction(_ v: Float) -> Float { 1 }
}

/// The column sums of the batch-norm + activation backward pass, with gz = g · act'(x·scale + shift) (the
/// gradient at the batch-norm output) computed in registers and never stored.
@inline(__always)
private func activationColumnSums<F: LaneFunction>(_ f: F, _ sumG: UnsafeMutablePointer<Double>, _ sumGX: UnsafeMutablePointer<Double>,
                                                   _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                                   scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                                   mean: UnsafePointer<Float>, rows: Int, channels c: Int) {
    columnReduce2(rows: rows, channels: c, sumG, sumGX) { row, a, b in
        let gr = g + row * c, xr = x + row * c
        var k = 0
        while k + 16 <= c {
            let xv = load16(xr + k)
            let gz = load16(gr + k) * f(xv * load16(scale + k) + load16(shift + k))
            store16(a + k, load16(a + k) + gz)
            store16(b + k, load16(b + k) + gz * (xv - load16(mean + k)))
            k += 16
        }
        while k < c {
            let gz = gr[k] * f(xr[k] * scale[k] + shift[k])
            a[k] += gz; b[k] += gz * (xr[k] - mean[k])
            k += 1
        }
    }
}

/// First backward pass of batch norm + activation: the column sums `sumG[c] = Σ gz` and
/// `sumGXhat[c] = Σ gz·(x − mean)·invstd` (dbias and dweight), where gz = g · act'(x·scale + shift) is the
/// gradient at the batch-norm output. gz is recomputed by `batchNormActivationBackwardInput` rather than
/// stored: two reads here and two reads + one write there (5 passes over [rows, C] instead of 6).
// g, x: [rows, C]; sumG, sumGXhat, scale, shift, mean, invstd: [C]
public func batchNormActivationBackwardReduce(_ sumG: UnsafeMutablePointer<Float>, _ sumGXhat: UnsafeMutablePointer<Float>,
                                              _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                              scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                              mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                              activation: ActivationKind?, rows: Int, channels: Int) {
    batchNormBackwardSums(sumG, sumGXhat, invstd: invstd, rows: rows, channels: channels) { s1, s2 in
        @inline(__always) func sums<F: LaneFunction>(_ f: F) {
            activationColumnSums(f, s1, s2, g, x, scale: scale, shift: shift, mean: mean, rows: rows, channels: channels)
        }
        switch activation {
        case nil: sums(IdentityDerivative())
        case .relu: sums(ReLUDerivative())
        case .relu6: sums(ReLU6Derivative())
        case .leakyRelu(let s): sums(LeakyReLUDerivative(slope: s))
        case .silu: sums(SiLUDerivative())
        case .sigmoid: sums(SigmoidDerivative())
        case .gelu: sums(GELUDerivative())
        case .tanh: sums(TanhDerivative())
        }
    }
}

/// Naive twin of `batchNormActivationBackwardReduce` (Double).
public func batchNormActivationBackwardReduceNaive(_ sumG: UnsafeMutablePointer<Float>, _ sumGXhat: UnsafeMutablePointer<Float>,
                                                   _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                                   scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                                   mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                                   activation: ActivationKind?, rows: Int, channels: Int) {
    for k in 0..<channels {
        var a = 0.0, b = 0.0
        for r in 0..<rows {
            let i = r * channels + k
            let z = Double(x[i]) * Double(scale[k]) + Double(shift[k])
            let gv = Double(g[i]) * activationDerivativeNaive(activation, z)
            a += gv
            b += gv * (Double(x[i]) - Double(mean[k])) * Double(invstd[k])
        }
        sumG[k] = Float(a); sumGXhat[k] = Float(b)
    }
}

/// Second backward pass of batch norm + activation: the input gradient from g and x, with
/// gz = g · act'(x·scale + shift) recomputed. With the batch's statistics (`sumG`/`sumGXhat` from
/// `batchNormActivationBackwardReduce`): `dx = (w/σ) · (gz − sumG/n − x̂ · sumGXhat/n)`, n = rows; with
/// running statistics (both nil, eval mode: constants) `dx = gz · w/σ`. w = 1 when `weight` is nil.
/// `dx` may alias `g`.
// dx, g, x: [rows, C]; scale, shift, mean, invstd, weight, sumG, sumGXhat: [C]
public func batchNormActivationBackwardInput(_ dx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                             scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                             mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                             sumG: UnsafePointer<Float>?, sumGXhat: UnsafePointer<Float>?,
                                             activation: ActivationKind?, rows: Int, channels: Int) {
    let c = channels
    if c == 0 || rows == 0 { return }
    // dx = A·gz + B·(x − μ) + D per channel (B = D = 0 with running statistics).
    let coef = UnsafeMutablePointer<Float>.allocate(capacity: 3 * c)
    defer { coef.deallocate() }
    batchNormInputCoefficients(coef, invstd: invstd, weight: weight, sumG: sumG, sumGXhat: sumGXhat, rows: rows, channels: c)
    parallelFor(rows, grain: Swift.max(1, 16384 / c)) { rr in
        batchNormActivationInputRows(dx + rr.lowerBound * c, g, x, scale: scale, shift: shift, mean: mean, coefficients: coef,
                                     batchStatistics: sumG != nil, activation: activation, rows: rr, channels: c)
    }
}

/// Serial rows of `batchNormActivationBackwardInput` with its per-channel coefficients [A | B | D] ([3·C], from
/// `batchNormInputCoefficients`) already computed: `out` row 0 is row `rows.lowerBound` of g and x.
/// `batchStatistics` false: dx = A·gz (running statistics, B and D unused).
// out: [rows.count, C]; g, x: [·, C]; scale, shift, mean: [C]; coefficients: [3·C]
func batchNormActivationInputRows(_ out: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                  scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                  coefficients coef: UnsafePointer<Float>, batchStatistics: Bool,
                                  activation: ActivationKind?, rows rr: Range<Int>, channels c: Int) {
    let ca = coef, cb = coef + c, cd = coef + 2 * c
    @inline(__always) func rowsOf<F: LaneFunction>(_ f: F) {
        for row in rr {
            let gr = g + row * c, xr = x + row * c, o = out + (row - rr.lowerBound) * c
            var k = 0
            if batchStatistics {
                while k + 16 <= c {
                    let xv = load16(xr + k)
                    let gz = load16(gr + k) * f(xv * load16(scale + k) + load16(shift + k))
                    store16(o + k, load16(ca + k) * gz + load16(cb + k) * (xv - load16(mean + k)) + load16(cd + k))
                    k += 16
                }
                while k < c {
                    let gz = gr[k] * f(xr[k] * scale[k] + shift[k])
                    o[k] = ca[k] * gz + cb[k] * (xr[k] - mean[k]) + cd[k]
                    k += 1
                }
            } else {
                while k + 16 <= c {
                    let gz = load16(gr + k) * f(load16(xr + k) * load16(scale + k) + load16(shift + k))
                    store16(o + k, gz * load16(ca + k))
                    k += 16
                }
                while k < c { o[k] = gr[k] * f(xr[k] * scale[k] + shift[k]) * ca[k]; k += 1 }
            }
        }
    }
    switch activation {
    case nil: rowsOf(IdentityDerivative())
    case .relu: rowsOf(ReLUDerivative())
    case .relu6: rowsOf(ReLU6Derivative())
    case .leakyRelu(let s): rowsOf(LeakyReLUDerivative(slope: s))
    case .silu: rowsOf(SiLUDerivative())
    case .sigmoid: rowsOf(SigmoidDerivative())
    case .gelu: rowsOf(GELUDerivative())
    case .tanh: rowsOf(TanhDerivative())
    }
}

/// Naive twin of `batchNormActivationBackwardInput` (Double).
public func batchNormActivationBackwardInputNaive(_ dx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                                  scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                                  mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                                  sumG: UnsafePointer<Float>?, sumGXhat: UnsafePointer<Float>?,
                                                  activation: ActivationKind?, rows: Int, channels: Int) {
    let n = Double(rows)
    for r in 0..<rows {
        for k in 0..<channels {
            let i = r * channels + k
            let z = Double(x[i]) * Double(scale[k]) + Double(shift[k])
            let gz = Double(g[i]) * activationDerivativeNaive(activation, z)
            let s = Double(invstd[k]), w = Double(weight?[k] ?? 1)
            if let sumG, let sumGXhat {
                let xhat = (Double(x[i]) - Double(mean[k])) * s
                dx[i] = Float(w * s * (gz - Double(sumG[k]) / n - xhat * Double(sumGXhat[k]) / n))
            } else {
                dx[i] = Float(w * s * gz)
            }
        }
    }
}

// MARK: - convolution with epilogue

/// Tuning knobs of the fused convolution.
public enum FusedConvTuning {
    /// Target size in floats of one GEMM output block (kept in L2 for the epilogue).
    nonisolated(unsafe) public static var blockFloats = 1 << 16
}

/// y = act(conv(x, w)·scale + shift) per output channel (no bias; fold it into `shift`). Depthwise
/// convolutions (weights optionally given pre-transposed as `depthwiseTaps`) apply the epilogue per output row; 1×1 and im2col convolutions run one single-threaded
/// GEMM per block of output pixels on the pool and apply it to the block while it is in cache.
// y: [N, Ho, Wo, O], x: [N, H, W, C], w: [O, kh, kw, C/groups], scale, shift: [O]
public func conv2dForwardScaleShiftActivation(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                              scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?,
                                              activation: ActivationKind?, _ g: Conv2DGeometry,
                                              depthwiseTaps: UnsafePointer<Float>? = nil) {
    g.validate()
    if g.outputCount == 0 { return }
    let O = g.outChannels, P = g.batch * g.outHeight * g.outWidth
    if g.isDepthwise && depthwiseDirectApplies(g) {
        if let depthwiseTaps {
            depthwiseConv2dDirect(y, x, taps: depthwiseTaps, scale: scale, shift: shift, activation: activation, g)
        } else {
            withDepthwiseTaps(w, g) { depthwiseConv2dDirect(y, x, taps: $0, scale: scale, shift: shift, activation: activation, g) }
        }
        return
    }
    if g.isDepthwise {
        depthwiseConv2dForwardRows(y, x, w, nil, g, taps: depthwiseTaps) { out, rowCount in
            scaleShiftActivationRows(out, out, scale: scale, shift: shift, activation: activation, rows: 0..<rowCount, channels: O)
        }
        return
    }
    if g.groups != 1 {
        conv2dForward(y, x, w, nil, g)
        scaleShiftActivation(y, y, scale: scale, shift: shift, activation: activation, rows: P, channels: O)
        return
    }
    let K = g.patchSize
    let block = Swift.max(16, Swift.min(1024, FusedConvTuning.blockFloats / Swift.max(1, O)))
    let blocks = (P + block - 1) / block
    parallelChunks(blocks, chunks: blocks) { r in
        let col: UnsafeMutablePointer<Float>? = g.isPointwise ? nil : .allocate(capacity: block * K)
        defer { col?.deallocate() }
        for bi in r {
            let p0 = bi * block, np = Swift.min(block, P - p0)
            if let col {
                im2col(col, x, g, group: 0, pixelStart: p0, pixelCount: np)
                sgemmSerial(y + p0 * O, col, w, m: np, n: O, k: K, transB: true, lda: K, ldb: K, ldc: O)
            } else {
                sgemmSerial(y + p0 * O, x + p0 * g.inChannels, w, m: np, n: O, k: K, transB: true, lda: g.inChannels, ldb: K, ldc: O)
            }
            scaleShiftActivationRows(y + p0 * O, y + p0 * O, scale: scale, shift: shift, activation: activation, rows: 0..<np, channels: O)
        }
    }
}

/// Naive twin of `conv2dForwardScaleShiftActivation` (Double).
public func conv2dForwardScaleShiftActivationNaive(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                                   scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?,
                                                   activation: ActivationKind?, _ g: Conv2DGeometry) {
    conv2dForwardNaive(y, x, w, nil, g)
    scaleShiftActivationNaive(y, y, scale: scale, shift: shift, activation: activation, rows: g.outputCount / g.outChannels,
                              channels: g.outChannels)
}
