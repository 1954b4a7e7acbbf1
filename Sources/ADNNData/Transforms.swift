import Foundation
import ADNNKernels

// MARK: - Resize

/// Resize tables are built once per (in, out, mode, antialias) and reused.
final class ResizeTableCache: @unchecked Sendable {
    private struct Key: Hashable { let inSize, outSize: Int; let bicubic, antialias: Bool }
    private var tables: [Key: ResizeTable] = [:]
    private let lock = NSLock()

    /// The table for one axis; antialiased exactly when the axis shrinks.
    func table(_ inSize: Int, _ outSize: Int, _ mode: ResizeMode) -> ResizeTable {
        let key = Key(inSize: inSize, outSize: outSize, bicubic: mode == .bicubic, antialias: outSize < inSize)
        lock.lock()
        if let t = tables[key] { lock.unlock(); return t }
        lock.unlock()
        let t = makeResizeTable(inSize: inSize, outSize: outSize, mode: mode, alignCorners: false, antialias: key.antialias)
        lock.lock()
        if tables.count > 4096 { tables.removeAll() }
        tables[key] = t
        lock.unlock()
        return t
    }

    static let shared = ResizeTableCache()
}

extension PixelImage {
    /// A resized copy with PyTorch `F.interpolate(align_corners=False)` semantics: `bicubic`
    /// (a = −0.75) or `bilinear`; each axis is antialiased (PIL-style support widening, a = −0.5
    /// for bicubic) exactly when it shrinks. Results are rounded and clamped to 0…255.
    public func resized(width newWidth: Int, height newHeight: Int, mode: ResizeMode = .bicubic) -> PixelImage {
        precondition(newWidth > 0 && newHeight > 0, "resized: size must be positive")
        if newWidth == width && newHeight == height { return self }
        let rows = ResizeTableCache.shared.table(height, newHeight, mode)
        let cols = ResizeTableCache.shared.table(width, newWidth, mode)
        let src = [Float](unsafeUninitializedCapacity: count) { buf, n in
            pixels.withUnsafeBufferPointer { p in for i in 0..<count { buf[i] = Float(p[i]) } }
            n = count
        }
        let outCount = newWidth * newHeight * channels
        var dst = [Float](repeating: 0, count: outCount)
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                resizeNHWC(d.baseAddress!, s.baseAddress!, n: 1, h: height, w: width, c: channels, rows: rows, cols: cols)
            }
        }
        let out = [UInt8](unsafeUninitializedCapacity: outCount) { buf, n in
            for i in 0..<outCount { buf[i] = UInt8(max(0, min(255, dst[i].rounded()))) }
            n = outCount
        }
        return PixelImage(width: newWidth, height: newHeight, channels: channels, pixels: out)
    }

    /// The image mirrored left–right.
    public func flippedHorizontally() -> PixelImage {
        var out = self
        let c = channels
        pixels.withUnsafeBufferPointer { s in
            out.pixels.withUnsafeMutableBufferPointer { d in
                for y in 0..<height {
                    for x in 0..<width {
                        for k in 0..<c { d[(y * width + x) * c + k] = s[(y * width + width - 1 - x) * c + k] }
                    }
                }
            }
        }
        return out
    }
}

// MARK: - Configuration

