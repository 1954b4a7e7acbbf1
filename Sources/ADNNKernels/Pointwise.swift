import Foundation
import CBLAS

// Direct 1×1 convolution for inference: y = act((x · Wᵀ)·scale + shift) over channels-last pixels, on
// weights packed once into column panels (ONNX Runtime's MLAS packs its GEMM operand at session
// creation the same way). OpenBLAS packs the weight matrix again on every call, which costs as much as
// the product itself when there are few pixels (batch 1, late stages: 9–81 pixels × 1152 channels).
//
// Packed layout: panels of `width` output channels (16 or 32, `PointwiseTuning.panelWidth`), each
// [K, width] row-major, zero-padded past O:  packed[(panel·K + k)·width + c] = W[panel·width + c, k];
// at width 32 the last panel is 16 wide when O mod 32 is 1…16 (O = 16, 24, 40, 80, 112 waste no half tiles).
// The micro-kernel keeps a tile of `PointwiseTuning.tileRows` pixels × width in registers over the whole
// K loop (12 × 32 on AVX-512: 24 zmm accumulators, so each weight vector loaded from the panel feeds 12
// FMAs; 6 × 16 on AVX2: 12 ymm), applies scale, shift and a piecewise-linear activation to the
// accumulators before the one store (transcendental activations run over the stored tile in one call
// with the lane function inlined). A tail takes a tile of exactly its rows (1…11). Work splits over (pixel blocks ×
// panels) on the kernel pool; k×k convolutions gather im2col rows per pixel block. `pointwiseConvNaive`
// is the twin the tests compare against. The panel width and tile are chosen at run time from the CPU; the
// vector instructions themselves come from the build (`-march=native` unless `ADNN_MARCH` says otherwise).

@inline(__always) private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) private func store16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// The element type of packed weight panels: `Float`, or `Float16` — half the bytes to stream from memory and
/// to keep in cache, widened to Float as the tile loads it (`adnn_load_half16`: one `vcvtph2ps` per 16 weights). Half panels are
/// made only from weights that are exactly representable in half precision (`isExactlyHalf`: weights
/// exported with `adnn export --half`, the shipped models), so both element types give the same results bit
/// for bit.
public protocol PanelScalar {
    /// `v` stored in a panel (exact for every value `isExactlyHalf` accepts).
    init(panelValue v: Float)
    /// The stored value as Float (exact).
    var panelValue: Float { get }
}

extension Float: PanelScalar {
    @inline(__always) public init(panelValue v: Float) { self = v }
    @inline(__always) public var panelValue: Float { self }
}

extension Float16: PanelScalar {
    @inline(__always) public init(panelValue v: Float) { self = Float16(v) }
    @inline(__always) public var panelValue: Float { Float(self) }
}

/// Whether every one of the `count` values at `p` is finite and survives a round trip through half precision
/// unchanged — then half-precision panels of them compute exactly what Float panels do.
public func isExactlyHalf(_ p: UnsafePointer<Float>, count: Int) -> Bool {
    for i in 0..<count {
        let v = p[i]
        if !v.isFinite || Float(Float16(v)).bitPattern != v.bitPattern { return false }
    }
    return true
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
    /// Output channels per packed panel and register tile: 32 on AVX-512 machines (two zmm per pixel
    /// row), 16 on AVX2 (two ymm). `ADNN_POINTWISE_WIDTH=16|32` overrides it.
    nonisolated(unsafe) public static var panelWidth: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_POINTWISE_WIDTH"], let v = Int(s), v == 16 || v == 32 { return v }
        return cpuHasAVX512 ? 32 : 16
    }()
    /// Pixels per register tile: 12 on AVX-512 (12 × 32 = 24 zmm accumulators), 6 on AVX2 (6 × 16 =
    /// 12 ymm); `ADNN_POINTWISE_ROWS=4|6|8|12` overrides it (12 and 8 only where AVX-512 holds them).
    nonisolated(unsafe) public static var tileRows: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_POINTWISE_ROWS"], let v = Int(s), [4, 6, 8, 12].contains(v) { return v }
        return cpuHasAVX512 ? 12 : 6
    }()
    /// Smallest K (input channels) whose items prefetch their next panel into L2 while they compute
    /// (`ADNN_PREFETCH_MIN_K`; 0 = every panel, a huge value = off, for comparisons).
    nonisolated(unsafe) public static var prefetchMinK: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_PREFETCH_MIN_K"], let v = Int(s), v >= 0 { return v }
        // The transformer's linear layers (K ≥ 2048), whose weights stream from memory at batch 1; smaller
        // panels usually sit in L2/L3, where the extra instructions cost more than they save.
        return 2048
    }()
    /// Pixels per work item (rounded down to a multiple of `tileRows`).
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

