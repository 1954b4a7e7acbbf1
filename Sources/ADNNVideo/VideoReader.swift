import Foundation
import ADNN
import ADNNData
import CFFmpeg

/// One decoded video frame as 8-bit RGB.
public struct VideoFrame: Sendable {
    /// 0-based position in decoding order.
    public var index: Int
    /// Presentation time in seconds from the start of the stream (from the frame's timestamp, or
    /// `index / fps` when it has none).
    public var time: Double
    /// The pixels, 3 channels.
    public var image: PixelImage
}

/// Reads the video stream of any file FFmpeg's libavformat opens (MP4, MKV, AVI, WebM, MOV, …, any
/// codec its libavcodec decodes) or of a V4L2 capture device (`/dev/video0`), frame by frame, as RGB.
///
/// Errors are one line naming the input: not a video, no video stream, unsupported codec,
/// truncated or corrupt data.
public final class VideoReader {
    /// The input as given.
    public let path: String
    /// Frame size of the stream (frames may change size mid-stream; each `VideoFrame` has its own).
    public private(set) var width: Int, height: Int
    /// Frames per second guessed by FFmpeg (`nil` when the input does not say).
    public let fps: Double?
    /// `fps` as a rational (`0/1` when unknown), for writing a video at the same rate.
    public let fpsRational: (num: Int, den: Int)
    /// Number of frames the container announces (or duration × fps); `nil` when unknown (cameras).
    public let frameCountEstimate: Int?
    /// The decoder's name (e.g. `h264`, `mpeg4`, `vp9`).
    public let codecName: String
    /// The demuxer's name (e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`, `video4linux2,v4l2`).
    public let formatName: String
    /// True when the input is a capture device.
    public let isCamera: Bool

    private let reader: UnsafeMutablePointer<adnn_video_reader>
    private var buffer: [UInt8]
    private var nextIndex = 0

    /// Whether `path` names a V4L2 capture device (`/dev/videoN`), read through libavdevice.
    public static func isCameraPath(_ path: String) -> Bool { path.hasPrefix("/dev/video") }

    /// Opens `path`. `decoderThreads` 0 lets FFmpeg choose.
    /// - Throws: `ADNNError.io` naming `path` (missing file, not a video, no video stream,
    ///   unsupported codec).
    public init(path: String, decoderThreads: Int = 1) throws {
        self.path = path
        isCamera = Self.isCameraPath(path)
        if !isCamera && !FileManager.default.fileExists(atPath: path) { throw ADNNError.io("\(path): no such file") }
        var message = [CChar](repeating: 0, count: Int(ADNN_FF_MESSAGE))
        let opened = isCamera ? adnn_video_reader_open(path, "v4l2", Int32(decoderThreads), &message)
                              : adnn_video_reader_open(path, nil, Int32(decoderThreads), &message)
        guard let opened else {
            throw ADNNError.io("\(path): \(String(cString: message))")
        }
        reader = opened
        let r = opened.pointee
        width = Int(r.width); height = Int(r.height)
        fpsRational = (Int(r.fps_num), Int(r.fps_den))
        fps = r.fps_num > 0 ? Double(r.fps_num) / Double(r.fps_den) : nil
        frameCountEstimate = r.frame_estimate > 0 ? Int(r.frame_estimate) : nil
        codecName = withUnsafeBytes(of: r.codec_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        formatName = withUnsafeBytes(of: r.format_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        buffer = [UInt8](repeating: 0, count: max(1, width * height * 3))
    }

    deinit { adnn_video_reader_free(reader) }

    private var lastMessage: String {
        withUnsafeBytes(of: reader.pointee.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    }

    /// The next frame, or `nil` at the end of the stream.
    /// - Throws: `ADNNError.io` naming the input on truncated or corrupt data.
    public func next() throws -> VideoFrame? {
        var status = buffer.withUnsafeMutableBufferPointer { adnn_video_reader_next(reader, $0.baseAddress, $0.count) }
        if status == -2 {
            // The frame is larger than the buffer: grow it and convert the pending frame.
            buffer = [UInt8](repeating: 0, count: Int(reader.pointee.width) * Int(reader.pointee.height) * 3)
            status = buffer.withUnsafeMutableBufferPointer { adnn_video_reader_convert(reader, $0.baseAddress, $0.count) }
            av_frame_unref(reader.pointee.frame)
        }
        if status == 0 { return nil }
        if status < 0 { throw ADNNError.io("\(path): \(lastMessage) at frame \(nextIndex)") }
        width = Int(reader.pointee.width); height = Int(reader.pointee.height)
        let n = width * height * 3
        let pixels = n == buffer.count ? buffer : Array(buffer[0..<n])
        let t = adnn_video_reader_time(reader)
        let time = t >= 0 ? t : Double(nextIndex) / (fps ?? 25)
        defer { nextIndex += 1 }
        return VideoFrame(index: nextIndex, time: time, image: PixelImage(width: width, height: height, channels: 3, pixels: pixels))
    }
}
