import Foundation

// Row-major single-threaded SGEMM in Swift: C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C.
//
// Why it exists: OpenBLAS picks its kernels from a table of CPU models it knows. A CPU newer than the
// installed OpenBLAS (Debian 12's 0.3.21 on a 2024 Xeon, family 6 model 207) falls back to its "Prescott"
// SSE3 kernels — 3–4× slower than the AVX-512 ones the same CPU runs — and the project may not override
// the choice (`OPENBLAS_CORETYPE` stays the user's). This kernel is compiled for the building CPU
// (`-march=native`), so it never depends on a table. `GEMMTuning.backend` picks it over OpenBLAS when
// OpenBLAS did not choose an AVX2-or-better kernel set (see GEMM.swift).
//
// Scheme (BLIS-like, A not packed): K is cut into blocks of `kBlock`; for each block, `op(B)` is packed
// `columnBlock` columns at a time into panels of 32 (AVX-512) or 16 (AVX2) columns — [kc, width] row-major,
// zero-padded past n, the last panel 16 wide when n mod 32 is 1…16 — and every tile of `tileRows` rows of
// C (12 on AVX-512, 6 on AVX2) runs over the panels with its rows of A read in place: for A the element
// (i, p) is at `a[i·rowStride + p·kStride]` (row stride la and k stride 1, or 1 and la when transposed),
// so one register offset walks all rows' k. The tile's accumulators stay in registers over the block
// (12 × 32 = 24 zmm on AVX-512, 6 × 16 = 12 ymm on AVX2: each loaded B vector feeds 12 or 6 FMAs), then
// C = alpha · acc + beta · C (beta is 1 for the later K blocks; C is not read when beta is 0). A row tail
// gets a tile of exactly its rows. `sgemmNaive` (GEMM.swift) is the twin the tests compare against.

@inline(__always) private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) private func load16(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) private func store16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Blocking of the Swift GEMM.
public enum GEMMKernelTuning {
    /// Rows of C per register tile: 12 on AVX-512, 6 on AVX2 (1…12; tests set the other machine's value).
    nonisolated(unsafe) public static var tileRows = cpuHasAVX512 ? 12 : 6
    /// Columns per packed B panel: 32 on AVX-512 (two zmm per row), 16 on AVX2 (two ymm).
    nonisolated(unsafe) public static var panelWidth = cpuHasAVX512 ? 32 : 16
    /// Depth of a K block (the tile's rows of A, 12 × 256 floats, stay in L1 across the panels).
    nonisolated(unsafe) public static var kBlock = 256
    /// Columns of B packed at a time (256 × 256 floats = 256 KiB, held in L2); `ADNN_GEMM_NC` overrides it.
    nonisolated(unsafe) public static var columnBlock: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_GEMM_NC"], let v = Int(s), v >= 32 { return v / 32 * 32 }
        return 256
    }()
}

/// C = alpha · acc + beta · C on one row of up to 16 columns (C is not read when beta is 0).
@_transparent
private func storeRow(_ out: UnsafeMutablePointer<Float>, _ acc: SIMD16<Float>, _ alpha: Float, _ beta: Float, _ n: Int) {
    if n >= 16 {
        var v = acc * alpha
        if beta == 1 { v += load16(out) } else if beta != 0 { v.addProduct(SIMD16(repeating: beta), load16(out)) }
        store16(out, v)
    } else if beta == 0 {
        for i in 0..<n { out[i] = alpha * acc[i] }
    } else {
        for i in 0..<n { out[i] = alpha * acc[i] + beta * out[i] }
    }
}

