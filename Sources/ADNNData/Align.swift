import Foundation

/// Face alignment of SPEC §6: rotate about the box centre so the eye line is horizontal, crop a
/// square of side `expand` × max(w, h) around the centre, resample bicubically to `size` × `size`.
public enum FaceAlignment {
    /// Cubic convolution weight (a = −0.75, as OpenCV's INTER_CUBIC).
    @inline(__always) static func cubic(_ x: Float) -> Float {
        let a: Float = -0.75, t = Swift.abs(x)
        if t <= 1 { return ((a + 2) * t - (a + 3)) * t * t + 1 }
        if t < 2 { return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a }
        return 0
    }

    /// The aligned crop. `box` is `[x1, y1, x2, y2]`; eyes are (x, y) in image pixels (left eye = the
    /// subject's right eye as RetinaFace orders them, i.e. the one with the smaller x in an upright face).
    /// Pixels outside the image are black (OpenCV `warpAffine`'s constant border).
    public static func crop(_ image: PixelImage, box: [Float], leftEye: (Float, Float), rightEye: (Float, Float),
                            size: Int, expand: Float = 1.3) -> PixelImage {
        precondition(box.count == 4 && size > 0, "FaceAlignment.crop: box needs 4 values and size must be positive")
        let cx = (box[0] + box[2]) / 2, cy = (box[1] + box[3]) / 2
        let side = expand * Swift.max(box[2] - box[0], box[3] - box[1])
        let angle = atan2(rightEye.1 - leftEye.1, rightEye.0 - leftEye.0)
        let cs = cos(angle), sn = sin(angle)
        let c = image.channels, w = image.width, h = image.height
        var out = PixelImage(width: size, height: size, channels: c)
        let scale = side / Float(size)
        image.pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                var acc = [Float](repeating: 0, count: c)
                for v in 0..<size {
                    for u in 0..<size {
                        let px = (Float(u) + 0.5) * scale - side / 2, py = (Float(v) + 0.5) * scale - side / 2
                        // Source position (pixel centres at integer + 0.5).
                        let sx = cx + cs * px - sn * py - 0.5, sy = cy + sn * px + cs * py - 0.5
                        let x0 = Int(floor(sx)), y0 = Int(floor(sy))
                        let fx = sx - Float(x0), fy = sy - Float(y0)
                        for k in 0..<c { acc[k] = 0 }
                        for j in -1...2 {
                            let wy = cubic(Float(j) - fy)
                            let yy = y0 + j
                            if yy < 0 || yy >= h { continue }
                            for i in -1...2 {
                                let xx = x0 + i
                                if xx < 0 || xx >= w { continue }
                                let wgt = wy * cubic(Float(i) - fx)
                                let base = (yy * w + xx) * c
                                for k in 0..<c { acc[k] += wgt * Float(src[base + k]) }
                            }
                        }
                        let o = (v * size + u) * c
                        for k in 0..<c { dst[o + k] = UInt8(Swift.min(Swift.max(acc[k].rounded(), 0), 255)) }
                    }
                }
            }
        }
        return out
    }
}