/// Deterministic preprocessing and tensor conversion of every image (train and eval).
///
/// `prepare` (cacheable, on 8-bit pixels): RGB becomes gray when `channels` is 1; CLAHE (clip
/// 2.0, 8×8) runs on gray images directly and on L of Lab for colour ones; then — when the
/// shorter side exceeds `maxPreparedSide` — the image shrinks (antialiased) so that it equals
/// it. Gray images stay single-channel when prepared (a cached FER2013 takes 66 MB, not 198 MB)
/// and are replicated to RGB while rendering. Rendering resizes to `size × size`
/// (`resizeMode`, stretching non-square images) and normalises each channel:
/// `(v/255 − mean) / std`.
public struct TransformConfig: Sendable, Equatable {
    /// Output height and width.
    public var size: Int
    /// Output channels: 1 (gray) or 3 (RGB).
    public var channels: Int
    /// Apply CLAHE (OpenCV `createCLAHE(2.0, (8, 8))`) when preparing.
    public var clahe: Bool
    /// Per-channel mean (1 or 3 values; 3 values with 1 channel use their average).
    public var mean: [Float]
    /// Per-channel standard deviation (as `mean`).
    public var std: [Float]
    /// Interpolation to the output size.
    public var resizeMode: ResizeMode
    /// Shorter side kept by `prepare` (`nil`: 2 × `size`); bounds cache memory for large photos.
    public var maxPreparedSide: Int?

    public init(size: Int = 224, channels: Int = 3, clahe: Bool = false,
                mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225],
                resizeMode: ResizeMode = .bicubic, maxPreparedSide: Int? = nil) {
        self.size = size; self.channels = channels; self.clahe = clahe; self.mean = mean; self.std = std
        self.resizeMode = resizeMode; self.maxPreparedSide = maxPreparedSide
    }

    /// Checks sizes and statistics.
    /// - Throws: `DataError.invalid` naming the key.
    public func validate() throws {
        guard size > 0 && size <= 4096 else { throw DataError.invalid(key: "input_size", reason: "must be 1…4096, got \(size)") }
        guard channels == 1 || channels == 3 else { throw DataError.invalid(key: "in_chans", reason: "must be 1 or 3, got \(channels)") }
        guard mean.count == 1 || mean.count == 3 else { throw DataError.invalid(key: "data.mean", reason: "needs 1 or 3 values") }
        guard std.count == mean.count, std.allSatisfy({ $0 > 0 }) else {
            throw DataError.invalid(key: "data.std", reason: "needs as many positive values as data.mean")
        }
    }

    /// Mean and 1/std per output channel.
    func channelStats() -> (mean: [Float], invStd: [Float]) {
        func per(_ v: [Float]) -> [Float] {
            if channels == 1 { return [v.reduce(0, +) / Float(v.count)] }
            return v.count == 1 ? [v[0], v[0], v[0]] : v
        }
        return (per(mean), per(std).map { 1 / $0 })
    }

    /// The cacheable 8-bit form of a decoded image (gray when `channels` is 1, CLAHE, bounded
    /// size); 1 or 3 channels.
    public func prepare(_ image: PixelImage) -> PixelImage {
        var img = channels == 1 || image.channels == 1 ? image.toGray() : image.toRGB()
        if clahe { img = CLAHE().apply(to: img) }
        let limit = maxPreparedSide ?? 2 * size
        let short = min(img.width, img.height)
        if short > limit {
            let scale = Double(limit) / Double(short)
            let w = max(1, Int((Double(img.width) * scale).rounded())), h = max(1, Int((Double(img.height) * scale).rounded()))
            img = img.resized(width: w, height: h, mode: resizeMode)
        }
        return img
    }

    /// Evaluation rendering of one image: prepare, resize to `size × size`, normalise.
    /// Returns `size · size · channels` floats, channels-last.
    public func tensorData(for image: PixelImage) -> [Float] {
        let prepared = prepare(image)
        let renderer = SampleRenderer(transform: self, augment: nil)
        var out = [Float](repeating: 0, count: size * size * channels)
        var rng = DataRNG(seed: 0)
        prepared.pixels.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                renderer.render(p.baseAddress!, width: prepared.width, height: prepared.height, channels: prepared.channels,
                                into: o.baseAddress!, rng: &rng)
            }
        }
        return out
    }
}