/// One tile: `rows` (a constant at every call site) rows of C × one panel (`wide`: 32 columns, else 16),
/// over `kc` steps of K. `a` points at the tile's first row at the block's first k.
// c: [rows, ldc] (first validCols columns written), a: element (i, p) at a[i·rowStride + p·kStride], bp: [kc, width]
@inline(__always)
private func gemmTile(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rowStride: Int, _ kStride: Int,
                      _ bp: UnsafePointer<Float>, _ kc: Int, _ validCols: Int, _ alpha: Float, _ beta: Float,
                      rows: Int, wide: Bool) {
    let width = wide ? 32 : 16
    let x0 = a
    let x1 = a + Swift.min(1, rows - 1) * rowStride
    let x2 = a + Swift.min(2, rows - 1) * rowStride
    let x3 = a + Swift.min(3, rows - 1) * rowStride
    let x4 = a + Swift.min(4, rows - 1) * rowStride
    let x5 = a + Swift.min(5, rows - 1) * rowStride
    let x6 = a + Swift.min(6, rows - 1) * rowStride
    let x7 = a + Swift.min(7, rows - 1) * rowStride
    let x8 = a + Swift.min(8, rows - 1) * rowStride
    let x9 = a + Swift.min(9, rows - 1) * rowStride
    let x10 = a + Swift.min(10, rows - 1) * rowStride
    let x11 = a + Swift.min(11, rows - 1) * rowStride
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>(), a4 = SIMD16<Float>(), a5 = SIMD16<Float>()
    var a6 = SIMD16<Float>(), a7 = SIMD16<Float>(), a8 = SIMD16<Float>(), a9 = SIMD16<Float>(), a10 = SIMD16<Float>(), a11 = SIMD16<Float>()
    var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>(), b4 = SIMD16<Float>(), b5 = SIMD16<Float>()
    var b6 = SIMD16<Float>(), b7 = SIMD16<Float>(), b8 = SIMD16<Float>(), b9 = SIMD16<Float>(), b10 = SIMD16<Float>(), b11 = SIMD16<Float>()
    var wp = bp
    var off = 0
    for _ in 0..<kc {
        let w0 = load16(wp), w1 = wide ? load16(wp + 16) : SIMD16<Float>()
        do { let s = SIMD16<Float>(repeating: x0[off]); a0.addProduct(s, w0); if wide { b0.addProduct(s, w1) } }
        if rows > 1 { let s = SIMD16<Float>(repeating: x1[off]); a1.addProduct(s, w0); if wide { b1.addProduct(s, w1) } }
        if rows > 2 { let s = SIMD16<Float>(repeating: x2[off]); a2.addProduct(s, w0); if wide { b2.addProduct(s, w1) } }
        if rows > 3 { let s = SIMD16<Float>(repeating: x3[off]); a3.addProduct(s, w0); if wide { b3.addProduct(s, w1) } }
        if rows > 4 { let s = SIMD16<Float>(repeating: x4[off]); a4.addProduct(s, w0); if wide { b4.addProduct(s, w1) } }
        if rows > 5 { let s = SIMD16<Float>(repeating: x5[off]); a5.addProduct(s, w0); if wide { b5.addProduct(s, w1) } }
        if rows > 6 { let s = SIMD16<Float>(repeating: x6[off]); a6.addProduct(s, w0); if wide { b6.addProduct(s, w1) } }
        if rows > 7 { let s = SIMD16<Float>(repeating: x7[off]); a7.addProduct(s, w0); if wide { b7.addProduct(s, w1) } }
        if rows > 8 { let s = SIMD16<Float>(repeating: x8[off]); a8.addProduct(s, w0); if wide { b8.addProduct(s, w1) } }
        if rows > 9 { let s = SIMD16<Float>(repeating: x9[off]); a9.addProduct(s, w0); if wide { b9.addProduct(s, w1) } }
        if rows > 10 { let s = SIMD16<Float>(repeating: x10[off]); a10.addProduct(s, w0); if wide { b10.addProduct(s, w1) } }
        if rows > 11 { let s = SIMD16<Float>(repeating: x11[off]); a11.addProduct(s, w0); if wide { b11.addProduct(s, w1) } }
        wp += width
        off += kStride
    }
    let cols0 = Swift.min(16, validCols)
    storeRow(c, a0, alpha, beta, cols0)
    if rows > 1 { storeRow(c + ldc, a1, alpha, beta, cols0) }
    if rows > 2 { storeRow(c + 2 * ldc, a2, alpha, beta, cols0) }
    if rows > 3 { storeRow(c + 3 * ldc, a3, alpha, beta, cols0) }
    if rows > 4 { storeRow(c + 4 * ldc, a4, alpha, beta, cols0) }
    if rows > 5 { storeRow(c + 5 * ldc, a5, alpha, beta, cols0) }
    if rows > 6 { storeRow(c + 6 * ldc, a6, alpha, beta, cols0) }
    if rows > 7 { storeRow(c + 7 * ldc, a7, alpha, beta, cols0) }
    if rows > 8 { storeRow(c + 8 * ldc, a8, alpha, beta, cols0) }
    if rows > 9 { storeRow(c + 9 * ldc, a9, alpha, beta, cols0) }
    if rows > 10 { storeRow(c + 10 * ldc, a10, alpha, beta, cols0) }
    if rows > 11 { storeRow(c + 11 * ldc, a11, alpha, beta, cols0) }
    let cols1 = validCols - 16
    if wide && cols1 > 0 {
        let c1 = c + 16
        storeRow(c1, b0, alpha, beta, cols1)
        if rows > 1 { storeRow(c1 + ldc, b1, alpha, beta, cols1) }
        if rows > 2 { storeRow(c1 + 2 * ldc, b2, alpha, beta, cols1) }
        if rows > 3 { storeRow(c1 + 3 * ldc, b3, alpha, beta, cols1) }
        if rows > 4 { storeRow(c1 + 4 * ldc, b4, alpha, beta, cols1) }
        if rows > 5 { storeRow(c1 + 5 * ldc, b5, alpha, beta, cols1) }
        if rows > 6 { storeRow(c1 + 6 * ldc, b6, alpha, beta, cols1) }
        if rows > 7 { storeRow(c1 + 7 * ldc, b7, alpha, beta, cols1) }
        if rows > 8 { storeRow(c1 + 8 * ldc, b8, alpha, beta, cols1) }
        if rows > 9 { storeRow(c1 + 9 * ldc, b9, alpha, beta, cols1) }
        if rows > 10 { storeRow(c1 + 10 * ldc, b10, alpha, beta, cols1) }
        if rows > 11 { storeRow(c1 + 11 * ldc, b11, alpha, beta, cols1) }
    }
}

