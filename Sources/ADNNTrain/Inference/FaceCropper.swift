import Foundation
import ADNN
import ADNNData

/// The shipped RetinaFace weights' file name under `models/`.
public let shippedDetectorName = "retinaface_mobilenet0.25.safetensors"

/// Default RetinaFace weights: `ADNN_RETINAFACE`, else the shipped file (`shippedModelCandidates`).
public func defaultDetectorPath() -> String {
    if let env = ProcessInfo.processInfo.environment["ADNN_RETINAFACE"] { return env }
    let candidates = shippedModelCandidates(shippedDetectorName)
    return candidates.first { FileManager.default.fileExists(atPath: $0) } ?? candidates[candidates.count - 1]
}

/// Detects faces with RetinaFace and returns SPEC §6 aligned crops with their boxes.
public final class FaceCropper {
    public let detector: RetinaFace
    public let threshold: Float

    public init(weights: String, threshold: Float = 0.5) throws {
        guard FileManager.default.fileExists(atPath: weights) else {
            throw ADNNError.io("\(weights): RetinaFace weights not found (pass --detector or set ADNN_RETINAFACE)")
        }
        detector = try RetinaFace.load(weights)
        self.threshold = threshold
    }

    /// Faces (highest score first) with aligned `size`×`size` crops.
    public func faces(in image: PixelImage, size: Int) -> [(detection: FaceDetection, crop: PixelImage)] {
        let rgb = image.channels == 3 ? image : image.converted(toChannels: 3)
        let dets = noGrad {
            rgb.pixels.withUnsafeBufferPointer {
                detector.detect(pixels: $0, width: rgb.width, height: rgb.height, channels: 3, threshold: threshold)
            }
        }
        return dets.map { d in
            let l = (d.landmarks[0], d.landmarks[1]), r = (d.landmarks[2], d.landmarks[3])
            return (d, FaceAlignment.crop(image, box: d.box, leftEye: l, rightEye: r, size: size))
        }
    }
}