/// Packs 1×1 convolution weights for `pointwiseConvScaleShiftActivation`. `afterPanel(rows)` (if given)
/// runs after each panel with the number of rows of `w` read so far.
// packed: [panels, K, width], w: [O, K] (OHWI with kh = kw = 1)
public func packPointwiseWeights<W: PanelScalar>(_ packed: UnsafeMutablePointer<W>, _ w: UnsafePointer<Float>,
                                 outChannels O: Int, inChannels K: Int, width: Int, afterPanel: ((Int) -> Void)? = nil) {
    precondition(width == 16 || width == 32, "packPointwiseWeights: width \(width) must be 16 or 32")
    let (panels, narrowLast) = panelLayout(O, width)
    for p in 0..<panels {
        defer { afterPanel?(Swift.min(O, (p + 1) * width)) }
        let base = packed + p * K * width
        let pw = narrowLast && p == panels - 1 ? 16 : width
        for c in 0..<pw {
            let o = p * width + c
            if o < O {
                let row = w + o * K
                for k in 0..<K { base[k * pw + c] = W(panelValue: row[k]) }
            } else {
                for k in 0..<K { base[k * pw + c] = W(panelValue: 0) }
            }
        }
    }
}

/// Inverse of `packPointwiseWeights`: rebuilds the [O, K] rows from the panels (the padding lanes are
/// dropped). `withFrozenWeights(releasingWeights: true)` restores released weights with it.
/// `afterPanel(floats)` (if given) runs after each panel with the number of leading floats of `packed` read so far.
// w: [O, K], packed: [panels, K, width]
public func unpackPointwiseWeights<W: PanelScalar>(_ w: UnsafeMutablePointer<Float>, _ packed: UnsafePointer<W>,
                                   outChannels O: Int, inChannels K: Int, width: Int, afterPanel: ((Int) -> Void)? = nil) {
    precondition(width == 16 || width == 32, "unpackPointwiseWeights: width \(width) must be 16 or 32")
    let (panels, narrowLast) = panelLayout(O, width)
    let total = packedPointwiseCount(outChannels: O, inChannels: K, width: width)
    for p in 0..<panels {
        defer { afterPanel?(Swift.min(total, (p + 1) * K * width)) }
        let base = packed + p * K * width
        let pw = narrowLast && p == panels - 1 ? 16 : width
        for c in 0..<pw {
            let o = p * width + c
            guard o < O else { break }
            let row = w + o * K
            for k in 0..<K { row[k] = base[k * pw + c].panelValue }
        }
    }
}