private typealias GEMMTileFunction = (UnsafeMutablePointer<Float>, Int, UnsafePointer<Float>, Int, Int,
                                      UnsafePointer<Float>, Int, Int, Float, Float) -> Void

@inline(never) private func gemmTile1n(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 1, wide: false)
}
@inline(never) private func gemmTile1w(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 1, wide: true)
}
@inline(never) private func gemmTile2n(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 2, wide: false)
}
@inline(never) private func gemmTile2w(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 2, wide: true)
}
@inline(never) private func gemmTile3n(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 3, wide: false)
}
@inline(never) private func gemmTile3w(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 3, wide: true)
}
@inline(never) private func gemmTile4n(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 4, wide: false)
}
@inline(never) private func gemmTile4w(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 4, wide: true)
}
@inline(never) private func gemmTile5n(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 5, wide: false)
}
@inline(never) private func gemmTile5w(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 5, wide: true)
}
@inline(never) private func gemmTile6n(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 6, wide: false)
}
@inline(never) private func gemmTile6w(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 6, wide: true)
}
@inline(never) private func gemmTile7n(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 7, wide: false)
}
@inline(never) private func gemmTile7w(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 7, wide: true)
}
@inline(never) private func gemmTile8n(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 8, wide: false)
}
@inline(never) private func gemmTile8w(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 8, wide: true)
}
@inline(never) private func gemmTile9n(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 9, wide: false)
}
@inline(never) private func gemmTile9w(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 9, wide: true)
}
@inline(never) private func gemmTile10n(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 10, wide: false)
}
@inline(never) private func gemmTile10w(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 10, wide: true)
}
@inline(never) private func gemmTile11n(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 11, wide: false)
}
@inline(never) private func gemmTile11w(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 11, wide: true)
}
@inline(never) private func gemmTile12n(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 12, wide: false)
}
@inline(never) private func gemmTile12w(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ ks: Int, _ bp: UnsafePointer<Float>, _ kc: Int, _ cols: Int, _ alpha: Float, _ beta: Float) {
    gemmTile(c, ldc, a, rs, ks, bp, kc, cols, alpha, beta, rows: 12, wide: true)
}

