import Foundation

/// Size and count of the built-in synthetic expression set.
public struct SyntheticFaceConfig: Sendable, Equatable {
    /// Image side in pixels (gray, square).
    public var size: Int
    /// Examples in the `train` split.
    public var trainCount: Int
    /// Examples in the `val` split.
    public var valCount: Int
    /// Examples in the `test` split.
    public var testCount: Int
    /// Seed of the whole set (pose, lighting, noise and shape jitter of every face).
    public var seed: UInt64

    public init(size: Int = 48, trainCount: Int = 3500, valCount: Int = 700, testCount: Int = 700, seed: UInt64 = 0) {
        self.size = size; self.trainCount = trainCount; self.valCount = valCount; self.testCount = testCount; self.seed = seed
    }

    /// Parses the `synthetic[:key=value,…]` data path (`train`, `val`, `test`, `size`, `seed`),
    /// e.g. `synthetic:train=7000,size=64`.
    /// - Throws: `DataError.invalid` naming the bad key.
    public init(path: String) throws {
        self.init()
        guard let colon = path.firstIndex(of: ":") else { return }
        for item in path[path.index(after: colon)...].split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, let v = UInt64(kv[1]) else {
                throw DataError.invalid(key: "\(path): \(item)", reason: "expected key=<non-negative integer>")
            }
            switch kv[0] {
            case "train": trainCount = Int(v)
            case "val": valCount = Int(v)
            case "test": testCount = Int(v)
            case "size":
                guard v >= 16 && v <= 1024 else { throw DataError.invalid(key: "\(path): size", reason: "must be 16…1024") }
                size = Int(v)
            case "seed": seed = v
            default: throw DataError.invalid(key: "\(path): \(kv[0])", reason: "unknown key (train, val, test, size, seed)")
            }
        }
    }
}

/// Procedurally drawn gray faces whose shapes encode the 7 basic expressions.
///
/// Each face is an oval with eyes, brows, nose and mouth. The expression sets the mouth curve,
/// width and opening, the brow height and tilt (inner ends up for sadness/fear, down for anger),
/// the eye opening, and for disgust a lopsided upper lip and nose wrinkles. Every face gets a
/// random pose (rotation ±12°, scale, shift), skin tone, background, lighting gradient,
/// contrast and Gaussian noise, plus a small jitter of the expression parameters. A face is a
/// pure function of `(label, seed, size)`.
public enum SyntheticFaces {
    /// Class order of the synthetic set (canonical names).
    public static let classes = ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger"]

    /// (mouth curve, mouth opening, mouth half-width, brow tilt, brow raise, eye opening, lip skew)
    private static let shapes: [(Float, Float, Float, Float, Float, Float, Float)] = [
        (0.00, 0.00, 0.30, 0.00, 0.00, 1.00, 0.00),     // neutral
        (0.17, 0.07, 0.38, 0.00, 0.02, 0.60, 0.00),     // happiness
        (-0.14, 0.00, 0.27, 0.13, 0.00, 0.80, 0.00),    // sadness
        (0.00, 0.32, 0.16, 0.00, 0.15, 1.50, 0.00),     // surprise
        (-0.07, 0.15, 0.35, 0.11, 0.10, 1.35, 0.00),    // fear
        (-0.05, 0.03, 0.27, -0.06, -0.05, 0.55, 0.09),  // disgust
        (-0.04, 0.00, 0.25, -0.15, -0.07, 0.80, 0.00),  // anger
    ]

