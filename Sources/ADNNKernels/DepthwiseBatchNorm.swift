import Foundation

// Training backward of depthwise convolution → batch norm (batch statistics) → activation as one pass:
// the batch-norm + activation input gradient dy is computed band by band into a per-thread buffer (in L2)
// and both convolution gradients are taken from there, so dy — as large as the block's widest activation —
// is never written to memory, read back twice or allocated.

@inline(__always) private func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
@inline(__always) private func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }

/// Tuning of `depthwiseConvBatchNormActivationBackward`.
public enum DepthwiseBackwardTuning {
    /// Training runs a depthwise convolution → batch norm → activation as one node whose backward is
    /// `depthwiseConvBatchNormActivationBackward` (`ADNN_DW_BN_BACKWARD_FUSED=0`: the separate ops, for comparisons).
    nonisolated(unsafe) public static var batchNormFused: Bool = ProcessInfo.processInfo.environment["ADNN_DW_BN_BACKWARD_FUSED"] != "0"
    /// Smallest output per image (Ho·Wo·C floats) that takes the fused node (`ADNN_DW_BN_MIN_IMAGE_OUTPUT`,
    /// default 32,768): small late-stage images gain nothing from bands, and their separate passes stay in cache.
    nonisolated(unsafe) public static var minImageOutput: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_DW_BN_MIN_IMAGE_OUTPUT"], let v = Int(s), v >= 0 { return v }
        return 32768
    }()
    /// Bytes of a thread's dy buffer: a band of output rows and its halo (`ADNN_DW_BN_BAND_BYTES`, default 256 KiB).
    nonisolated(unsafe) public static var bandBytes: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_DW_BN_BAND_BYTES"], let v = Int(s), v > 0 { return v }
        return 256 << 10
    }()
}

/// The rows one band of a depthwise backward works on: output rows `band` (its share of dW), input rows
/// `inputs` (its share of dx), the output rows `reads` those input rows gather from, and `needed`, the
/// smallest range holding `band` and `reads` (the dy rows it computes).
struct DepthwiseBand {
    let band: Range<Int>, inputs: Range<Int>, reads: Range<Int>, needed: Range<Int>

    /// Band `b` of `count` bands of `rows` output rows each over one image of geometry `g`. The input rows are
    /// split at each band's first output row's first input row (clamped), so the bands partition them.
    init(_ b: Int, count: Int, rows: Int, _ g: Conv2DGeometry) {
        let H = g.inHeight, Ho = g.outHeight, s = g.stride, d = g.dilation, pt = g.padTop
        let r0 = b * rows, r1 = Swift.min(Ho, r0 + rows)
        let ia = b == 0 ? 0 : Swift.min(H, Swift.max(0, r0 * s - pt))
        let ib = b == count - 1 ? H : Swift.min(H, Swift.max(0, r1 * s - pt))
        var q0 = r0, q1 = r1, reads = r0..<r0
        if ia < ib {
            // Output rows oy with oy·s − pt + ky·d ∈ [ia, ib) for some tap ky.
            let lo = Swift.max(0, ceilDiv(ia + pt - (g.kernelHeight - 1) * d, s))
            let hi = Swift.min(Ho - 1, floorDiv(ib - 1 + pt, s))
            if lo <= hi { q0 = Swift.min(q0, lo); q1 = Swift.max(q1, hi + 1); reads = lo..<(hi + 1) }
        }
        band = r0..<r1; inputs = ia..<ib; self.reads = reads; needed = q0..<q1
    }
}