/// The tile function for `rows` rows (1…12) and panel width 32 (`wide`) or 16.
private let gemmTiles: [[GEMMTileFunction]] = [
    [gemmTile1n, gemmTile2n, gemmTile3n, gemmTile4n, gemmTile5n, gemmTile6n,
     gemmTile7n, gemmTile8n, gemmTile9n, gemmTile10n, gemmTile11n, gemmTile12n],
    [gemmTile1w, gemmTile2w, gemmTile3w, gemmTile4w, gemmTile5w, gemmTile6w,
     gemmTile7w, gemmTile8w, gemmTile9w, gemmTile10w, gemmTile11w, gemmTile12w],
]

/// Width of the panel that starts `remaining` columns before the end of a packed block: `width`, except 16
/// for a last panel of 1…16 columns at width 32.
@inline(__always)
private func gemmPanelWidth(remaining: Int, width: Int) -> Int { width == 32 && remaining <= 16 ? 16 : width }

/// The blocking in effect (`GEMMKernelTuning`), clamped to what the kernel supports: panel width 16 or 32,
/// 1…12 tile rows, a positive K block, a column block that is a multiple of the panel width.
@inline(__always)
private func gemmBlocking() -> (width: Int, tileRows: Int, kBlock: Int, columnBlock: Int) {
    let width = GEMMKernelTuning.panelWidth == 16 ? 16 : 32
    return (width, Swift.max(1, Swift.min(12, GEMMKernelTuning.tileRows)), Swift.max(1, GEMMKernelTuning.kBlock),
            Swift.max(width, GEMMKernelTuning.columnBlock / width * width))
}

/// Packs op(B)[p0 ..< p0 + kc, j0 ..< j0 + nc] into panels of `width` columns (the last one 16 wide when
/// `width` is 32 and nc mod 32 is 1…16), each [kc, panel width] row-major, columns past nc zero.
// bp: panels, b: [k, n] (ldb lb) or, transposed, [n, k]
private func packGEMMPanels(_ bp: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, lb: Int, transB: Bool,
                            p0: Int, kc: Int, j0: Int, nc: Int, width: Int) {
    var dst = bp
    var j = 0
    while j < nc {
        let pw = gemmPanelWidth(remaining: nc - j, width: width)
        let valid = Swift.min(pw, nc - j)
        if !transB {
            var src = b + p0 * lb + j0 + j
            if valid == pw {
                for _ in 0..<kc {
                    store16(dst, load16(src))
                    if pw == 32 { store16(dst + 16, load16(src + 16)) }
                    dst += pw; src += lb
                }
            } else {
                for _ in 0..<kc {
                    for c in 0..<valid { dst[c] = src[c] }
                    for c in valid..<pw { dst[c] = 0 }
                    dst += pw; src += lb
                }
            }
        } else {
            // Column c of the panel is row j0 + j + c of the stored B, contiguous along k.
            for c in 0..<valid {
                let src = b + (j0 + j + c) * lb + p0
                for p in 0..<kc { dst[p * pw + c] = src[p] }
            }
            if valid < pw { for p in 0..<kc { for c in valid..<pw { dst[p * pw + c] = 0 } } }
            dst += kc * pw
        }
        j += pw
    }
}