/// Training augmentation; each transform fires with its own probability (0 disables it).
///
/// Order per sample: random crop → resize → rotation → horizontal flip → colour jitter →
/// Gaussian noise → normalisation → Cutout. Mixup is applied by the loader to whole batches.
/// - crop: `RandomResizedCrop` — a box of `cropScale` × the image area and aspect ratio in
///   `cropRatio` (log-uniform), up to 10 tries, else the whole image — resized to the output.
/// - rotate: uniform angle in ±`rotateDegrees` about the centre, bilinear, black fill.
/// - colour jitter: brightness, contrast (towards the mean gray) and saturation (towards the
///   pixel's gray; RGB only) factors uniform in `1 ± brightness/contrast/saturation`, clamped
///   to 0…255 after each.
/// - noise: additive Gaussian with standard deviation `noiseStd` (in 0…1 pixel units).
/// - Cutout: one square of side `cutoutSize` × output size, centre uniform over the image
///   (clipped at the border), set to 0 after normalisation (the dataset mean).
/// - Mixup: with probability `mixup` per batch, λ ~ Beta(`mixupAlpha`, `mixupAlpha`) and sample
///   i is blended with sample n−1−i (`λ·x_i + (1−λ)·x_{n−1−i}`); the batch records λ and both labels.
public struct AugmentConfig: Sendable, Equatable {
    public var hflip: Double
    public var crop: Double
    public var cropScale: ClosedRange<Double>
    public var cropRatio: ClosedRange<Double>
    public var colorJitter: Double
    public var brightness: Double
    public var contrast: Double
    public var saturation: Double
    public var rotate: Double
    public var rotateDegrees: Double
    public var noise: Double
    public var noiseStd: Double
    public var cutout: Double
    public var cutoutSize: Double
    public var mixup: Double
    public var mixupAlpha: Double

    /// The SPEC §2 defaults.
    public init(hflip: Double = 0.5, crop: Double = 0.8, cropScale: ClosedRange<Double> = 0.75...1.0,
                cropRatio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0), colorJitter: Double = 0.5,
                brightness: Double = 0.3, contrast: Double = 0.3, saturation: Double = 0.3,
                rotate: Double = 0.3, rotateDegrees: Double = 15, noise: Double = 0.2, noiseStd: Double = 0.03,
                cutout: Double = 0.3, cutoutSize: Double = 0.25, mixup: Double = 0.4, mixupAlpha: Double = 0.2) {
        self.hflip = hflip; self.crop = crop; self.cropScale = cropScale; self.cropRatio = cropRatio
        self.colorJitter = colorJitter; self.brightness = brightness; self.contrast = contrast; self.saturation = saturation
        self.rotate = rotate; self.rotateDegrees = rotateDegrees; self.noise = noise; self.noiseStd = noiseStd
        self.cutout = cutout; self.cutoutSize = cutoutSize; self.mixup = mixup; self.mixupAlpha = mixupAlpha
    }

    /// No augmentation at all.
    public static let none = AugmentConfig(hflip: 0, crop: 0, colorJitter: 0, rotate: 0, noise: 0, cutout: 0, mixup: 0)

    /// Checks probabilities and ranges.
    /// - Throws: `DataError.invalid` naming the key.
    public func validate() throws {
        for (k, p) in [("augment.hflip", hflip), ("augment.crop", crop), ("augment.color_jitter", colorJitter),
                       ("augment.rotate", rotate), ("augment.noise", noise), ("augment.cutout", cutout),
                       ("augment.mixup", mixup)] where !(0...1).contains(p) {
            throw DataError.invalid(key: k, reason: "probability must be in 0…1, got \(p)")
        }
        guard cropScale.lowerBound > 0 && cropScale.upperBound <= 1 else {
            throw DataError.invalid(key: "augment.crop_scale", reason: "must lie in (0, 1]")
        }
        guard cropRatio.lowerBound > 0 else { throw DataError.invalid(key: "augment.crop_ratio", reason: "must be positive") }
        guard rotateDegrees >= 0 && rotateDegrees <= 180 else {
            throw DataError.invalid(key: "augment.rotate_degrees", reason: "must be 0…180")
        }
        guard mixupAlpha > 0 || mixup == 0 else { throw DataError.invalid(key: "augment.mixup_alpha", reason: "must be > 0") }
        guard noiseStd >= 0, cutoutSize >= 0 && cutoutSize <= 1 else {
            throw DataError.invalid(key: "augment.noise_std/cutout_size", reason: "out of range")
        }
    }
}

