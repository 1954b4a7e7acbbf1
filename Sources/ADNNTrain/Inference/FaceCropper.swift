import Foundation
import ADNN
import ADNNData

/// Default RetinaFace weights: `ADNN_RETINAFACE`, else the shared copy next to the project.
public func defaultDetectorPath() -> String {
    ProcessInfo.processInfo.environment["ADNN_RETINAFACE"] ?? "../shared/models/retinaface_mobilenet0.25.safetensors"
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
