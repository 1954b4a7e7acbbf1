import Foundation

// Colour conversions on 8-bit images, following OpenCV's 8-bit conventions bit for bit
// (integer arithmetic and lookup tables of `cv::cvtColor` for RGB↔GRAY and RGB↔Lab).

extension PixelImage {
    /// The image as one gray channel: `Y = 0.299 R + 0.587 G + 0.114 B` in OpenCV's 14-bit fixed
    /// point (`cv::COLOR_RGB2GRAY`). Gray images are returned unchanged.
    public func toGray() -> PixelImage {
        if channels == 1 { return self }
        let n = width * height, c = channels
        var out = [UInt8](repeating: 0, count: n)
        pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                rgbToGrayRow(d.baseAddress!, s.baseAddress!, n, stride: c)
            }
        }
        return PixelImage(width: width, height: height, channels: 1, pixels: out)
    }

    /// The image with three channels: gray is replicated, RGB returned unchanged, RGBA loses alpha.
    public func toRGB() -> PixelImage {
        if channels == 3 { return self }
        let n = width * height, c = channels
        var out = [UInt8](repeating: 0, count: n * 3)
        pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                if c == 1 {
                    for i in 0..<n { let v = s[i]; d[3 * i] = v; d[3 * i + 1] = v; d[3 * i + 2] = v }
                } else {
                    for i in 0..<n { d[3 * i] = s[c * i]; d[3 * i + 1] = s[c * i + 1]; d[3 * i + 2] = s[c * i + 2] }
                }
            }
        }
        return PixelImage(width: width, height: height, channels: 3, pixels: out)
    }

    /// The image with `channels` (1 or 3) channels, converting as `toGray()` / `toRGB()`.
    public func converted(toChannels channels: Int) -> PixelImage {
        channels == 1 ? toGray() : toRGB()
    }

    /// RGB → CIE L*a*b* with OpenCV's 8-bit encoding (`cv::COLOR_RGB2Lab` on `CV_8UC3`:
    /// L·255/100, a + 128, b + 128, D65 white, sRGB gamma).
    public func rgbToLab() -> PixelImage {
        let src = toRGB()
        var out = [UInt8](repeating: 0, count: src.count)
        src.pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                rgbToLab8(d.baseAddress!, s.baseAddress!, width * height)
            }
        }
        return PixelImage(width: width, height: height, channels: 3, pixels: out)
    }

    /// CIE L*a*b* (OpenCV 8-bit encoding) → RGB (`cv::COLOR_Lab2RGB` on `CV_8UC3`).
    public func labToRGB() -> PixelImage {
        precondition(channels == 3, "labToRGB needs a 3-channel image")
        var out = [UInt8](repeating: 0, count: count)
        pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                lab8ToRGB(d.baseAddress!, s.baseAddress!, width * height)
            }
        }
        return PixelImage(width: width, height: height, channels: 3, pixels: out)
    }
}

/// Gray from interleaved RGB(A) pixels: `(4899 R + 9617 G + 1868 B + 8192) >> 14`.
@inline(__always)
func rgbToGrayRow(_ dst: UnsafeMutablePointer<UInt8>, _ src: UnsafePointer<UInt8>, _ n: Int, stride: Int) {
    var p = src
    for i in 0..<n {
        let v = (Int32(p[0]) &* 4899 &+ Int32(p[1]) &* 9617 &+ Int32(p[2]) &* 1868 &+ 8192) >> 14
        dst[i] = UInt8(truncatingIfNeeded: v)
        p += stride
    }
}

// MARK: - Lab tables (OpenCV's integer RGB2Lab_b / Lab2RGBinteger)

/// Fixed-point tables for the 8-bit Lab conversions, built once.
final class LabTables: Sendable {
    static let shared = LabTables()

    /// sRGB → linear, scaled by 255·8 (`gamma_shift` 3).
    let gamma: [Int32]
    /// f(t) = t^(1/3) (or the linear toe) scaled by 2^15, indexed by linear XYZ·255·8.
    let cbrt: [Int32]
    /// RGB → X/Xn, Y, Z/Zn rows in 2^12 fixed point.
    let toXYZ: [Int32]
    /// For each 8-bit L: (Y, f(Y)) in 2^14 fixed point.
    let lToYF: [Int32]
    /// f⁻¹ for the a/b paths, indexed by value − `abMin`, in 2^14 fixed point.
    let abToXZ: [Int32]
    let abMin = -8145
    /// XYZ → RGB rows (white point folded in) in 2^12 fixed point.
    let toRGB: [Int32]
    /// linear (2^12 steps) → sRGB 8-bit.
    let invGamma: [UInt8]