// MARK: - Rendering

/// Turns prepared 8-bit images into normalised float tensors, with optional augmentation.
/// Holds scratch buffers: use one per thread.
final class SampleRenderer {
    let transform: TransformConfig
    let augment: AugmentConfig?
    private let mean: [Float], invStd: [Float]
    private var crop: UnsafeMutablePointer<Float>
    private var cropCapacity: Int
    private let bufA: UnsafeMutablePointer<Float>, bufB: UnsafeMutablePointer<Float>
    private let planeCount: Int

    init(transform: TransformConfig, augment: AugmentConfig?) {
        self.transform = transform
        self.augment = augment
        (mean, invStd) = transform.channelStats()
        planeCount = transform.size * transform.size * transform.channels
        bufA = .allocate(capacity: planeCount)
        bufB = .allocate(capacity: planeCount)
        cropCapacity = 64 * 64 * 3
        crop = .allocate(capacity: cropCapacity)
    }

    deinit { bufA.deallocate(); bufB.deallocate(); crop.deallocate() }

    /// Renders `src` (`height × width × srcChannels` bytes; `srcChannels` is 1, or 3 when the
    /// output has 3) into `out` (`size × size × channels` floats). Augments when `augment` is
    /// set, drawing from `rng`.
    func render(_ src: UnsafePointer<UInt8>, width: Int, height: Int, channels srcChannels: Int,
                into out: UnsafeMutablePointer<Float>, rng: inout DataRNG) {
        let c = transform.channels, S = transform.size
        precondition(srcChannels == 1 || srcChannels == c, "render: \(srcChannels)-channel source for \(c)-channel output")
        let sc = srcChannels
        // 1. Crop box and flip.
        var bx = 0, by = 0, bw = width, bh = height
        var flip = false
        if let a = augment {
            if rng.bernoulli(a.crop) { (bx, by, bw, bh) = randomResizedCrop(width, height, a, &rng) }
            flip = rng.bernoulli(a.hflip)
        }
        // 2. Crop (and mirror) into float scratch.
        let n = bw * bh * c
        if n > cropCapacity {
            crop.deallocate()
            cropCapacity = n
            crop = .allocate(capacity: n)
        }
        for y in 0..<bh {
            let row = src + ((by + y) * width + bx) * sc
            let dst = crop + y * bw * c
            if sc == c && !flip {
                for i in 0..<(bw * c) { dst[i] = Float(row[i]) }
            } else if c == 1 {
                for x in 0..<bw { dst[x] = Float(row[bw - 1 - x]) }
            } else if sc == 1 {                                 // gray → RGB (mirrored or not)
                for x in 0..<bw {
                    let v = Float(row[flip ? bw - 1 - x : x]), d = dst + x * 3
                    d[0] = v; d[1] = v; d[2] = v
                }
            } else {
                for x in 0..<bw {
                    let s = row + (bw - 1 - x) * 3, d = dst + x * 3
                    d[0] = Float(s[0]); d[1] = Float(s[1]); d[2] = Float(s[2])
                }
            }
        }
        // 3. Resize to S × S.
        if bw == S && bh == S {
            bufA.update(from: crop, count: planeCount)
        } else {
            let rows = ResizeTableCache.shared.table(bh, S, transform.resizeMode)
            let cols = ResizeTableCache.shared.table(bw, S, transform.resizeMode)
            resizeNHWC(bufA, crop, n: 1, h: bh, w: bw, c: c, rows: rows, cols: cols)
        }
        var cur = bufA
        if let a = augment {
            // 4. Rotation.
            if rng.bernoulli(a.rotate) && a.rotateDegrees > 0 {
                let angle = rng.uniform(-a.rotateDegrees, a.rotateDegrees) * Double.pi / 180
                rotate(cur, into: bufB, angle: Float(angle))
                cur = bufB
            }
            // 5. Colour jitter.
            if rng.bernoulli(a.colorJitter) {
                let b = Float(rng.uniform(1 - a.brightness, 1 + a.brightness))
                let ct = Float(rng.uniform(1 - a.contrast, 1 + a.contrast))
                let sat = Float(rng.uniform(1 - a.saturation, 1 + a.saturation))
                jitter(cur, brightness: b, contrast: ct, saturation: sat)
            }
            // 6. Gaussian noise.
            if rng.bernoulli(a.noise) && a.noiseStd > 0 {
                let sd = Float(a.noiseStd * 255)
                NormalTable.values.withUnsafeBufferPointer { z in
                    var i = 0
                    while i < planeCount {
                        var bits = rng.next()
                        for _ in 0..<4 where i < planeCount {
                            cur[i] = max(0, min(255, cur[i] + sd * z[Int(bits & 0xfff)]))
                            bits >>= 16
                            i += 1
                        }
                    }
                }
            }
        }
        // 7. Normalise.
        mean.withUnsafeBufferPointer { m in
            invStd.withUnsafeBufferPointer { s in
                if c == 1 {
                    let m0 = m[0], s0 = s[0]
                    for i in 0..<planeCount { out[i] = (cur[i] * (1 / 255) - m0) * s0 }
                } else {
                    let m0 = m[0], m1 = m[1], m2 = m[2], s0 = s[0], s1 = s[1], s2 = s[2]
                    var i = 0
                    while i < planeCount {
                        out[i] = (cur[i] * (1 / 255) - m0) * s0
                        out[i + 1] = (cur[i + 1] * (1 / 255) - m1) * s1
                        out[i + 2] = (cur[i + 2] * (1 / 255) - m2) * s2
                        i += 3
                    }
                }
            }
        }
        // 8. Cutout.
        if let a = augment, rng.bernoulli(a.cutout) && a.cutoutSize > 0 {
            let side = max(1, Int((a.cutoutSize * Double(S)).rounded()))
            let cy = rng.int(below: S), cx = rng.int(below: S)
            let y0 = max(0, cy - side / 2), y1 = min(S, cy - side / 2 + side)
            let x0 = max(0, cx - side / 2), x1 = min(S, cx - side / 2 + side)
            if y0 < y1 && x0 < x1 {
                for y in y0..<y1 { (out + (y * S + x0) * c).update(repeating: 0, count: (x1 - x0) * c) }
            }
        }
    }

