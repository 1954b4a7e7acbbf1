import Foundation
import ADNN
import ADNNData
import CFFmpeg

/// Writes RGB frames to an MP4 through libavcodec: H.264 (libx264, preset `veryfast`, CRF 23) when
/// this FFmpeg has the encoder, MPEG-4 part 2 otherwise. The file appears at `path` only when
/// `finish()` succeeds (it is written under a temporary name and renamed); an existing file is
/// replaced only then.
public final class VideoWriter {
    /// Destination.
    public let path: String
    /// Size of the frames passed to `write` (the video drops an odd last row or column).
    public let width: Int, height: Int
    /// The encoder used (`libx264` or `mpeg4`).
    public let codecName: String
    /// Frames written so far.
    public private(set) var frameCount = 0

    private var writer: UnsafeMutablePointer<adnn_video_writer>?
    private let temporaryPath: String

    /// Whether this FFmpeg can encode H.264 (libx264).
    public static var hasH264Encoder: Bool { adnn_video_has_h264_encoder() != 0 }

    /// Creates the encoder for `width`×`height` frames at `fps` (`num/den` frames per second).
    /// - Parameters:
    ///   - preferH264: false forces MPEG-4.
    ///   - threads: encoder threads (0: FFmpeg's choice).
    /// - Throws: `ADNNError.io` naming `path`.
    public init(path: String, width: Int, height: Int, fps: (num: Int, den: Int) = (25, 1),
                preferH264: Bool = true, threads: Int = 1) throws {
        self.path = path; self.width = width; self.height = height
        let dir = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        temporaryPath = (dir.isEmpty ? "" : dir + "/") + ".\(name).\(getpid()).partial"
        var message = [CChar](repeating: 0, count: Int(ADNN_FF_MESSAGE))
        guard let w = adnn_video_writer_open(temporaryPath, Int32(width), Int32(height), Int32(fps.num), Int32(fps.den),
                                             preferH264 ? 1 : 0, Int32(threads), &message) else {
            try? FileManager.default.removeItem(atPath: temporaryPath)
            throw ADNNError.io("\(path): \(String(cString: message))")
        }
        writer = w
        codecName = withUnsafeBytes(of: w.pointee.codec_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    }

    deinit {
        if let writer {
            adnn_video_writer_free(writer)
            try? FileManager.default.removeItem(atPath: temporaryPath)
        }
    }

    private func message(_ w: UnsafeMutablePointer<adnn_video_writer>) -> String {
        withUnsafeBytes(of: w.pointee.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    }

    /// Encodes one frame (RGB, or gray replicated, of the size given at creation).
    /// - Throws: `ADNNError.invalid` for a frame of another size, `ADNNError.io` on encoder errors.
    public func write(_ image: PixelImage) throws {
        guard let writer else { throw ADNNError.invalid("\(path): write after finish") }
        guard image.width == width && image.height == height else {
            throw ADNNError.invalid("\(path): frame \(frameCount) is \(image.width)×\(image.height), the video is \(width)×\(height)")
        }
        let rgb = image.channels == 3 ? image : image.toRGB()
        let status = rgb.pixels.withUnsafeBufferPointer { adnn_video_writer_write(writer, $0.baseAddress) }
        if status < 0 { throw ADNNError.io("\(path): \(message(writer))") }
        frameCount += 1
    }

    /// Flushes the encoder, writes the MP4 trailer and moves the file into place.
    /// - Throws: `ADNNError.io` naming `path`.
    public func finish() throws {
        guard let w = writer else { return }
        let status = adnn_video_writer_finish(w)
        let reason = message(w)
        adnn_video_writer_free(w)
        writer = nil
        if status < 0 {
            try? FileManager.default.removeItem(atPath: temporaryPath)
            throw ADNNError.io("\(path): \(reason)")
        }
        if rename(temporaryPath, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporaryPath)
            throw ADNNError.io("\(path): cannot move the finished video into place (\(reason))")
        }
    }
}