    private init() {
        let d65 = [Double(bitPattern: 0x3fee6a22b3892ee8), 1.0, Double(bitPattern: 0x3ff16b8950763a19)]
        let rgb2xyz: [Double] = [0x3fda65a14488c60d, 0x3fd6e297396d0918, 0x3fc71819d2391d58,
                                 0x3fcb38cda6e75ff6, 0x3fe6e297396d0918, 0x3fb279aae6c8f755,
                                 0x3f93cc4ac6cdaf4b, 0x3fbe836eb4e98138, 0x3fee68427418d691].map { Double(bitPattern: $0) }
        let xyz2rgb: [Double] = [0x4009ec804102ff8f, 0xbff8982a9930be0e, 0xbfdfe7ff583a53b9,
                                 0xbfef042528ae74f3, 0x3ffe040f23897204, 0x3fa546d3f9e7b80b,
                                 0x3fac7de5082cf52c, 0xbfca1e14bdfd2631, 0x3ff0eabef06b3786].map { Double(bitPattern: $0) }
        func applyGamma(_ x: Double) -> Double { x <= 0.04045 ? x / 12.92 : pow((x + 0.055) / 1.055, 2.4) }
        func applyInvGamma(_ x: Double) -> Double { x <= 0.0031308 ? x * 12.92 : pow(x, 1.0 / 2.4) * 1.055 - 0.055 }
        func rint(_ x: Double) -> Int32 { Int32(x.rounded(.toNearestOrEven)) }
        func rintf(_ x: Float) -> Int32 { Int32(x.rounded(.toNearestOrEven)) }

        gamma = (0..<256).map { i in rint(Double(Float(255 * 8)) * applyGamma(Double(Float(i) / Float(255)))) }

        let lthresh = Float(216) / Float(24389), lscale = Float(841) / Float(108), lbias = Float(16) / Float(116)
        let cbScale = Float(1.0 / (255.0 * 8.0))
        cbrt = (0..<(256 * 3 / 2 * 8)).map { i in
            let x = cbScale * Float(i)
            let f: Float = x < lthresh ? lbias.addingProduct(x, lscale) : turkowskiCbrt(x)
            return rintf(Float(1 << 15) * f)
        }

        var c = [Int32](repeating: 0, count: 9)
        for i in 0..<3 { for j in 0..<3 { c[i * 3 + j] = rint(4096.0 * rgb2xyz[i * 3 + j] / d65[i]) } }
        toXYZ = c

        var lt = [Int32](repeating: 0, count: 512)
        let base = 1 << 14
        for i in 0..<256 {
            var y: Int32, ify: Int32
            if i <= 20 {
                y = rintf(Float(i * base * 20 * 9) / Float(17 * 29 * 29 * 29))
                ify = rintf(Float(base) * (Float(16) / Float(116) + Float(i * 5) / Float(3 * 17 * 29)))
            } else {
                let fy = Float(i * 100 * base) / Float(255 * 116) + Float(16 * base) / Float(116)
                ify = rintf(fy)
                y = rintf(fy * fy * fy / Float(base * base))
            }
            lt[2 * i] = y; lt[2 * i + 1] = ify
        }
        lToYF = lt

        let abCount = base * 9 / 4
        var ab = [Int32](repeating: 0, count: abCount)
        for i in abMin..<(abCount + abMin) {
            let v = i <= 3390 ? i * 108 / 841 - base * 16 / 116 * 108 / 841 : i * i / base * i / base
            ab[i - abMin] = Int32(v)
        }
        abToXZ = ab

        var r = [Int32](repeating: 0, count: 9)
        for row in 0..<3 { for i in 0..<3 { r[row * 3 + i] = rint(4096.0 * xyz2rgb[row * 3 + i] * d65[i]) } }
        toRGB = r

        invGamma = (0..<4096).map { i in
            let x = Float(1.0 / 4096.0) * Float(i)
            return UInt8(clamping: rintf(Float(255) * Float(applyInvGamma(Double(x)))))
        }
    }
}