/// Every tile of rows `rows` of C × the packed column block `j0 ..< j0 + nc` for one K block (`p0`, `kc`).
@inline(__always)
private func gemmBlockRows(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ bp: UnsafePointer<Float>,
                           rows: Range<Int>, p0: Int, kc: Int, j0: Int, nc: Int, rowStride: Int, kStride: Int,
                           alpha: Float, beta: Float, lc: Int, width: Int, tileRows: Int) {
    var i0 = rows.lowerBound
    while i0 < rows.upperBound {
        let r = Swift.min(tileRows, rows.upperBound - i0)
        let aTile = a + i0 * rowStride + p0 * kStride
        let cRow = c + i0 * lc + j0
        var j = 0
        var panel = bp
        if r == 12 && width == 32 {
            // The common full AVX-512 tile called directly (no table lookup per tile).
            while j < nc {
                let pw = gemmPanelWidth(remaining: nc - j, width: 32)
                if pw == 32 { gemmTile12w(cRow + j, lc, aTile, rowStride, kStride, panel, kc, Swift.min(32, nc - j), alpha, beta) }
                else { gemmTile12n(cRow + j, lc, aTile, rowStride, kStride, panel, kc, nc - j, alpha, beta) }
                panel += kc * pw
                j += pw
            }
        } else if r == 6 && width == 16 {
            // The full AVX2 tile.
            while j < nc {
                gemmTile6n(cRow + j, lc, aTile, rowStride, kStride, panel, kc, Swift.min(16, nc - j), alpha, beta)
                panel += kc * 16
                j += 16
            }
        } else {
            let wide = gemmTiles[1][r - 1], narrow = gemmTiles[0][r - 1]
            while j < nc {
                let pw = gemmPanelWidth(remaining: nc - j, width: width)
                (pw == 32 ? wide : narrow)(cRow + j, lc, aTile, rowStride, kStride, panel, kc, Swift.min(pw, nc - j), alpha, beta)
                panel += kc * pw
                j += pw
            }
        }
        i0 += r
    }
}

/// Floats of one packed block of `nc` columns (panels of `width`, the last one possibly 16) × `kc`.
@inline(__always)
private func packedBlockCount(kc: Int, nc: Int, width: Int) -> Int {
    let full = nc / width, rest = nc % width
    return kc * (full * width + (rest == 0 ? 0 : gemmPanelWidth(remaining: rest, width: width)))
}

/// Single-threaded C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C, row-major with leading dimensions
/// `la`, `lb`, `lc` of the stored matrices (A is [m, k] or, transposed, [k, m]; B is [k, n] or [n, k]).
/// C is not read when beta is 0; nothing is written when m, n or k is 0 (`sgemm` handles k = 0 itself).
// c: [m, lc], a: [m, la] or [k, la], b: [k, lb] or [n, lb]
public func sgemmSwift(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                       m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float,
                       la: Int, lb: Int, lc: Int) {
    if m <= 0 || n <= 0 || k <= 0 { return }
    let (width, tileRows, kBlock, columnBlock) = gemmBlocking()
    let ncMax = Swift.min(columnBlock, n)
    let kcMax = Swift.min(kBlock, k)
    let bp = UnsafeMutablePointer<Float>.allocate(capacity: packedBlockCount(kc: kcMax, nc: ncMax, width: width))
    defer { bp.deallocate() }
    let rowStride = transA ? 1 : la, kStride = transA ? la : 1
    var p0 = 0
    while p0 < k {
        let kc = Swift.min(kcMax, k - p0)
        var j0 = 0
        while j0 < n {
            let nc = Swift.min(ncMax, n - j0)
            packGEMMPanels(bp, b, lb: lb, transB: transB, p0: p0, kc: kc, j0: j0, nc: nc, width: width)
            gemmBlockRows(c, a, bp, rows: 0..<m, p0: p0, kc: kc, j0: j0, nc: nc, rowStride: rowStride, kStride: kStride,
                          alpha: alpha, beta: p0 == 0 ? beta : 1, lc: lc, width: width, tileRows: tileRows)
            j0 += nc
        }
        p0 += kc
    }
}

