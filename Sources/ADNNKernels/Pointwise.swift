import Foundation

// Direct 1×1 convolution for inference: y = act((x · Wᵀ)·scale + shift) over channels-last pixels, on
// weights packed once into column panels (ONNX Runtime's MLAS packs its GEMM operand at session
// creation the same way). OpenBLAS packs the weight matrix again on every call, which costs as much as
// the product itself when there are few pixels (batch 1, late stages: 9–81 pixels × 1152 channels).
//
// Packed layout: panels of `width` output channels (16 or 32, `PointwiseTuning.panelWidth`), each
// [K, width] row-major, zero-padded past O:  packed[(panel·K + k)·width + c] = W[panel·width + c, k];
// at width 32 the last panel is 16 wide when O mod 32 is 1…16 (O = 16, 24, 40, 80, 112 waste no half tiles).
// The micro-kernel keeps a 4-pixel × width tile in registers over the whole K loop (4 × 2 SIMD16
// accumulators at width 32 — 8 zmm registers on AVX-512; 4 × 1 at width 16 — 8 ymm on AVX2), stores
// it once and applies scale, shift and the activation to it while it is in L1 (the specialised row
// kernel of `scaleShiftActivation`). Work splits over (pixel blocks × panels) on the kernel pool; k×k
// convolutions gather im2col rows per pixel block. `pointwiseConvNaive` is the twin the tests compare
// against. The panel width is chosen at run time from the CPU; the vector instructions themselves come
// from the build (`-march=native` unless `ADNN_MARCH` says otherwise).

@inline(__always) private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) private func store16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Whether this CPU executes AVX-512F (read once from `/proc/cpuinfo`; false elsewhere).
public let cpuHasAVX512: Bool = {
    #if arch(x86_64) && os(Linux)
    guard let s = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
    guard let flags = s.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
    return flags.split(separator: " ").contains("avx512f")
    #else
    return false
    #endif
}()

/// Tuning knobs of the direct 1×1 convolution.
public enum PointwiseTuning {
    /// Output channels per packed panel and register tile: 32 on AVX-512 machines (4 × 2 zmm
    /// accumulators), 16 on AVX2 (4 × 2 ymm). `ADNN_POINTWISE_WIDTH=16|32` overrides it.
    nonisolated(unsafe) public static var panelWidth: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_POINTWISE_WIDTH"], let v = Int(s), v == 16 || v == 32 { return v }
        return cpuHasAVX512 ? 32 : 16
    }()
    /// Pixels per work item (a multiple of 4).
    nonisolated(unsafe) public static var pixelBlock = 64
    /// Largest output pixel count for which frozen-weight inference takes the packed direct kernel
    /// instead of OpenBLAS (`ADNN_PACKED_CONV_MAX_PIXELS`; 0 turns the packed path off, for comparisons).
    nonisolated(unsafe) public static var maxPixels: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_PACKED_CONV_MAX_PIXELS"], let v = Int(s), v >= 0 { return v }
        return Int.max
    }()
}

/// Floats needed by `packPointwiseWeights` for `outChannels` × `inChannels` at panel width `width`.
public func packedPointwiseCount(outChannels: Int, inChannels: Int, width: Int) -> Int {
    let (panels, narrowLast) = panelLayout(outChannels, width)
    return narrowLast ? (panels - 1) * inChannels * width + inChannels * 16 : panels * inChannels * width
}

/// Number of panels for `O` output channels at `width`, and whether the last one is 16 wide (width 32 only).
@inline(__always)
func panelLayout(_ O: Int, _ width: Int) -> (count: Int, narrowLast: Bool) {
    ((O + width - 1) / width, width == 32 && O % 32 != 0 && O % 32 <= 16)
}

/// Packs 1×1 convolution weights for `pointwiseConvScaleShiftActivation`.
// packed: [panels, K, width], w: [O, K] (OHWI with kh = kw = 1)
public func packPointwiseWeights(_ packed: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>,
                                 outChannels O: Int, inChannels K: Int, width: Int) {
    precondition(width == 16 || width == 32, "packPointwiseWeights: width \(width) must be 16 or 32")
    let (panels, narrowLast) = panelLayout(O, width)
    for p in 0..<panels {
        let base = packed + p * K * width
        let pw = narrowLast && p == panels - 1 ? 16 : width
        for c in 0..<pw {
            let o = p * width + c
            if o < O {
                let row = w + o * K
                for k in 0..<K { base[k * pw + c] = row[k] }
            } else {
                for k in 0..<K { base[k * pw + c] = 0 }
            }
        }
    }
}