/// Cube root of a positive `Float` as OpenCV's `softfloat` computes it (Turkowski's quartic
/// rational approximation evaluated in `Double`, mantissa truncated to 23 bits). Matching it
/// bit for bit matters: the CLAHE redistribution step amplifies a single-level difference in L.
func turkowskiCbrt(_ x: Float) -> Float {
    let bits = x.bitPattern
    if bits & 0x7fff_ffff == 0 { return 0 }
    var ex = Int((bits >> 23) & 0xff) - 127
    var shx = ex % 3
    shx -= shx >= 0 ? 3 : 0
    ex = (ex - shx) / 3 - 1
    var fr = Double(bitPattern: UInt64(shx + 1023) << 52 | UInt64(bits & 0x7f_ffff) << 29)   // [0.125, 1)
    let a1 = Double(bitPattern: 0x4046a09e6653ba70), a2 = Double(bitPattern: 0x406808f46c6116e0)
    let a3 = Double(bitPattern: 0x405dca97439cae14), a4 = Double(bitPattern: 0x402add70d2827500)
    let a5 = Double(bitPattern: 0x3fc4f15f83f55d2d), b1 = Double(bitPattern: 0x402d9e20660edb21)
    let b2 = Double(bitPattern: 0x4062ff15c0285815), b3 = Double(bitPattern: 0x406510d06a8112ce)
    let b4 = Double(bitPattern: 0x4040fecbc9e2c375)
    let num = (((a1 * fr + a2) * fr + a3) * fr + a4) * fr + a5
    let den = (((b1 * fr + b2) * fr + b3) * fr + b4) * fr + 1.0
    fr = num / den                                                           // [0.5, 1)
    let mant = UInt32(truncatingIfNeeded: (fr.bitPattern & ((1 << 52) - 1)) >> 29)
    return Float(bitPattern: UInt32(ex + 127) << 23 | mant)
}

@inline(__always) private func sat8(_ v: Int32) -> UInt8 { UInt8(clamping: v) }

/// Interleaved RGB → OpenCV 8-bit Lab for `n` pixels.
func rgbToLab8(_ dst: UnsafeMutablePointer<UInt8>, _ src: UnsafePointer<UInt8>, _ n: Int) {
    let t = LabTables.shared
    t.gamma.withUnsafeBufferPointer { gam in
    t.cbrt.withUnsafeBufferPointer { cb in
        let c = t.toXYZ
        let c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5], c6 = c[6], c7 = c[7], c8 = c[8]
        let lscale: Int32 = (116 * 255 + 50) / 100
        let lshift: Int32 = -((16 * 255 * (1 << 15) + 50) / 100)
        for i in 0..<n {
            let r = gam[Int(src[3 * i])], g = gam[Int(src[3 * i + 1])], b = gam[Int(src[3 * i + 2])]
            let fx = cb[Int((r * c0 + g * c1 + b * c2 + (1 << 11)) >> 12)]
            let fy = cb[Int((r * c3 + g * c4 + b * c5 + (1 << 11)) >> 12)]
            let fz = cb[Int((r * c6 + g * c7 + b * c8 + (1 << 11)) >> 12)]
            let l = (lscale * fy + lshift + (1 << 14)) >> 15
            let a = (500 * (fx - fy) + 128 * (1 << 15) + (1 << 14)) >> 15
            let bb = (200 * (fy - fz) + 128 * (1 << 15) + (1 << 14)) >> 15
            dst[3 * i] = sat8(l); dst[3 * i + 1] = sat8(a); dst[3 * i + 2] = sat8(bb)
        }
    }
    }
}

/// OpenCV 8-bit Lab → interleaved RGB for `n` pixels.
func lab8ToRGB(_ dst: UnsafeMutablePointer<UInt8>, _ src: UnsafePointer<UInt8>, _ n: Int) {
    let t = LabTables.shared
    t.lToYF.withUnsafeBufferPointer { lt in
    t.abToXZ.withUnsafeBufferPointer { ab in
    t.invGamma.withUnsafeBufferPointer { ig in
        let m = t.toRGB
        let m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3], m4 = m[4], m5 = m[5], m6 = m[6], m7 = m[7], m8 = m[8]
        let abMin = Int32(t.abMin)
        let base: Int32 = 1 << 14
        for i in 0..<n {
            let l = Int(src[3 * i]), a = Int32(src[3 * i + 1]), b = Int32(src[3 * i + 2])
            let y = lt[2 * l], ify = lt[2 * l + 1]
            let adiv = ((5 * a * 53687 + (1 << 7)) >> 13) - 128 * base / 500
            let bdiv = ((b * 41943 + (1 << 4)) >> 9) - 128 * base / 200 + 1
            let x = ab[Int(ify + adiv - abMin)]
            let z = ab[Int(ify - bdiv - abMin)]
            var ro = (m0 * x + m1 * y + m2 * z + (1 << 13)) >> 14
            var go = (m3 * x + m4 * y + m5 * z + (1 << 13)) >> 14
            var bo = (m6 * x + m7 * y + m8 * z + (1 << 13)) >> 14
            ro = max(0, min(4095, ro)); go = max(0, min(4095, go)); bo = max(0, min(4095, bo))
            dst[3 * i] = ig[Int(ro)]; dst[3 * i + 1] = ig[Int(go)]; dst[3 * i + 2] = ig[Int(bo)]
        }
    }
    }
    }
}
