/// Contrast-limited adaptive histogram equalisation with OpenCV's exact semantics
/// (`cv::createCLAHE(clipLimit, (tilesX, tilesY)).apply` on 8-bit images).
///
/// - The image is padded by reflection (`BORDER_REFLECT_101`) on the bottom and right to a
///   multiple of the tile grid when it is not already one (OpenCV then pads *both* axes by
///   `tiles − size % tiles`, which we reproduce).
/// - Each tile's 256-bin histogram is clipped at `max(Int(clipLimit·tileArea/256), 1)`; the
///   clipped count is spread evenly over all bins and the remainder (`residual`) added one by one
///   to every `max(256/residual, 1)`-th bin from bin 0.
/// - Tile LUT: cumulative histogram × `255/tileArea`, rounded.
/// - Output: bilinear interpolation between the four nearest tile LUTs (in `Float`), rounded.
public struct CLAHE: Sendable {
    /// Contrast limit relative to a uniform histogram (OpenCV's `clipLimit`); ≤ 0 disables clipping.
    public var clipLimit: Double
    /// Tiles across.
    public var tilesX: Int
    /// Tiles down.
    public var tilesY: Int

    /// The SPEC default: clip 2.0, 8×8 tiles.
    public init(clipLimit: Double = 2.0, tilesX: Int = 8, tilesY: Int = 8) {
        precondition(tilesX > 0 && tilesY > 0, "CLAHE needs a positive tile grid")
        self.clipLimit = clipLimit; self.tilesX = tilesX; self.tilesY = tilesY
    }

    /// Equalises one 8-bit plane of `width × height` samples (`src` and `dst` may alias).
    public func apply(_ dst: UnsafeMutablePointer<UInt8>, _ src: UnsafePointer<UInt8>, width: Int, height: Int) {
        if width == 0 || height == 0 { return }
        let tx = tilesX, ty = tilesY
        // Padded geometry (OpenCV pads both axes as soon as one is not divisible).
        let divisible = width % tx == 0 && height % ty == 0
        let extW = divisible ? width : width + tx - width % tx
        let extH = divisible ? height : height + ty - height % ty
        let tileW = extW / tx, tileH = extH / ty
        let tileArea = tileW * tileH
        let lutScale = Float(255) / Float(tileArea)
        var limit = 0
        if clipLimit > 0 { limit = max(Int(clipLimit * Double(tileArea) / 256.0), 1) }

        // Reflect-101 index maps for the padded region.
        var colMap = [Int](repeating: 0, count: extW)
        var rowMap = [Int](repeating: 0, count: extH)
        for x in 0..<extW { colMap[x] = reflect101(x, width) }
        for y in 0..<extH { rowMap[y] = reflect101(y, height) }

        var luts = [UInt8](repeating: 0, count: tx * ty * 256)
        var hist = [Int](repeating: 0, count: 256)
        colMap.withUnsafeBufferPointer { cm in
        rowMap.withUnsafeBufferPointer { rm in
        hist.withUnsafeMutableBufferPointer { h in
        luts.withUnsafeMutableBufferPointer { lut in
            for t in 0..<(tx * ty) {
                let ox = (t % tx) * tileW, oy = (t / tx) * tileH
                for i in 0..<256 { h[i] = 0 }
                for y in oy..<(oy + tileH) {
                    let row = src + rm[y] * width
                    if ox + tileW <= width {
                        for x in ox..<(ox + tileW) { h[Int(row[x])] += 1 }
                    } else {
                        for x in ox..<(ox + tileW) { h[Int(row[cm[x]])] += 1 }
                    }
                }
                if limit > 0 {
                    var clipped = 0
                    for i in 0..<256 where h[i] > limit { clipped += h[i] - limit; h[i] = limit }
                    let batch = clipped / 256
                    var residual = clipped - batch * 256
                    for i in 0..<256 { h[i] += batch }
                    if residual != 0 {
                        let step = max(256 / residual, 1)
                        var i = 0
                        while i < 256 && residual > 0 { h[i] += 1; i += step; residual -= 1 }
                    }
                }
                var sum = 0
                let l = lut.baseAddress! + t * 256
                for i in 0..<256 {
                    sum += h[i]
                    l[i] = UInt8(clamping: Int((Float(sum) * lutScale).rounded(.toNearestOrEven)))
                }
            }
        }
        }
        }
        }

        // Interpolation (same Float arithmetic as OpenCV).
        var ind1 = [Int](repeating: 0, count: width), ind2 = [Int](repeating: 0, count: width)
        var xa = [Float](repeating: 0, count: width), xa1 = [Float](repeating: 0, count: width)
        let invTW = Float(1) / Float(tileW)
        for x in 0..<width {
            let txf = Float(x) * invTW - 0.5
            let t1 = Int(txf.rounded(.down))
            xa[x] = txf - Float(t1)
            xa1[x] = 1 - xa[x]
            ind1[x] = max(t1, 0) * 256
            ind2[x] = min(t1 + 1, tx - 1) * 256
        }
        let invTH = Float(1) / Float(tileH)
        luts.withUnsafeBufferPointer { lut in
        ind1.withUnsafeBufferPointer { i1 in
        ind2.withUnsafeBufferPointer { i2 in
        xa.withUnsafeBufferPointer { wa in
        xa1.withUnsafeBufferPointer { wa1 in
            for y in 0..<height {
                let tyf = Float(y) * invTH - 0.5
                let t1 = Int(tyf.rounded(.down))
                let ya = tyf - Float(t1), ya1 = 1 - ya
                let p1 = lut.baseAddress! + max(t1, 0) * tx * 256
                let p2 = lut.baseAddress! + min(t1 + 1, ty - 1) * tx * 256
                let s = src + y * width, d = dst + y * width
                for x in 0..<width {
                    let v = Int(s[x])
                    let a = i1[x] + v, b = i2[x] + v
                    let res = (Float(p1[a]) * wa1[x] + Float(p1[b]) * wa[x]) * ya1
                            + (Float(p2[a]) * wa1[x] + Float(p2[b]) * wa[x]) * ya
                    d[x] = UInt8(clamping: Int(res.rounded(.toNearestOrEven)))
                }
            }
        }
        }
        }
        }
        }
    }

    /// Applies CLAHE to an image: gray directly; RGB through OpenCV 8-bit Lab, equalising L only.
    public func apply(to image: PixelImage) -> PixelImage {
        if image.channels == 1 {
            var out = image
            image.pixels.withUnsafeBufferPointer { s in
                out.pixels.withUnsafeMutableBufferPointer { d in
                    apply(d.baseAddress!, s.baseAddress!, width: image.width, height: image.height)
                }
            }
            return out
        }
        var lab = image.rgbToLab()
        let n = image.width * image.height
        var l = [UInt8](repeating: 0, count: n)
        lab.pixels.withUnsafeMutableBufferPointer { p in
            l.withUnsafeMutableBufferPointer { lp in
                for i in 0..<n { lp[i] = p[3 * i] }
                apply(lp.baseAddress!, UnsafePointer(lp.baseAddress!), width: image.width, height: image.height)
                for i in 0..<n { p[3 * i] = lp[i] }
            }
        }
        return lab.labToRGB()
    }
}

/// OpenCV `BORDER_REFLECT_101` index for `i` in a line of `n` samples (`gfedcb|abcdefgh|gfedcba`).
@inline(__always)
func reflect101(_ i: Int, _ n: Int) -> Int {
    if n == 1 { return 0 }
    var j = i
    while j < 0 || j >= n {
        if j < 0 { j = -j }
        if j >= n { j = 2 * n - 2 - j }
    }
    return j
}
