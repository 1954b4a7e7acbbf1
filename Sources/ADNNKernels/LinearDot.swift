import Foundation

// Fully connected layer for inference on the weights as they are: y = x·Wᵀ + b with W in its own [O, K]
// row-major layout, each output a dot product over K taken in SIMD lanes and summed across lanes at the
// end of the tile. The packed path (`packPointwiseWeights` + `pointwiseConvScaleShiftActivation`) keeps a
// second, re-laid-out copy of every weight matrix for the life of a `withFrozenWeights` scope; for the
// large matrices of a transformer (the paper model's six 2048-wide layers: 805 MB of weights) that copy
// doubles the process's memory. With long K (≥ `LinearDotTuning.minInputs`) the lane sums are a few
// percent of a tile's FMAs; per call the kernel runs at 0.85–0.89× the packed panels (Zen 4, one thread,
// docs/benchmarks.md), the price of no second copy.
//
// A tile is `rows` pixels × `cols` outputs in registers (4 × 4 SIMD16 on AVX-512: 16 accumulators and 8
// loads per step; 3 × 3 SIMD8 on AVX2: 9 + 6 ymm), over the whole K loop; the K tail (K mod lanes) and the
// bias finish each output in scalar code. Pixels go in blocks that keep their rows of x in L2; inside a
// block the output tiles split over the kernel pool, so each thread streams its rows of W once per block.
// `linearDotNaive` is the twin the tests compare against.

/// When the unpacked dot-product kernel replaces the packed one for a linear layer under frozen weights.
public enum LinearDotTuning {
    /// Shortest input length (K) that takes the dot-product kernel.
    nonisolated(unsafe) public static var minInputs = 512
    /// Fewest weights (O·K floats) that take it: smaller matrices are packed (their copy is small).
    /// `ADNN_LINEAR_DOT_MIN_WEIGHTS` overrides it (a huge value turns the kernel off, for comparisons).
    nonisolated(unsafe) public static var minWeights: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_LINEAR_DOT_MIN_WEIGHTS"], let v = Int(s), v >= 0 { return v }
        return 1 << 20
    }()
    /// 4 × 4 SIMD16 tiles (AVX-512 machines) or 3 × 3 SIMD8 (AVX2); both run on any x86-64 CPU, only
    /// their speed differs (the tests run both).
    nonisolated(unsafe) public static var wideTiles = cpuHasAVX512
}

/// Whether `linearDot` is the inference kernel for a `[outFeatures, inFeatures]` weight.
public func linearDotApplies(inFeatures K: Int, outFeatures O: Int) -> Bool {
    K >= LinearDotTuning.minInputs && K * O >= LinearDotTuning.minWeights
}