/// `sgemmSwift` on the kernel pool: op(B) is packed once, its (K block × column block) pieces in parallel,
/// into one shared buffer; then work items of (row range × column block) each run every K block in order
/// over their own part of C. (Splitting C into row blocks that each call the single-threaded GEMM packs
/// all of B once per block: at 576 × 1152 → 192, eight blocks spent 40 % of the time packing.)
// c: [m, lc], a: [m, la] or [k, la], b: [k, lb] or [n, lb]
public func sgemmSwiftParallel(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                               m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float,
                               la: Int, lb: Int, lc: Int) {
    if m <= 0 || n <= 0 || k <= 0 { return }
    let threads = Threading.threads
    let (width, tileRows, kBlock, columnBlock) = gemmBlocking()
    let kBlocks = (k + kBlock - 1) / kBlock, columnBlocks = (n + columnBlock - 1) / columnBlock
    // Offsets of the packed pieces: piece (kb, jb) at offsets[kb * columnBlocks + jb].
    var offsets = [Int](repeating: 0, count: kBlocks * columnBlocks + 1)
    for kb in 0..<kBlocks {
        let kc = Swift.min(kBlock, k - kb * kBlock)
        for jb in 0..<columnBlocks {
            let nc = Swift.min(columnBlock, n - jb * columnBlock)
            offsets[kb * columnBlocks + jb + 1] = offsets[kb * columnBlocks + jb] + packedBlockCount(kc: kc, nc: nc, width: width)
        }
    }
    let bp = UnsafeMutablePointer<Float>.allocate(capacity: offsets[kBlocks * columnBlocks])
    defer { bp.deallocate() }
    offsets.withUnsafeBufferPointer { off in
        let pieces = kBlocks * columnBlocks
        parallelChunks(pieces, chunks: Swift.min(pieces, threads * 4)) { r in
            for piece in r {
                let kb = piece / columnBlocks, jb = piece % columnBlocks
                packGEMMPanels(bp + off[piece], b, lb: lb, transB: transB, p0: kb * kBlock, kc: Swift.min(kBlock, k - kb * kBlock),
                               j0: jb * columnBlock, nc: Swift.min(columnBlock, n - jb * columnBlock), width: width)
            }
        }
        // Row ranges of whole tiles, enough items for ~4 per thread.
        let tiles = (m + tileRows - 1) / tileRows
        let rowChunks = Swift.max(1, Swift.min(tiles, (threads * 4 + columnBlocks - 1) / columnBlocks))
        let rowStride = transA ? 1 : la, kStride = transA ? la : 1
        parallelChunks(rowChunks * columnBlocks, chunks: rowChunks * columnBlocks) { r in
            for item in r {
                let rc = item / columnBlocks, jb = item % columnBlocks
                let t0 = rc * tiles / rowChunks, t1 = (rc + 1) * tiles / rowChunks
                let rows = (t0 * tileRows)..<Swift.min(m, t1 * tileRows)
                if rows.isEmpty { continue }
                let j0 = jb * columnBlock, nc = Swift.min(columnBlock, n - j0)
                for kb in 0..<kBlocks {
                    let p0 = kb * kBlock
                    gemmBlockRows(c, a, UnsafePointer(bp + off[kb * columnBlocks + jb]), rows: rows, p0: p0,
                                  kc: Swift.min(kBlock, k - p0), j0: j0, nc: nc, rowStride: rowStride, kStride: kStride,
                                  alpha: alpha, beta: kb == 0 ? beta : 1, lc: lc, width: width, tileRows: tileRows)
                }
            }
        }
    }
}