/// One 4-pixel tile of one panel: rows r0…r0+3 of x (pixel indices clamped to the last valid one, whose
/// results are then not stored), `wide` = two SIMD16 columns (width 32) or one (width 16).
@inline(__always)
private func pointwiseTile(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafePointer<Float>,
                           scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, activation: ActivationKind?,
                           rows r0: Int, validRows: Int, column o0: Int, validColumns: Int, K: Int, O: Int, wide: Bool) {
    let width = wide ? 32 : 16
    let x0 = x + r0 * K
    let x1 = x + (r0 + Swift.min(1, validRows - 1)) * K
    let x2 = x + (r0 + Swift.min(2, validRows - 1)) * K
    let x3 = x + (r0 + Swift.min(3, validRows - 1)) * K
    var a00 = SIMD16<Float>(), a10 = SIMD16<Float>(), a20 = SIMD16<Float>(), a30 = SIMD16<Float>()
    var a01 = SIMD16<Float>(), a11 = SIMD16<Float>(), a21 = SIMD16<Float>(), a31 = SIMD16<Float>()
    var wp = panel
    for k in 0..<K {
        let w0 = load16(wp)
        let b0 = SIMD16<Float>(repeating: x0[k]), b1 = SIMD16<Float>(repeating: x1[k])
        let b2 = SIMD16<Float>(repeating: x2[k]), b3 = SIMD16<Float>(repeating: x3[k])
        a00.addProduct(b0, w0); a10.addProduct(b1, w0); a20.addProduct(b2, w0); a30.addProduct(b3, w0)
        if wide {
            let w1 = load16(wp + 16)
            a01.addProduct(b0, w1); a11.addProduct(b1, w1); a21.addProduct(b2, w1); a31.addProduct(b3, w1)
        }
        wp += width
    }
    @inline(__always) func store(_ acc: SIMD16<Float>, row: Int, half: Int) {
        if row >= validRows { return }
        let c0 = o0 + half * 16
        let n = validColumns - half * 16
        if n <= 0 { return }
        let out = y + (r0 + row) * O + c0
        if n >= 16 { store16(out, acc) } else { for i in 0..<n { out[i] = acc[i] } }
    }
    store(a00, row: 0, half: 0); store(a10, row: 1, half: 0); store(a20, row: 2, half: 0); store(a30, row: 3, half: 0)
    if wide {
        store(a01, row: 0, half: 1); store(a11, row: 1, half: 1); store(a21, row: 2, half: 1); store(a31, row: 3, half: 1)
    }
    // Epilogue on the tile while it is in L1 (the row kernel of `scaleShiftActivation`, specialised per activation).
    if scale != nil || shift != nil || activation != nil {
        for row in 0..<validRows {
            let out = y + (r0 + row) * O + o0
            scaleShiftActivationRows(out, out, scale: scale.map { $0 + o0 }, shift: shift.map { $0 + o0 }, activation: activation,
                                     rows: 0..<1, channels: validColumns)
        }
    }
}

/// y = act((x · Wᵀ)·scale + shift) per output channel, W given packed by `packPointwiseWeights` at
/// panel width `width` (scale/shift nil = 1/0, activation nil = identity).
// y: [P, O], x: [P, K], packed: [panels, K, width], scale, shift: [O]
public func pointwiseConvScaleShiftActivation(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                              _ packed: UnsafePointer<Float>, scale: UnsafePointer<Float>?,
                                              shift: UnsafePointer<Float>?, activation: ActivationKind?,
                                              pixels P: Int, inChannels K: Int, outChannels O: Int, width: Int) {
    precondition(width == 16 || width == 32, "pointwiseConvScaleShiftActivation: width \(width) must be 16 or 32")
    if P == 0 || O == 0 { return }
    if K == 0 {
        for p in 0..<P { for o in 0..<O { y[p * O + o] = 0 } }
        scaleShiftActivationRows(y, y, scale: nil, shift: shift, activation: activation, rows: 0..<P, channels: O)
        return
    }
    let (panels, narrowLast) = panelLayout(O, width)
    let block = Swift.max(4, PointwiseTuning.pixelBlock / 4 * 4)
    let pixelBlocks = (P + block - 1) / block
    parallelFor(pixelBlocks * panels) { r in
        for item in r {
            let pb = item / panels, p = item % panels
            let o0 = p * width, validColumns = Swift.min(width, O - o0)
            let panel = packed + p * K * width
            let wide = width == 32 && !(narrowLast && p == panels - 1)
            var r0 = pb * block
            let end = Swift.min(P, r0 + block)
            while r0 < end {
                let valid = Swift.min(4, end - r0)
                if wide {
                    pointwiseTile(y, x, panel, scale: scale, shift: shift, activation: activation, rows: r0, validRows: valid,
                                  column: o0, validColumns: validColumns, K: K, O: O, wide: true)
                } else {
                    pointwiseTile(y, x, panel, scale: scale, shift: shift, activation: activation, rows: r0, validRows: valid,
                                  column: o0, validColumns: validColumns, K: K, O: O, wide: false)
                }
                r0 += 4
            }
        }
    }
}