    /// torchvision `RandomResizedCrop.get_params`: area fraction in `scale`, log-uniform ratio.
    private func randomResizedCrop(_ w: Int, _ h: Int, _ a: AugmentConfig, _ rng: inout DataRNG) -> (Int, Int, Int, Int) {
        let area = Double(w * h)
        let logLo = Foundation.log(a.cropRatio.lowerBound), logHi = Foundation.log(a.cropRatio.upperBound)
        for _ in 0..<10 {
            let target = area * rng.uniform(a.cropScale.lowerBound, a.cropScale.upperBound)
            let ratio = Foundation.exp(rng.uniform(logLo, logHi))
            let cw = Int((target * ratio).squareRoot().rounded()), ch = Int((target / ratio).squareRoot().rounded())
            if cw > 0 && ch > 0 && cw <= w && ch <= h {
                let y = rng.int(below: h - ch + 1), x = rng.int(below: w - cw + 1)
                return (x, y, cw, ch)
            }
        }
        return (0, 0, w, h)
    }

    /// Rotates an `S × S × c` plane by `angle` (radians, counter-clockwise) about its centre.
    private func rotate(_ src: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>, angle: Float) {
        let S = transform.size, c = transform.channels
        let ca = cos(angle), sa = sin(angle)
        let center = Float(S) / 2
        for y in 0..<S {
            let dy = Float(y) + 0.5 - center
            for x in 0..<S {
                let dx = Float(x) + 0.5 - center
                // Inverse mapping: source = R(−angle)·(p − c) + c, in pixel-centre coordinates.
                let sx = ca * dx - sa * dy + center - 0.5
                let sy = sa * dx + ca * dy + center - 0.5
                let o = dst + (y * S + x) * c
                let fx = sx.rounded(.down), fy = sy.rounded(.down)
                let ix = Int(fx), iy = Int(fy)
                if ix < -1 || iy < -1 || ix >= S || iy >= S {
                    for k in 0..<c { o[k] = 0 }
                    continue
                }
                let wx = sx - fx, wy = sy - fy
                // Bilinear weights; taps outside the image contribute black (weight dropped).
                let inX0 = ix >= 0, inX1 = ix + 1 < S, inY0 = iy >= 0, inY1 = iy + 1 < S
                let w00: Float = inX0 && inY0 ? (1 - wx) * (1 - wy) : 0, w10: Float = inX1 && inY0 ? wx * (1 - wy) : 0
                let w01: Float = inX0 && inY1 ? (1 - wx) * wy : 0, w11: Float = inX1 && inY1 ? wx * wy : 0
                let cx0 = max(ix, 0), cx1 = min(ix + 1, S - 1), cy0 = max(iy, 0), cy1 = min(iy + 1, S - 1)
                let p00 = src + (cy0 * S + cx0) * c, p10 = src + (cy0 * S + cx1) * c
                let p01 = src + (cy1 * S + cx0) * c, p11 = src + (cy1 * S + cx1) * c
                for k in 0..<c { o[k] = w00 * p00[k] + w10 * p10[k] + w01 * p01[k] + w11 * p11[k] }
            }
        }
    }

