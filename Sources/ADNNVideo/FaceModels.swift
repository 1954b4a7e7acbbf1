import Foundation
import ADNN
import ADNNData

/// Finds faces (box and five landmarks, in frame pixels) in a video frame.
public protocol FaceDetecting {
    /// Faces in `frame`, highest score first.
    func detect(_ frame: PixelImage) -> [FaceDetection]
}

/// Classifies aligned face crops into expressions.
public protocol ExpressionClassifying {
    /// Class names, in the order of the probabilities.
    var classes: [String] { get }
    /// Side of the aligned square crop the classifier wants (`FaceAlignment.crop(..., size:)`).
    var cropSize: Int { get }
    /// Class probabilities (softmax) of every crop, in one forward pass for all of them.
    /// - Throws: when the model cannot classify them (e.g. non-finite outputs of damaged weights).
    func probabilities(_ crops: [PixelImage]) throws -> [[Float]]
}

extension FaceDetection {
    /// The SPEC §6 aligned crop of this face in `image` (eye line horizontal, 1.3 × the box side).
    public func alignedCrop(in image: PixelImage, size: Int) -> PixelImage {
        FaceAlignment.crop(image, box: box, leftEye: (landmarks[0], landmarks[1]), rightEye: (landmarks[2], landmarks[3]), size: size)
    }
}

/// RetinaFace MobileNet-0.25 (`RetinaFace` of ADNN) as a `FaceDetecting`, run on a copy of the frame
/// shrunk so that its longer side is at most `maxSide` (boxes and landmarks are scaled back to the
/// frame): a 640×480 frame costs ≈ 23 ms at full size and about a quarter of that at 320 px, and
/// faces larger than ≈ 20 px in the frame stay detectable.
public final class RetinaFaceDetector: FaceDetecting {
    /// The network.
    public let model: RetinaFace
    /// Longest side of the image the network sees (`nil`: the full frame).
    public let maxSide: Int?
    /// Minimum face probability.
    public let threshold: Float
    /// NMS IoU threshold.
    public let nmsThreshold: Float

    /// Wraps a loaded detector.
    public init(model: RetinaFace, maxSide: Int? = 320, threshold: Float = 0.5, nmsThreshold: Float = 0.4) {
        self.model = model; self.maxSide = maxSide; self.threshold = threshold; self.nmsThreshold = nmsThreshold
    }

    /// Loads RetinaFace weights (`.pth` or `.safetensors`).
    /// - Throws: `ADNNError.io` naming `weights` when the file is missing or holds other weights.
    public convenience init(weights: String, maxSide: Int? = 320, threshold: Float = 0.5) throws {
        guard FileManager.default.fileExists(atPath: weights) else {
            throw ADNNError.io("\(weights): RetinaFace weights not found (pass --detector or set ADNN_RETINAFACE)")
        }
        self.init(model: try RetinaFace.load(weights), maxSide: maxSide, threshold: threshold)
    }

    /// The size the network sees for a `width`×`height` frame.
    public func detectionSize(width: Int, height: Int) -> (width: Int, height: Int) {
        guard let maxSide, max(width, height) > maxSide else { return (width, height) }
        let s = Double(maxSide) / Double(max(width, height))
        return (max(1, Int((Double(width) * s).rounded())), max(1, Int((Double(height) * s).rounded())))
    }

    /// `image` at `width`×`height`: the mean of each k×k block when the frame is exactly k times the
    /// size (640×480 → 320×240, 1280×720 → 320×180, 1920×1080 → 320×180), else an antialiased
    /// bilinear resize.
    static func shrink(_ image: PixelImage, width: Int, height: Int) -> PixelImage {
        let k = image.width / width
        guard k >= 2, image.width == k * width, image.height == k * height else {
            return image.resized(width: width, height: height, mode: .bilinear)
        }
        let c = image.channels, sw = image.width, area = UInt32(k * k)
        var out = PixelImage(width: width, height: height, channels: c)
        image.pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                var acc = [UInt32](repeating: 0, count: width * c)
                for y in 0..<height {
                    for i in 0..<acc.count { acc[i] = 0 }
                    for dy in 0..<k {
                        let row = (y * k + dy) * sw * c
                        for x in 0..<width {
                            let base = row + x * k * c
                            for dx in 0..<k {
                                for ch in 0..<c { acc[x * c + ch] &+= UInt32(src[base + dx * c + ch]) }
                            }
                        }
                    }
                    let o = y * width * c
                    for i in 0..<acc.count { dst[o + i] = UInt8((acc[i] + area / 2) / area) }
                }
            }
        }
        return out
    }

    public func detect(_ frame: PixelImage) -> [FaceDetection] {
        let (w, h) = detectionSize(width: frame.width, height: frame.height)
        let small = (w, h) == (frame.width, frame.height) ? frame : Self.shrink(frame, width: w, height: h)
        let faces = noGrad {
            small.pixels.withUnsafeBufferPointer {
                model.detect(pixels: $0, width: small.width, height: small.height, channels: small.channels,
                             threshold: threshold, nmsThreshold: nmsThreshold)
            }
        }
        if (w, h) == (frame.width, frame.height) { return faces }
        let sx = Float(frame.width) / Float(w), sy = Float(frame.height) / Float(h)
        return faces.map { f in
            var g = f
            g.box = [f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy]
            for p in 0..<5 { g.landmarks[2 * p] *= sx; g.landmarks[2 * p + 1] *= sy }
            return g
        }
    }
}