/// Naive twin of `pointwiseConvScaleShiftActivation` on unpacked weights (Double accumulation).
// y: [P, O], x: [P, K], w: [O, K], scale, shift: [O]
public func pointwiseConvNaive(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                               scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, activation: ActivationKind?,
                               pixels P: Int, inChannels K: Int, outChannels O: Int) {
    for p in 0..<P {
        for o in 0..<O {
            var s = 0.0
            for k in 0..<K { s += Double(x[p * K + k]) * Double(w[o * K + k]) }
            let z = s * Double(scale?[o] ?? 1) + Double(shift?[o] ?? 0)
            y[p * O + o] = Float(activationNaive(activation, z))
        }
    }
}

/// Whether `conv2dPackedScaleShiftActivation` takes geometry `g`: one group (not depthwise), at most
/// `PointwiseTuning.maxPixels` output pixels.
public func packedConvApplies(_ g: Conv2DGeometry) -> Bool {
    g.groups == 1 && g.batch * g.outHeight * g.outWidth <= PointwiseTuning.maxPixels
}

/// y = act(conv(x, w)·scale + shift) with the weights ([O, kh·kw·C] rows, OHWI) packed by
/// `packPointwiseWeights`: a 1×1 convolution runs the direct kernel on x itself, any other (one group)
/// on im2col rows gathered per block of output pixels.
// y: [N, Ho, Wo, O], x: [N, H, W, C], packed: [panels, kh·kw·C, width], scale, shift: [O]
public func conv2dPackedScaleShiftActivation(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                             _ packed: UnsafePointer<Float>, scale: UnsafePointer<Float>?,
                                             shift: UnsafePointer<Float>?, activation: ActivationKind?,
                                             _ g: Conv2DGeometry, width: Int) {
    g.validate()
    precondition(g.groups == 1, "conv2dPackedScaleShiftActivation: groups \(g.groups) must be 1")
    let P = g.batch * g.outHeight * g.outWidth, K = g.patchSize
    if P == 0 { return }
    if g.isPointwise {
        pointwiseConvScaleShiftActivation(y, x, packed, scale: scale, shift: shift, activation: activation,
                                          pixels: P, inChannels: K, outChannels: g.outChannels, width: width)
        return
    }
    // Blocks of output pixels: each gathers its im2col rows into its own buffer (in L1/L2), then runs
    // every panel over them.
    let O = g.outChannels
    let (panels, narrowLast) = panelLayout(O, width)
    let block = Swift.max(4, Swift.min(256, (1 << 14) / Swift.max(1, K)) / 4 * 4)
    let blocks = (P + block - 1) / block
    parallelFor(blocks) { r in
        let col = UnsafeMutablePointer<Float>.allocate(capacity: block * K)
        defer { col.deallocate() }
        for bi in r {
            let p0 = bi * block, p1 = Swift.min(P, p0 + block)
            im2colRows(col, x, g, group: 0, pixels: p0..<p1)
            for p in 0..<panels {
                let o0 = p * width, validColumns = Swift.min(width, O - o0)
                let panel = packed + p * K * width
                var r0 = 0
                while r0 < p1 - p0 {
                    let valid = Swift.min(4, p1 - p0 - r0)
                    if width == 32 && !(narrowLast && p == panels - 1) {
                        pointwiseTile(y + p0 * O, col, panel, scale: scale, shift: shift, activation: activation, rows: r0,
                                      validRows: valid, column: o0, validColumns: validColumns, K: K, O: O, wide: true)
                    } else {
                        pointwiseTile(y + p0 * O, col, panel, scale: scale, shift: shift, activation: activation, rows: r0,
                                      validRows: valid, column: o0, validColumns: validColumns, K: K, O: O, wide: false)
                    }
                    r0 += 4
                }
            }
        }
    }
}