@inline(__always) private func loadLanes<V: SIMD>(_ p: UnsafePointer<Float>, _: V.Type) -> V where V.Scalar == Float {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

/// The output (row r, column c) of a tile: the lane sum of `acc`, the K tail from `kTail`, and the bias.
@inline(__always)
private func finishDot<V: SIMD>(_ y: UnsafeMutablePointer<Float>, _ acc: V, _ xr: UnsafePointer<Float>, _ wc: UnsafePointer<Float>,
                                 kTail: Int, K: Int, bias: Float) where V.Scalar == Float {
    var s = acc.sum()
    var k = kTail
    while k < K { s += xr[k] * wc[k]; k += 1 }
    y.pointee = s + bias
}

/// One tile: pixels r0 ..< r0 + validRows × outputs o0 ..< o0 + validCols (`rows`, `cols` ≤ 4 are constants
/// at each call site; rows and columns past the valid ones read clamped pointers and are not stored).
@inline(__always)
private func linearDotTile<V: SIMD>(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                     _ bias: UnsafePointer<Float>?, r0: Int, rows R: Int, validRows: Int,
                                     o0: Int, cols C: Int, validCols: Int, K: Int, O: Int, _ lanes: V.Type) where V.Scalar == Float {
    let lr = validRows - 1, lc = validCols - 1
    let x0 = x + r0 * K, x1 = x + (r0 + Swift.min(1, lr)) * K
    let x2 = x + (r0 + Swift.min(2, lr)) * K, x3 = x + (r0 + Swift.min(3, lr)) * K
    let w0 = w + o0 * K, w1 = w + (o0 + Swift.min(1, lc)) * K
    let w2 = w + (o0 + Swift.min(2, lc)) * K, w3 = w + (o0 + Swift.min(3, lc)) * K
    var a00 = V(), a01 = V(), a02 = V(), a03 = V()
    var a10 = V(), a11 = V(), a12 = V(), a13 = V()
    var a20 = V(), a21 = V(), a22 = V(), a23 = V()
    var a30 = V(), a31 = V(), a32 = V(), a33 = V()
    let L = V.scalarCount
    var k = 0
    while k + L <= K {
        let u0 = loadLanes(w0 + k, V.self)
        let u1 = C > 1 ? loadLanes(w1 + k, V.self) : V()
        let u2 = C > 2 ? loadLanes(w2 + k, V.self) : V()
        let u3 = C > 3 ? loadLanes(w3 + k, V.self) : V()
        do {
            let v = loadLanes(x0 + k, V.self)
            a00.addProduct(v, u0)
            if C > 1 { a01.addProduct(v, u1) }
            if C > 2 { a02.addProduct(v, u2) }
            if C > 3 { a03.addProduct(v, u3) }
        }
        if R > 1 {
            let v = loadLanes(x1 + k, V.self)
            a10.addProduct(v, u0)
            if C > 1 { a11.addProduct(v, u1) }
            if C > 2 { a12.addProduct(v, u2) }
            if C > 3 { a13.addProduct(v, u3) }
        }
        if R > 2 {
            let v = loadLanes(x2 + k, V.self)
            a20.addProduct(v, u0)
            if C > 1 { a21.addProduct(v, u1) }
            if C > 2 { a22.addProduct(v, u2) }
            if C > 3 { a23.addProduct(v, u3) }
        }
        if R > 3 {
            let v = loadLanes(x3 + k, V.self)
            a30.addProduct(v, u0)
            if C > 1 { a31.addProduct(v, u1) }
            if C > 2 { a32.addProduct(v, u2) }
            if C > 3 { a33.addProduct(v, u3) }
        }
        k += L
    }
    // Each valid output: its lane sum, K tail and bias (rows and columns past `rows`/`cols` or the valid ones
    // are not stored).
    @inline(__always) func put(_ r: Int, _ c: Int, _ a: V, _ xr: UnsafePointer<Float>, _ wc: UnsafePointer<Float>) {
        if r < R && c < C && r < validRows && c < validCols {
            finishDot(y + (r0 + r) * O + o0 + c, a, xr, wc, kTail: k, K: K, bias: bias?[o0 + c] ?? 0)
        }
    }
    put(0, 0, a00, x0, w0); put(0, 1, a01, x0, w1); put(0, 2, a02, x0, w2); put(0, 3, a03, x0, w3)
    put(1, 0, a10, x1, w0); put(1, 1, a11, x1, w1); put(1, 2, a12, x1, w2); put(1, 3, a13, x1, w3)
    put(2, 0, a20, x2, w0); put(2, 1, a21, x2, w1); put(2, 2, a22, x2, w2); put(2, 3, a23, x2, w3)
    put(3, 0, a30, x3, w0); put(3, 1, a31, x3, w1); put(3, 2, a32, x3, w2); put(3, 3, a33, x3, w3)
}

/// Pixels `pixels` × every output tile in `tiles` (a range of output tiles of `cols` outputs).
@inline(__always)
private func linearDotBlock<V: SIMD>(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                      _ bias: UnsafePointer<Float>?, pixels: Range<Int>, tiles: Range<Int>,
                                      rows R: Int, cols C: Int, K: Int, O: Int, _ lanes: V.Type) where V.Scalar == Float {
    for t in tiles {
        let o0 = t * C, vc = Swift.min(C, O - o0)
        var r0 = pixels.lowerBound
        while r0 < pixels.upperBound {
            let vr = Swift.min(R, pixels.upperBound - r0)
            linearDotTile(y, x, w, bias, r0: r0, rows: R, validRows: vr, o0: o0, cols: C, validCols: vc, K: K, O: O, V.self)
            r0 += R
        }
    }
}

@inline(never)
private func linearDotBlock16x4x4(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                  _ bias: UnsafePointer<Float>?, _ pixels: Range<Int>, _ tiles: Range<Int>, _ K: Int, _ O: Int) {
    linearDotBlock(y, x, w, bias, pixels: pixels, tiles: tiles, rows: 4, cols: 4, K: K, O: O, SIMD16<Float>.self)
}

@inline(never)
private func linearDotBlock8x3x3(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                 _ bias: UnsafePointer<Float>?, _ pixels: Range<Int>, _ tiles: Range<Int>, _ K: Int, _ O: Int) {
    linearDotBlock(y, x, w, bias, pixels: pixels, tiles: tiles, rows: 3, cols: 3, K: K, O: O, SIMD8<Float>.self)
}

/// y = x·Wᵀ + bias (bias nil = 0) on W in its own layout: the inference kernel of large linear layers
/// (`linearDotApplies`). Accumulates in Float, lanes first, so results differ from a sequential sum by
/// rounding only.
// y: [P, O], x: [P, K], w: [O, K], bias: [O]
public func linearDot(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                      bias: UnsafePointer<Float>?, rows P: Int, inFeatures K: Int, outFeatures O: Int) {
    if P == 0 || O == 0 { return }
    let wide = LinearDotTuning.wideTiles
    let side = wide ? 4 : 3   // the tiles are square: side pixels × side outputs
    let tiles = (O + side - 1) / side
    // Pixel blocks whose rows of x fit in half of a 1 MiB L2, and at least 64 rows (L3 then holds them): batch 1
    // of the paper model (49 tokens × 2048 or 4096) is one block, W streamed from memory once.
    let block = Swift.max(64, (1 << 17) / Swift.max(1, K)) / side * side
    var p0 = 0
    while p0 < P {
        let pixels = p0..<Swift.min(P, p0 + block)
        parallelFor(tiles, grain: 4) { r in
            if wide { linearDotBlock16x4x4(y, x, w, bias, pixels, r, K, O) }
            else { linearDotBlock8x3x3(y, x, w, bias, pixels, r, K, O) }
        }
        p0 += block
    }
}

/// Naive twin of `linearDot` (Double accumulation).
// y: [P, O], x: [P, K], w: [O, K], bias: [O]
public func linearDotNaive(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                           bias: UnsafePointer<Float>?, rows P: Int, inFeatures K: Int, outFeatures O: Int) {
    for p in 0..<P {
        for o in 0..<O {
            var s = Double(bias?[o] ?? 0)
            for k in 0..<K { s += Double(x[p * K + k]) * Double(w[o * K + k]) }
            y[p * O + o] = Float(s)
        }
    }
}