    /// Draws one face of class `label` (0…6) as a `size × size` gray image.
    public static func draw(label: Int, seed: UInt64, size: Int) -> PixelImage {
        precondition((0..<7).contains(label), "synthetic label must be 0…6")
        var rng = DataRNG(seed: seed, UInt64(label), 0x5F)
        func r(_ a: Double, _ b: Double) -> Float { Float(rng.uniform(a, b)) }
        let base = shapes[label]
        let curve = base.0 + r(-0.03, 0.03), open = max(0, base.1 + r(-0.025, 0.025))
        let halfW = base.2 + r(-0.03, 0.03), tilt = base.3 + r(-0.03, 0.03)
        let raise = base.4 + r(-0.02, 0.02), eyeOpen = base.5 * r(0.9, 1.1), skew = base.6 * (rng.bernoulli(0.5) ? 1 : -1)
        let angle = r(-12, 12) * .pi / 180
        let S = Float(size)
        let radius = S * 0.40 * r(0.82, 1.05)
        let cx = S / 2 + r(-0.06, 0.06) * S, cy = S / 2 + r(-0.06, 0.06) * S
        let skin = r(115, 215)
        let dark = max(skin * r(0.12, 0.3), 5)
        let bg = rng.bernoulli(0.5) ? r(15, 85) : r(160, 240)
        let gradX = r(-0.25, 0.25), gradY = r(-0.25, 0.25)
        let contrast = r(0.75, 1.2), brightness = r(-20, 20), noise = r(1, 9)
        let ca = cos(angle), sa = sin(angle)
        let wrinkles = label == 5

        var px = [UInt8](repeating: 0, count: size * size)
        let sub: Float = 0.5      // 2×2 supersampling
        for yy in 0..<size {
            for xx in 0..<size {
                var acc: Float = 0
                for sy in 0..<2 {
                    for sx in 0..<2 {
                        let fx = (Float(xx) + sub * Float(sx) + 0.25 - cx) / radius
                        let fy = (Float(yy) + sub * Float(sy) + 0.25 - cy) / radius
                        let u = ca * fx + sa * fy, v = -sa * fx + ca * fy
                        acc += shade(u: u, v: v, skin: skin, dark: dark, bg: bg, curve: curve, open: open, halfW: halfW,
                                     tilt: tilt, raise: raise, eyeOpen: eyeOpen, skew: skew, wrinkles: wrinkles)
                    }
                }
                var value = acc / 4
                value *= 1 + gradX * (Float(xx) / S - 0.5) + gradY * (Float(yy) / S - 0.5)
                value = (value - 128) * contrast + 128 + brightness + noise * Float(rng.normal())
                px[yy * size + xx] = UInt8(max(0, min(255, value.rounded())))
            }
        }
        return PixelImage(width: size, height: size, channels: 1, pixels: px)
    }

    /// Gray value of face-space point (u, v): u right, v down, face oval ≈ [-0.78, 0.78] × [-1, 1].
    @inline(__always)
    private static func shade(u: Float, v: Float, skin: Float, dark: Float, bg: Float, curve: Float, open: Float,
                              halfW: Float, tilt: Float, raise: Float, eyeOpen: Float, skew: Float, wrinkles: Bool) -> Float {
        let oval = (u * u) / (0.78 * 0.78) + v * v
        if oval > 1 { return bg }
        var value = skin * (1 - 0.12 * oval)
        // Eyes.
        let ex = abs(u) - 0.32, ey = v + 0.18
        let eh = 0.075 * eyeOpen
        if (ex * ex) / (0.14 * 0.14) + (ey * ey) / (eh * eh) <= 1 {
            value = 235                                                     // sclera
            if ex * ex + ey * ey <= min(0.06, eh) * min(0.06, eh) { value = dark }   // iris
        }
        // Brows: segment from inner (±0.12) to outer (±0.52) end; inner end raised by `tilt`.
        let au = abs(u)
        if au >= 0.1 && au <= 0.54 {
            let t = (au - 0.12) / 0.4
            let browY = -0.42 - raise - tilt * (1 - t)
            if abs(v - browY) < 0.045 { value = dark }
        }
        // Nose.
        if abs(u) < 0.025 && v > -0.05 && v < 0.2 { value = value * 0.8 }
        if abs(v - 0.2) < 0.03 && abs(u) < 0.09 { value = value * 0.75 }
        if wrinkles && abs(u) < 0.12 && (abs(v + 0.04) < 0.018 || abs(v - 0.05) < 0.018) { value = value * 0.6 }
        // Mouth: centre line y(u) = 0.5 + curve·(1/2 − (u/w)²) + skew·u/w; opening around it.
        if abs(u) <= halfW + 0.03 {
            let q = min(1, abs(u) / halfW)
            let line = 0.5 + curve * (0.5 - q * q) + skew * (u / halfW)
            let h = open * (1 - q * q).squareRoot() / 2
            let d = abs(v - line)
            if abs(u) <= halfW && d < h { value = dark * 0.8 }
            else if abs(u) <= halfW && d < h + 0.035 { value = dark * 1.5 }
        }
        return value
    }

    /// The synthetic dataset: labels cycle through the classes, faces are drawn on demand.
    static func dataset(_ cfg: SyntheticFaceConfig, root: String) -> Dataset {
        let config = cfg
        var splits: [String: DatasetSplit] = [:]
        for (k, (name, count)) in [("train", config.trainCount), ("val", config.valCount), ("test", config.testCount)].enumerated()
        where count > 0 {
            var samples: [Sample] = []
            samples.reserveCapacity(count)
            for i in 0..<count {
                let seed = DataRNG.mix(DataRNG.mix(config.seed &+ 0x51A7, UInt64(k)), UInt64(i))
                samples.append(Sample(source: .synthetic(seed), label: i % 7))
            }
            splits[name] = DatasetSplit(name: name, samples: samples)
        }
        return Dataset(format: .synthetic, root: root, classes: classes, splits: splits, synthetic: config)
    }
}