/// One tile of `rows` pixels (a constant at every call site: 1…12 on AVX-512, 1…6 on AVX2, all of them
/// real rows: `pointwiseRows` hands a tail a tile of exactly its rows, `validRows` == `rows`) × one panel: rows r0 ..< r0 + rows
/// of x, `wide` = two SIMD16 columns (width 32) or one (width 16). At 12 × 32 the tile holds 24 zmm
/// accumulators, so each weight vector loaded from the panel feeds 12 FMAs (4 × 32 fed 4: the panel,
/// streamed from L2 for large K, was the bound). The epilogue is straight-line code on explicit values
/// (`finishLanes`): as a nested function capturing the tile's state it was called out of line once per
/// accumulator, 24 calls per tile, which cost more than the K loop itself for K ≤ 40 (16→96 ran at
/// 30 GFLOP/s).
@inline(__always)
private func pointwiseTile(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, half: Bool,
                           scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, activation: ActivationKind?,
                           rows: Int, r0: Int, validRows: Int, column o0: Int, validColumns: Int, K: Int, O: Int, wide: Bool,
                           prefetch: UnsafeRawPointer? = nil, prefetchLines: Int = 0) {
    let width = wide ? 32 : 16
    // Row pointers clamped to the run-time `validRows` (always `rows`): written as x0 + i·K, the compiler
    // folds them into scaled-index addressing, hoists broadcasts and spills accumulators (576 px 1152→192
    // ran 25 % slower); through the run-time clamp each row keeps its own register and the loop has no spills.
    let last = validRows - 1
    let x0 = x + r0 * K
    let x1 = x + (r0 + Swift.min(1, last)) * K
    let x2 = x + (r0 + Swift.min(2, last)) * K
    let x3 = x + (r0 + Swift.min(3, last)) * K
    let x4 = x + (r0 + Swift.min(4, last)) * K
    let x5 = x + (r0 + Swift.min(5, last)) * K
    let x6 = x + (r0 + Swift.min(6, last)) * K
    let x7 = x + (r0 + Swift.min(7, last)) * K
    let x8 = x + (r0 + Swift.min(8, last)) * K
    let x9 = x + (r0 + Swift.min(9, last)) * K
    let x10 = x + (r0 + Swift.min(10, last)) * K
    let x11 = x + (r0 + Swift.min(11, last)) * K
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>(), a4 = SIMD16<Float>(), a5 = SIMD16<Float>()
    var a6 = SIMD16<Float>(), a7 = SIMD16<Float>(), a8 = SIMD16<Float>(), a9 = SIMD16<Float>(), a10 = SIMD16<Float>(), a11 = SIMD16<Float>()
    var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>(), b4 = SIMD16<Float>(), b5 = SIMD16<Float>()
    var b6 = SIMD16<Float>(), b7 = SIMD16<Float>(), b8 = SIMD16<Float>(), b9 = SIMD16<Float>(), b10 = SIMD16<Float>(), b11 = SIMD16<Float>()
    var wp = panel
    for k in 0..<K {
        // (`half` is a constant in every caller: one of the two loads is compiled.)
        let w0 = half ? adnn_load_half16(wp.assumingMemoryBound(to: UInt16.self)) : adnn_load_float16(wp.assumingMemoryBound(to: Float.self))
        let w1 = !wide ? SIMD16<Float>() : half ? adnn_load_half16((wp + 32).assumingMemoryBound(to: UInt16.self))
            : adnn_load_float16((wp + 64).assumingMemoryBound(to: Float.self))
        do { let s = SIMD16<Float>(repeating: x0[k]); a0.addProduct(s, w0); if wide { b0.addProduct(s, w1) } }
        if rows > 1 { let s = SIMD16<Float>(repeating: x1[k]); a1.addProduct(s, w0); if wide { b1.addProduct(s, w1) } }
        if rows > 2 { let s = SIMD16<Float>(repeating: x2[k]); a2.addProduct(s, w0); if wide { b2.addProduct(s, w1) } }
        if rows > 3 { let s = SIMD16<Float>(repeating: x3[k]); a3.addProduct(s, w0); if wide { b3.addProduct(s, w1) } }
        if rows > 4 { let s = SIMD16<Float>(repeating: x4[k]); a4.addProduct(s, w0); if wide { b4.addProduct(s, w1) } }
        if rows > 5 { let s = SIMD16<Float>(repeating: x5[k]); a5.addProduct(s, w0); if wide { b5.addProduct(s, w1) } }
        if rows > 6 { let s = SIMD16<Float>(repeating: x6[k]); a6.addProduct(s, w0); if wide { b6.addProduct(s, w1) } }
        if rows > 7 { let s = SIMD16<Float>(repeating: x7[k]); a7.addProduct(s, w0); if wide { b7.addProduct(s, w1) } }
        if rows > 8 { let s = SIMD16<Float>(repeating: x8[k]); a8.addProduct(s, w0); if wide { b8.addProduct(s, w1) } }
        if rows > 9 { let s = SIMD16<Float>(repeating: x9[k]); a9.addProduct(s, w0); if wide { b9.addProduct(s, w1) } }
        if rows > 10 { let s = SIMD16<Float>(repeating: x10[k]); a10.addProduct(s, w0); if wide { b10.addProduct(s, w1) } }
        if rows > 11 { let s = SIMD16<Float>(repeating: x11[k]); a11.addProduct(s, w0); if wide { b11.addProduct(s, w1) } }
        // One cache line of the next panel every second step (see `pointwiseRows`).
        if let prefetch, k & 1 == 0, k >> 1 < prefetchLines { adnn_prefetch_l2(prefetch + (k >> 1) * 64) }
        wp += half ? 2 * width : 4 * width
    }
    // Epilogue in registers: scale, shift and a piecewise-linear activation on each accumulator, then one
    // store (transcendental activations run over the stored tile afterwards).
    let cheap = activation?.isPiecewiseLinear ?? true
    let (slope, ceiling) = cheap ? piecewiseLinearLanes(activation) : (SIMD16<Float>(repeating: 1), SIMD16<Float>(repeating: .infinity))
    let cols0 = Swift.min(16, validColumns), cols1 = validColumns - 16
    let sc0 = scale.map { loadPartial($0 + o0, cols0, fill: 1) } ?? SIMD16<Float>(repeating: 1)
    let sh0 = shift.map { loadPartial($0 + o0, cols0, fill: 0) } ?? SIMD16<Float>()
    let out = y + r0 * O + o0
    finishLanes(out, a0, sc0, sh0, slope, ceiling, cols0)
    if rows > 1 { finishLanes(out + O, a1, sc0, sh0, slope, ceiling, cols0) }
    if rows > 2 { finishLanes(out + 2 * O, a2, sc0, sh0, slope, ceiling, cols0) }
    if rows > 3 { finishLanes(out + 3 * O, a3, sc0, sh0, slope, ceiling, cols0) }
    if rows > 4 { finishLanes(out + 4 * O, a4, sc0, sh0, slope, ceiling, cols0) }
    if rows > 5 { finishLanes(out + 5 * O, a5, sc0, sh0, slope, ceiling, cols0) }
    if rows > 6 { finishLanes(out + 6 * O, a6, sc0, sh0, slope, ceiling, cols0) }
    if rows > 7 { finishLanes(out + 7 * O, a7, sc0, sh0, slope, ceiling, cols0) }
    if rows > 8 { finishLanes(out + 8 * O, a8, sc0, sh0, slope, ceiling, cols0) }
    if rows > 9 { finishLanes(out + 9 * O, a9, sc0, sh0, slope, ceiling, cols0) }
    if rows > 10 { finishLanes(out + 10 * O, a10, sc0, sh0, slope, ceiling, cols0) }
    if rows > 11 { finishLanes(out + 11 * O, a11, sc0, sh0, slope, ceiling, cols0) }
    if wide && cols1 > 0 {
        let sc1 = scale.map { loadPartial($0 + o0 + 16, cols1, fill: 1) } ?? SIMD16<Float>(repeating: 1)
        let sh1 = shift.map { loadPartial($0 + o0 + 16, cols1, fill: 0) } ?? SIMD16<Float>()
        let out1 = out + 16
        finishLanes(out1, b0, sc1, sh1, slope, ceiling, cols1)
        if rows > 1 { finishLanes(out1 + O, b1, sc1, sh1, slope, ceiling, cols1) }
        if rows > 2 { finishLanes(out1 + 2 * O, b2, sc1, sh1, slope, ceiling, cols1) }
        if rows > 3 { finishLanes(out1 + 3 * O, b3, sc1, sh1, slope, ceiling, cols1) }
        if rows > 4 { finishLanes(out1 + 4 * O, b4, sc1, sh1, slope, ceiling, cols1) }
        if rows > 5 { finishLanes(out1 + 5 * O, b5, sc1, sh1, slope, ceiling, cols1) }
        if rows > 6 { finishLanes(out1 + 6 * O, b6, sc1, sh1, slope, ceiling, cols1) }
        if rows > 7 { finishLanes(out1 + 7 * O, b7, sc1, sh1, slope, ceiling, cols1) }
        if rows > 8 { finishLanes(out1 + 8 * O, b8, sc1, sh1, slope, ceiling, cols1) }
        if rows > 9 { finishLanes(out1 + 9 * O, b9, sc1, sh1, slope, ceiling, cols1) }
        if rows > 10 { finishLanes(out1 + 10 * O, b10, sc1, sh1, slope, ceiling, cols1) }
        if rows > 11 { finishLanes(out1 + 11 * O, b11, sc1, sh1, slope, ceiling, cols1) }
    }
    if !cheap, let activation {
        activateRows(out, stride: O, rows: rows, columns: validColumns, activation)
    }
}

