import Foundation
import ADNN
import ADNNData
import ADNNKernels

/// `adnn detect`: faces and five landmarks with RetinaFace MobileNet-0.25 (SPEC §6).
public struct DetectionRequest {
    public var weights: String
    public var images: [String]
    public var json: Bool
    public var threshold: Float
    public var nmsThreshold: Float
    public var draw: String?

    public init(weights: String, images: [String], json: Bool = false, threshold: Float = 0.5, nmsThreshold: Float = 0.4, draw: String? = nil) {
        self.weights = weights; self.images = images; self.json = json; self.threshold = threshold; self.nmsThreshold = nmsThreshold; self.draw = draw
    }








    public func validate() throws {
        guard threshold >= 0 && threshold < 1 else { throw ADNNError.invalid("--threshold must be in [0, 1), got \(threshold)") }
        guard nmsThreshold > 0 && nmsThreshold <= 1 else { throw ADNNError.invalid("--nms must be in (0, 1], got \(nmsThreshold)") }
    }

    public func run() throws {
        do {
            try validate()
            let model = try RetinaFace.load(weights)
            if let draw {
                do {
                    try FileManager.default.createDirectory(atPath: draw, withIntermediateDirectories: true)
                } catch {
                    throw ADNNError.io("\(draw): cannot create the --draw folder (\(error.localizedDescription))")
                }
            }
            for path in images {
                let image = try loadImage(path)
                let faces = image.pixels.withUnsafeBufferPointer {
                    model.detect(pixels: $0, width: image.width, height: image.height, channels: image.channels,
                                 threshold: threshold, nmsThreshold: nmsThreshold)
                }
                if json {
                    print(try detectionJSONLine(image: path, faces: faces))
                } else {
                    print("\(path): \(faces.count) face\(faces.count == 1 ? "" : "s") (\(image.width)×\(image.height))")
                    for f in faces {
                        let box = f.box.map { String(format: "%.1f", $0) }.joined(separator: ", ")
                        let points = stride(from: 0, to: 10, by: 2)
                            .map { String(format: "(%.1f, %.1f)", f.landmarks[$0], f.landmarks[$0 + 1]) }.joined(separator: " ")
                        print(String(format: "  score %.4f", f.score) + "  box [\(box)]  landmarks \(points)")
                    }
                }
                if let draw {
                    let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
                    try savePNG(drawDetections(image, faces), to: (draw as NSString).appendingPathComponent(stem + ".png"))
                }
            }
        }
    }
}

/// `{"faces": [...], "image": path}` on one line (sorted keys, slashes unescaped).
private func detectionJSONLine(image path: String, faces: [FaceDetection]) throws -> String {
    let object: [String: Any] = ["image": path, "faces": faces.map(faceJSON)]
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    return String(decoding: data, as: UTF8.self)
}

/// JSON object of one face: coordinates rounded to 0.01 px, score to 1e-4.
private func faceJSON(_ f: FaceDetection) -> [String: Any] {
    func round(_ v: Float, _ scale: Double) -> Double { (Double(v) * scale).rounded() / scale }
    return ["box": f.box.map { round($0, 100) }, "score": round(f.score, 10_000), "landmarks": f.landmarks.map { round($0, 100) }]
}

/// An RGB copy of `image` with each box outlined in green and its landmarks as red dots
/// (line width and dot size grow with the image and the face).
private func drawDetections(_ image: PixelImage, _ faces: [FaceDetection]) -> PixelImage {
    var out = PixelImage(width: image.width, height: image.height, channels: 3)
    for y in 0..<image.height {
        for x in 0..<image.width {
            for c in 0..<3 { out[x, y, c] = image[x, y, image.channels == 1 ? 0 : c] }
        }
    }
    let thickness = max(1, min(image.width, image.height) / 300 + 1)
    /// Paints the rectangle [x0, x1] × [y0, y1], clipped to the image.
    func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: (UInt8, UInt8, UInt8)) {
        let (left, right) = (max(0, x0), min(out.width - 1, x1)), (top, bottom) = (max(0, y0), min(out.height - 1, y1))
        guard left <= right && top <= bottom else { return }
        for y in top...bottom {
            for x in left...right {
                out[x, y, 0] = color.0; out[x, y, 1] = color.1; out[x, y, 2] = color.2
            }
        }
    }
    let green: (UInt8, UInt8, UInt8) = (0, 255, 0), red: (UInt8, UInt8, UInt8) = (255, 0, 0)
    for f in faces {
        let x0 = Int(f.box[0].rounded()), y0 = Int(f.box[1].rounded()), x1 = Int(f.box[2].rounded()), y1 = Int(f.box[3].rounded())
        let t = thickness - 1
        fill(x0, y0, x1, y0 + t, green)
        fill(x0, y1 - t, x1, y1, green)
        fill(x0, y0, x0 + t, y1, green)
        fill(x1 - t, y0, x1, y1, green)
        let radius = min(thickness, Int(min(f.width, f.height) / 30))
        for p in 0..<5 {
            let px = Int(f.landmarks[2 * p].rounded()), py = Int(f.landmarks[2 * p + 1].rounded())
            fill(px - radius, py - radius, px + radius, py + radius, red)
        }
    }
    return out
}