    /// Brightness, contrast and saturation (torchvision `adjust_*` semantics, values 0…255).
    private func jitter(_ p: UnsafeMutablePointer<Float>, brightness b: Float, contrast ct: Float, saturation sat: Float) {
        let c = transform.channels, n = transform.size * transform.size
        for i in 0..<(n * c) { p[i] = min(255, p[i] * b) }
        // Contrast: blend with the mean gray level.
        var sum: Float = 0
        if c == 1 { for i in 0..<n { sum += p[i] } }
        else { for i in 0..<n { sum += 0.299 * p[3 * i] + 0.587 * p[3 * i + 1] + 0.114 * p[3 * i + 2] } }
        let m = sum / Float(n)
        for i in 0..<(n * c) { p[i] = max(0, min(255, (p[i] - m) * ct + m)) }
        // Saturation: blend with each pixel's gray.
        if c == 3 {
            for i in 0..<n {
                let g = 0.299 * p[3 * i] + 0.587 * p[3 * i + 1] + 0.114 * p[3 * i + 2]
                for k in 0..<3 { p[3 * i + k] = max(0, min(255, (p[3 * i + k] - g) * sat + g)) }
            }
        }
    }
}

/// Standard-normal quantiles at the midpoints of 4096 equal-probability bins: indexing with 12
/// uniform random bits draws from a finely discretised N(0, 1) (|z| ≤ 3.5) at the cost of a load.
enum NormalTable {
    static let values: [Float] = (0..<4096).map { i in
        let p = (Double(i) + 0.5) / 4096
        // Invert Φ(z) = erfc(−z/√2)/2 by bisection.
        var lo = -6.0, hi = 6.0
        for _ in 0..<60 {
            let mid = (lo + hi) / 2
            if 0.5 * erfc(-mid / 2.0.squareRoot()) < p { lo = mid } else { hi = mid }
        }
        return Float((lo + hi) / 2)
    }
}