/// The epilogue's activation lanes: piecewise-linear activations (`cheap`) run in it as slope and ceiling;
/// others get identity lanes and run on the stored rows afterwards.
struct EpilogueLanes {
    var cheap: Bool, slope: SIMD16<Float>, ceiling: SIMD16<Float>
}

/// `EpilogueLanes` of `activation`.
@inline(__always)
func epilogueLanes(_ activation: ActivationKind?) -> EpilogueLanes {
    let cheap = activation?.isPiecewiseLinear ?? true
    let (slope, ceiling) = cheap ? piecewiseLinearLanes(activation) : (SIMD16<Float>(repeating: 1), SIMD16<Float>(repeating: .infinity))
    return EpilogueLanes(cheap: cheap, slope: slope, ceiling: ceiling)
}

/// Lane constants of a piecewise-linear activation for `finishLanes`: negative lanes are multiplied by
/// `slope` (ReLU/ReLU6 0, leaky ReLU its slope, none 1), lanes above `ceiling` (ReLU6 6, else +∞) clamp.
@_transparent
func piecewiseLinearLanes(_ kind: ActivationKind?) -> (slope: SIMD16<Float>, ceiling: SIMD16<Float>) {
    switch kind {
    case .relu?: return (SIMD16(repeating: 0), SIMD16(repeating: .infinity))
    case .relu6?: return (SIMD16(repeating: 0), SIMD16(repeating: 6))
    case .leakyRelu(let s)?: return (SIMD16(repeating: s), SIMD16(repeating: .infinity))
    default: return (SIMD16(repeating: 1), SIMD16(repeating: .infinity))
    }
}

/// out[0..<n] = clamp((acc · scale + shift), slope below 0, ceiling above): the per-accumulator epilogue.
/// A ReLU of a negative lane gives −0.0 (negative · 0), equal to 0 for every later use.
@_transparent
func finishLanes(_ out: UnsafeMutablePointer<Float>, _ acc: SIMD16<Float>, _ scale: SIMD16<Float>, _ shift: SIMD16<Float>,
                         _ slope: SIMD16<Float>, _ ceiling: SIMD16<Float>, _ n: Int) {
    var v = acc * scale + shift
    v.replace(with: v * slope, where: v .< 0)
    v.replace(with: ceiling, where: v .> ceiling)
    if n >= 16 { store16(out, v) } else { for i in 0..<n { out[i] = v[i] } }
}