/// Both gradients of a depthwise convolution whose output `y` went through batch norm (batch statistics) and
/// an activation, from the gradient `g` at the activation's output. Per image, bands of output rows (with
/// their halo) get dy = (w/σ)·(g·act′(z) − sumG/n − x̂·sumGXhat/n) into a buffer of the thread's, then the
/// band's share of dW (its output rows, `depthwiseWeightGradientRow`) and of dx (the input rows it owns: at
/// stride 1 on the direct kernel's geometries the turned kernel's forward rows over the band's dy, else a
/// tap-table gather) from there.
/// `sumG`/`sumGXhat` come from `batchNormActivationBackwardReduce` over the same g and y. Overwrites dx and
/// dw; the threads' partial dW are summed in thread order (deterministic for a given thread count).
/// `depthwiseConv2dBackwardInputNaive`/`WeightNaive` after `batchNormActivationBackwardInputNaive` are its twin.
// dx, x: [N, H, W, C]; dw, w: [C, kh, kw, 1]; g, y: [N, Ho, Wo, C]; scale, shift, mean, invstd, bnWeight, sumG, sumGXhat: [C]
public func depthwiseConvBatchNormActivationBackward(_ dx: UnsafeMutablePointer<Float>, _ dw: UnsafeMutablePointer<Float>,
                                                     _ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                                     _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                                     scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                                     mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                                     bnWeight: UnsafePointer<Float>?, sumG: UnsafePointer<Float>,
                                                     sumGXhat: UnsafePointer<Float>, activation: ActivationKind?,
                                                     _ geo: Conv2DGeometry) {
    geo.validate()
    precondition(geo.groups == geo.inChannels && geo.outChannels == geo.inChannels,
                 "depthwiseConvBatchNormActivationBackward: needs groups == C == O, got \(geo.groups), \(geo.inChannels), \(geo.outChannels)")
    let N = geo.batch, H = geo.inHeight, W = geo.inWidth, C = geo.inChannels, Ho = geo.outHeight, Wo = geo.outWidth
    let kh = geo.kernelHeight, kw = geo.kernelWidth, s = geo.stride, d = geo.dilation, pl = geo.padLeft
    let T = kh * kw
    if N * Ho * Wo * C == 0 {
        // No output: no gradient reaches the input or the weights.
        if geo.inputCount > 0 { dx.update(repeating: 0, count: geo.inputCount) }
        if T * C > 0 { dw.update(repeating: 0, count: T * C) }
        return
    }
    let coef = UnsafeMutablePointer<Float>.allocate(capacity: 3 * C)
    defer { coef.deallocate() }
    batchNormInputCoefficients(coef, invstd: invstd, weight: bnWeight, sumG: sumG, sumGXhat: sumGXhat, rows: N * Ho * Wo, channels: C)
    let wt = UnsafeMutablePointer<Float>.allocate(capacity: T * C)
    defer { wt.deallocate() }
    depthwiseTransposeTaps(wt, w, channels: C, taps: T)
    let rowTable = TapTable(inputSize: H, outputSize: Ho, kernel: kh, stride: s, dilation: d, padding: geo.padTop)
    let colTable = TapTable(inputSize: W, outputSize: Wo, kernel: kw, stride: s, dilation: d, padding: pl)
    defer { rowTable.deallocate(); colTable.deallocate() }

    // Bands of output rows whose dy rows, halo included, fit the buffer (at least one row per band).
    let rowFloats = Wo * C
    let halo = ((kh - 1) * d + s - 1) / s + 1
    let bandRows = Swift.max(1, Swift.min(Ho, DepthwiseBackwardTuning.bandBytes / (4 * rowFloats) - halo))
    let bands = (Ho + bandRows - 1) / bandRows
    var bufferRows = 0
    for b in 0..<bands { bufferRows = Swift.max(bufferRows, DepthwiseBand(b, count: bands, rows: bandRows, geo).needed.count) }
    let units = N * bands
    let workers = Swift.max(1, Swift.min(Threading.threads, units))
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: workers * T * C)
    defer { partial.deallocate() }
    partial.update(repeating: 0, count: workers * T * C)
    let wtc = UnsafePointer(wt), coefc = UnsafePointer(coef)
    // Stride 1 on the direct kernel's geometries: dx rows are forward rows of dy with the kernel turned 180°
    // (`depthwiseBackwardInputAsForward`), run on the band's dy rows by the register-blocked row kernel.
    let flipped = depthwiseBackwardInputAsForward(geo)
    let turned = UnsafeMutablePointer<Float>.allocate(capacity: flipped == nil ? 1 : T * C)
    defer { turned.deallocate() }
    if flipped != nil { for t in 0..<T { (turned + t * C).update(from: wt + (T - 1 - t) * C, count: C) } }
    let turnedTaps = UnsafePointer(turned), identity = epilogueLanes(nil)

    parallelChunks(workers, chunks: workers) { r in
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: bufferRows * rowFloats)
        defer { buffer.deallocate() }
        for wk in r {
            let acc0 = partial + wk * T * C
            for unit in (wk * units / workers)..<((wk + 1) * units / workers) {
                let n = unit / bands
                let band = DepthwiseBand(unit % bands, count: bands, rows: bandRows, geo)
                let q0 = band.needed.lowerBound
                // dy of output rows `needed` of image n → buffer (row oy at buffer + (oy − q0)·Wo·C)
                let firstPixel = (n * Ho + q0) * Wo
                batchNormActivationInputRows(buffer, g, y, scale: scale, shift: shift, mean: mean, coefficients: coefc,
                                             batchStatistics: true, activation: activation,
                                             rows: firstPixel..<(firstPixel + band.needed.count * Wo), channels: C)
                let dyBand = UnsafePointer(buffer)
                // dW[t, c] += Σ over the band's output pixels of dy · x at the tap's input pixel
                for oy in band.band {
                    depthwiseWeightGradientRow(acc0, dyBand + (oy - q0) * rowFloats, x + n * H * W * C, geo, oy: oy)
                }
                // dx of the band's input rows: forward rows of the turned kernel over dy rows `reads`, or, off the
                // direct kernel's geometries, every input pixel gathers the dy pixels that read it
                if let f = flipped, !band.inputs.isEmpty, !band.reads.isEmpty {
                    let topPad = f.padTop - band.inputs.lowerBound + band.reads.lowerBound
                    let bottomPad = band.inputs.count - 1 + kh - band.reads.count - topPad
                    if topPad >= 0 && bottomPad >= 0 {
                        let sub = Conv2DGeometry(batch: 1, inHeight: band.reads.count, inWidth: Wo, inChannels: C, outChannels: C,
                                                 kernelHeight: kh, kernelWidth: kw, stride: 1, dilation: 1, padTop: topPad,
                                                 padBottom: bottomPad, padLeft: f.padLeft, padRight: f.padRight, groups: C)
                        let reads = dyBand + (band.reads.lowerBound - q0) * rowFloats
                        for iy in band.inputs {
                            depthwiseRowKernel(dx + ((n * H + iy) * W) * C, reads, turnedTaps, nil, nil, identity, sub,
                                               n: 0, oy: iy - band.inputs.lowerBound, c0: 0, c1: C, exact: false)
                        }
                        continue
                    }
                }
                for iy in band.inputs {
                    depthwiseGatherInputRow(dx + (n * H + iy) * W * C, dyBand, firstRow: q0, wtc, rowTable, colTable, geo, iy: iy)
                }
            }
        }
    }
    depthwiseReducePartials(dw, partial, workers: workers, taps: T, channels: C)
}

/// Whether training runs depthwise convolution `g` → batch norm → activation as the fused node: the knob on and
/// an output of at least `DepthwiseBackwardTuning.minImageOutput` floats per image.
public func depthwiseBatchNormFusedApplies(_ g: Conv2DGeometry) -> Bool {
    DepthwiseBackwardTuning.batchNormFused && g.outHeight * g.outWidth * g.outChannels >= DepthwiseBackwardTuning.minImageOutput
}