/// `count` (≤ 16) floats from `p`, the other lanes `fill`.
@inline(__always)
private func loadPartial(_ p: UnsafePointer<Float>, _ count: Int, fill: Float) -> SIMD16<Float> {
    if count >= 16 { return load16(p) }
    var v = SIMD16<Float>(repeating: fill)
    for i in 0..<Swift.max(0, count) { v[i] = p[i] }
    return v
}

/// A transcendental activation in place on a stored tile (`rows` × `columns`, row stride `stride`): one
/// call per tile, the lane function inlined in its loop.
@inline(never)
func activateRows(_ p: UnsafeMutablePointer<Float>, stride: Int, rows: Int, columns: Int, _ kind: ActivationKind) {
    @inline(__always) func apply<F: LaneFunction>(_ f: F) {
        for r in 0..<rows {
            let row = p + r * stride
            var c = 0
            while c + 16 <= columns { store16(row + c, f(load16(row + c))); c += 16 }
            while c < columns { row[c] = f(row[c]); c += 1 }
        }
    }
    switch kind {
    case .silu: apply(SiLULanes())
    case .sigmoid: apply(SigmoidLanes())
    case .gelu: apply(GELULanes())
    case .tanh: apply(TanhLanes())
    case .relu: apply(ReLULanes())
    case .relu6: apply(ReLU6Lanes())
    case .leakyRelu(let slope): apply(LeakyReLULanes(slope: slope))
    }
}


/// The full tiles (12 × 32 on AVX-512, 6 × 16 on AVX2) with the next panel's prefetch (`pointwiseRows`), Float and half panels.
@inline(never) private func pointwiseTile12wPrefetching(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int, _ pf: UnsafeRawPointer, _ lines: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 12, r0: r0, validRows: 12, column: o0, validColumns: cols, K: K, O: O, wide: true, prefetch: pf, prefetchLines: lines)
}
@inline(never) private func pointwiseTile6nPrefetching(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int, _ pf: UnsafeRawPointer, _ lines: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 6, r0: r0, validRows: 6, column: o0, validColumns: cols, K: K, O: O, wide: false, prefetch: pf, prefetchLines: lines)
}
@inline(never) private func pointwiseTile12wPrefetchingHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int, _ pf: UnsafeRawPointer, _ lines: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 12, r0: r0, validRows: 12, column: o0, validColumns: cols, K: K, O: O, wide: true, prefetch: pf, prefetchLines: lines)
}
@inline(never) private func pointwiseTile6nPrefetchingHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int, _ pf: UnsafeRawPointer, _ lines: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 6, r0: r0, validRows: 6, column: o0, validColumns: cols, K: K, O: O, wide: false, prefetch: pf, prefetchLines: lines)
}

/// The tile of `t` (1…12) rows, narrow or wide, on Float or half panels: one out-of-line function per (rows, wide,
/// element type), each specialised on its constants with its own register allocation. (Written as one generic
/// function over the element type, the Float tiles spilled row pointers and accumulators and ran at half speed.)
@inline(__always)
private func pointwiseTileCall<W: PanelScalar>(_ t: Int, _ wide: Bool, _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                               _ panel: UnsafePointer<W>, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?,
                                               _ activation: ActivationKind?, _ r0: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    let p = UnsafeRawPointer(panel)
    switch (t, wide, W.self == Float16.self) {
    case (1, false, false): pointwiseTile1n(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (1, true, false): pointwiseTile1w(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (2, false, false): pointwiseTile2n(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (2, true, false): pointwiseTile2w(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (3, false, false): pointwiseTile3n(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (3, true, false): pointwiseTile3w(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (4, false, false): pointwiseTile4n(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (4, true, false): pointwiseTile4w(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (5, false, false): pointwiseTile5n(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (5, true, false): pointwiseTile5w(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (6, false, false): pointwiseTile6n(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (6, true, false): pointwiseTile6w(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (7, false, false): pointwiseTile7n(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (7, true, false): pointwiseTile7w(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (8, false, false): pointwiseTile8n(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (8, true, false): pointwiseTile8w(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (9, false, false): pointwiseTile9n(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (9, true, false): pointwiseTile9w(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (10, false, false): pointwiseTile10n(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (10, true, false): pointwiseTile10w(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (11, false, false): pointwiseTile11n(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (11, true, false): pointwiseTile11w(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (12, false, false): pointwiseTile12n(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (12, true, false): pointwiseTile12w(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (1, false, true): pointwiseTile1nHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (1, true, true): pointwiseTile1wHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (2, false, true): pointwiseTile2nHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (2, true, true): pointwiseTile2wHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (3, false, true): pointwiseTile3nHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (3, true, true): pointwiseTile3wHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (4, false, true): pointwiseTile4nHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (4, true, true): pointwiseTile4wHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (5, false, true): pointwiseTile5nHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (5, true, true): pointwiseTile5wHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (6, false, true): pointwiseTile6nHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (6, true, true): pointwiseTile6wHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (7, false, true): pointwiseTile7nHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (7, true, true): pointwiseTile7wHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (8, false, true): pointwiseTile8nHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (8, true, true): pointwiseTile8wHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (9, false, true): pointwiseTile9nHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (9, true, true): pointwiseTile9wHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (10, false, true): pointwiseTile10nHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (10, true, true): pointwiseTile10wHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (11, false, true): pointwiseTile11nHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (11, true, true): pointwiseTile11wHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    case (12, false, true): pointwiseTile12nHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    default: pointwiseTile12wHalf(y, x, p, scale, shift, activation, r0, t, o0, cols, K, O)
    }
}
@inline(never) private func pointwiseTile1n(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 1, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile1w(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 1, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile2n(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 2, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile2w(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 2, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile3n(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 3, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile3w(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 3, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile4n(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 4, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile4w(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 4, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile5n(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 5, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile5w(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 5, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile6n(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 6, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile6w(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 6, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile7n(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 7, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile7w(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 7, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile8n(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 8, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile8w(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 8, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile9n(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 9, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile9w(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 9, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile10n(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 10, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile10w(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 10, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile11n(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 11, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile11w(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 11, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile12n(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 12, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile12w(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: false, scale: scale, shift: shift, activation: activation, rows: 12, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile1nHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 1, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile1wHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 1, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile2nHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 2, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile2wHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 2, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile3nHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 3, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile3wHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 3, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile4nHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 4, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile4wHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 4, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile5nHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 5, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile5wHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 5, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile6nHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 6, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile6wHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 6, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile7nHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 7, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile7wHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 7, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile8nHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 8, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile8wHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 8, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile9nHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 9, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile9wHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 9, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile10nHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 10, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile10wHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 10, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile11nHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 11, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile11wHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 11, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}
@inline(never) private func pointwiseTile12nHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 12, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: false)
}
@inline(never) private func pointwiseTile12wHalf(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafeRawPointer, _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ activation: ActivationKind?, _ r0: Int, _ valid: Int, _ o0: Int, _ cols: Int, _ K: Int, _ O: Int) {
    pointwiseTile(y, x, panel, half: true, scale: scale, shift: shift, activation: activation, rows: 12, r0: r0, validRows: valid, column: o0, validColumns: cols, K: K, O: O, wide: true)
}

/// Rows `start..<end` of x through one panel in tiles of `PointwiseTuning.tileRows` pixels; the rest
/// takes a tile of exactly its rows.
@inline(__always)
func pointwiseRows<W: PanelScalar>(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafePointer<W>,
                                   scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, activation: ActivationKind?,
                                   rows: Range<Int>, column o0: Int, validColumns: Int, K: Int, O: Int, wide: Bool,
                                   nextPanel: UnsafePointer<W>? = nil, nextPanelValues: Int = 0) {
    let main = PointwiseTuning.tileRows
    var r0 = rows.lowerBound
    // Large panels (linear layers: K × 32 floats, 256 KiB at K = 2048) come from memory once per item; the
    // full tiles prefetch the next item's panel into L2, a share each, one line every second K step, so that
    // its memory traffic overlaps this panel's arithmetic instead of stalling the next item's first tile.
    let fullTiles = rows.count / main
    let prefetching = nextPanel != nil && fullTiles > 0 && ((main == 12 && wide) || (main == 6 && !wide))
    let lines = (nextPanelValues * MemoryLayout<W>.stride + 63) / 64
    let share = prefetching ? (lines + fullTiles - 1) / fullTiles : 0
    var tileIndex = 0
    while r0 < rows.upperBound {
        let n = rows.upperBound - r0
        if prefetching && n >= main, let nextPanel {
            let first = tileIndex * share
            let count = Swift.max(0, Swift.min(share, lines - first))
            let p = UnsafeRawPointer(panel), pf = UnsafeRawPointer(nextPanel) + first * 64
            switch (main == 12, W.self == Float16.self) {
            case (true, false): pointwiseTile12wPrefetching(y, x, p, scale, shift, activation, r0, o0, validColumns, K, O, pf, count)
            case (true, true): pointwiseTile12wPrefetchingHalf(y, x, p, scale, shift, activation, r0, o0, validColumns, K, O, pf, count)
            case (false, false): pointwiseTile6nPrefetching(y, x, p, scale, shift, activation, r0, o0, validColumns, K, O, pf, count)
            case (false, true): pointwiseTile6nPrefetchingHalf(y, x, p, scale, shift, activation, r0, o0, validColumns, K, O, pf, count)
            }
            tileIndex += 1
            r0 += main
            continue
        }
        // A full tile, or one of exactly the rows left (9 pixels at batch 1 computed 12 rows before: a
        // quarter of the 3×3-stage FMAs went to clamped rows).
        let t = Swift.min(n, main)
        // One out-of-line function per (rows, wide), each specialised on its constants with its own register
        // allocation (with all 24 inlined into this loop the full 12-row tiles ran slower: FER model batch 64
        // 460–680 against 700–780 images/s).
        pointwiseTileCall(t, wide, y, x, panel, scale, shift, activation, r0, o0, validColumns, K, O)
        r0 += t
    }
}

/// y = act(((x ⊙ inputScale) · Wᵀ)·scale + shift) + residual per output channel, W given packed by
/// `packPointwiseWeights` (Float or half panels) at panel width `width` (scale/shift nil = 1/0, activation nil = identity,
/// inputScale/residual nil = none). `inputScale` holds one factor per input channel for each image of
/// `imagePixels` consecutive pixels — a squeeze-and-excitation gate, applied to each block of rows in cache
/// instead of in a pass of its own; a residual — a block's skip connection — is added to each block of
/// outputs while it is in L1.
// y: [P, O], x: [P, K], packed: [panels, K, width], scale, shift: [O], inputScale: [P / imagePixels, K], residual: [P, O]
@_specialize(exported: true, where W == Float)
@_specialize(exported: true, where W == Float16)
public func pointwiseConvScaleShiftActivation<W: PanelScalar>(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                                              _ packed: UnsafePointer<W>, scale: UnsafePointer<Float>?,
                                                              shift: UnsafePointer<Float>?, activation: ActivationKind?,
                                                              inputScale: UnsafePointer<Float>? = nil, imagePixels: Int = 0,
                                                              residual: UnsafePointer<Float>? = nil,
                                                              pixels P: Int, inChannels K: Int, outChannels O: Int, width: Int) {
    precondition(width == 16 || width == 32, "pointwiseConvScaleShiftActivation: width \(width) must be 16 or 32")
    if P == 0 || O == 0 { return }
    precondition(inputScale == nil || (imagePixels > 0 && P % imagePixels == 0),
                 "pointwiseConvScaleShiftActivation: imagePixels \(imagePixels) must divide pixels \(P) with an input scale")
    if K == 0 {
        for p in 0..<P { for o in 0..<O { y[p * O + o] = 0 } }
        scaleShiftActivationRows(y, y, scale: nil, shift: shift, activation: activation, rows: 0..<P, channels: O)
        if let residual { addResidualRows(y, residual, rows: 0..<P, column: 0, columns: O, stride: O) }
        return
    }
    let (panels, narrowLast) = panelLayout(O, width)
    let tile = PointwiseTuning.tileRows
    let block = Swift.max(tile, PointwiseTuning.pixelBlock / tile * tile)
    let pixelBlocks = (P + block - 1) / block
    parallelFor(pixelBlocks * panels) { r in
        // With an input scale (a squeeze-and-excitation gate) each pixel block's rows are scaled once into a
        // buffer of this thread's (in L2) and every panel of the block reads them from there.
        let scaled: UnsafeMutablePointer<Float>? = inputScale == nil ? nil : .allocate(capacity: block * K)
        defer { scaled?.deallocate() }
        var scaledBlock = -1
        for item in r {
            let pb = item / panels, p = item % panels
            let o0 = p * width, validColumns = Swift.min(width, O - o0)
            let start = pb * block, end = Swift.min(P, start + block)
            let wide = width == 32 && !(narrowLast && p == panels - 1)
            if let inputScale, let scaled {
                if scaledBlock != pb {
                    scaleRowsPerImage(scaled, x, inputScale, rows: start..<end, channels: K, imagePixels: imagePixels)
                    scaledBlock = pb
                }
                // The block's rows from the buffer (row 0 = pixel `start`).
                pointwiseRows(y + start * O, scaled, packed + p * K * width, scale: scale, shift: shift, activation: activation,
                              rows: 0..<(end - start), column: o0, validColumns: validColumns, K: K, O: O, wide: wide)
            } else {
                // The next item of this thread's range is usually the next panel of the same pixel block.
                let prefetchNext = K >= PointwiseTuning.prefetchMinK && item + 1 < r.upperBound && p + 1 < panels
                let nextWidth = narrowLast && p + 1 == panels - 1 ? 16 : width
                pointwiseRows(y, x, packed + p * K * width, scale: scale, shift: shift, activation: activation,
                              rows: start..<end, column: o0, validColumns: validColumns, K: K, O: O, wide: wide,
                              nextPanel: prefetchNext ? packed + (p + 1) * K * width : nil, nextPanelValues: K * nextWidth)
            }
            // The block's outputs are still in L1: the skip connection is added there, not in a pass of its own.
            if let residual {
                addResidualRows(y, residual, rows: start..<end, column: o0, columns: validColumns, stride: O)
            }
        }
    }
}

/// dst[r − rows.lowerBound, k] = x[r, k] · scale[r / imagePixels, k]: rows of [·, channels] pixels scaled by
/// their image's per-channel factors.
@inline(__always)
func scaleRowsPerImage(_ dst: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ scale: UnsafePointer<Float>,
                       rows: Range<Int>, channels K: Int, imagePixels: Int) {
    for r in rows {
        let d = dst + (r - rows.lowerBound) * K, xr = x + r * K, sr = scale + (r / imagePixels) * K
        var k = 0
        while k + 16 <= K {
            let v = UnsafeRawPointer(xr + k).loadUnaligned(as: SIMD16<Float>.self) * UnsafeRawPointer(sr + k).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(d + k).storeBytes(of: v, as: SIMD16<Float>.self)
            k += 16
        }
        while k < K { d[k] = xr[k] * sr[k]; k += 1 }
    }
}

/// y[r, c] += residual[r, c] for rows `rows`, columns column ..< column + columns of [·, stride] matrices.
@inline(__always)
func addResidualRows(_ y: UnsafeMutablePointer<Float>, _ residual: UnsafePointer<Float>, rows: Range<Int>, column: Int,
                     columns: Int, stride: Int) {
    for r in rows {
        let yr = y + r * stride + column, rr = residual + r * stride + column
        var c = 0
        while c + 16 <= columns {
            let v = UnsafeRawPointer(yr + c).loadUnaligned(as: SIMD16<Float>.self) + UnsafeRawPointer(rr + c).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(yr + c).storeBytes(of: v, as: SIMD16<Float>.self)
            c += 16
        }
        while c < columns { yr[c] += rr[c]; c += 1 }
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

/// y = act(conv(x (⊙ inputScale, 1×1 only), w)·scale + shift) (+ residual) with the weights ([O, kh·kw·C] rows, OHWI) packed by
/// `packPointwiseWeights`: a 1×1 convolution runs the direct kernel on x itself, any other (one group)
/// on im2col rows gathered per block of output pixels.
// y: [N, Ho, Wo, O], x: [N, H, W, C], packed: [panels, kh·kw·C, width], scale, shift: [O], inputScale: [N, C], residual: [N, Ho, Wo, O]
@_specialize(exported: true, where W == Float)
@_specialize(exported: true, where W == Float16)
public func conv2dPackedScaleShiftActivation<W: PanelScalar>(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                                             _ packed: UnsafePointer<W>, scale: UnsafePointer<Float>?,
                                                             shift: UnsafePointer<Float>?, activation: ActivationKind?,
                                                             inputScale: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil,
                                                             _ g: Conv2DGeometry, width: Int) {
    g.validate()
    precondition(g.groups == 1, "conv2dPackedScaleShiftActivation: groups \(g.groups) must be 1")
    precondition(inputScale == nil || g.isPointwise, "conv2dPackedScaleShiftActivation: an input scale needs a 1×1 convolution")
    let P = g.batch * g.outHeight * g.outWidth, K = g.patchSize
    if P == 0 { return }
    if g.isPointwise {
        pointwiseConvScaleShiftActivation(y, x, packed, scale: scale, shift: shift, activation: activation,
                                          inputScale: inputScale, imagePixels: g.outHeight * g.outWidth, residual: residual,
                                          pixels: P, inChannels: K, outChannels: g.outChannels, width: width)
        return
    }
    // Blocks of output pixels: each gathers its im2col rows into its own buffer (in L1/L2), then runs
    // every panel over them.
    let O = g.outChannels
    let (panels, narrowLast) = panelLayout(O, width)
    let tile = PointwiseTuning.tileRows
    let block = Swift.max(tile, Swift.min(256, (1 << 14) / Swift.max(1, K)) / tile * tile)
    let blocks = (P + block - 1) / block
    parallelFor(blocks) { r in
        let col = UnsafeMutablePointer<Float>.allocate(capacity: block * K)
        defer { col.deallocate() }
        for bi in r {
            let p0 = bi * block, p1 = Swift.min(P, p0 + block)
            im2colRows(col, x, g, group: 0, pixels: p0..<p1)
            for p in 0..<panels {
                let o0 = p * width
                pointwiseRows(y + p0 * O, col, packed + p * K * width, scale: scale, shift: shift, activation: activation,
                              rows: 0..<(p1 - p0), column: o0, validColumns: Swift.min(width, O - o0), K: K, O: O,
                              wide: width == 32 && !(narrowLast && p == panels - 1))
                if let residual {
                    addResidualRows(y + p0 * O, residual + p0 * O, rows: 0..<(p1 - p0), column: o0,
                                    columns: Swift.min(width, O - o0), stride: O)
                }
            }
        }
    }
}
