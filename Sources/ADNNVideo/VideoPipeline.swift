import Foundation
import ADNN
import ADNNData
import ADNNKernels

/// Settings of `VideoPipeline.run` (the flags of `adnn video`).
public struct VideoOptions: Sendable {
    /// Run the detector on every `every`-th frame (1: every frame); faces are carried by the tracker between.
    public var every: Int
    /// Weight of the past in the per-track exponential smoothing of probabilities, in [0, 1).
    public var smoothing: Float
    /// Also write `annotated.mp4` (boxes, labels, probability bars).
    public var annotate: Bool
    /// Replace the outputs in an existing output folder.
    public var overwrite: Bool
    /// Detection rounds a track may miss before it ends.
    public var maxMissed: Int
    /// Print a progress line (frames/s, ETA) on stderr.
    public var progress: Bool
    /// Stop after this many frames (nil: the whole input).
    public var maxFrames: Int?
    /// FFmpeg decoder threads (0: FFmpeg's choice).
    public var decoderThreads: Int
    /// Decode (and encode the annotated video) on their own threads, overlapping the networks.
    public var pipelined: Bool

    public init(every: Int = 1, smoothing: Float = 0.5, annotate: Bool = false, overwrite: Bool = false, maxMissed: Int = 3,
                progress: Bool = false, maxFrames: Int? = nil, decoderThreads: Int = 1, pipelined: Bool = true) {
        self.every = every; self.smoothing = smoothing; self.annotate = annotate; self.overwrite = overwrite
        self.maxMissed = maxMissed; self.progress = progress; self.maxFrames = maxFrames
        self.decoderThreads = decoderThreads; self.pipelined = pipelined
    }

    /// - Throws: `ADNNError.invalid` naming the flag.
    public func validate() throws {
        guard every >= 1 else { throw ADNNError.invalid("--every must be ≥ 1, got \(every)") }
        guard smoothing >= 0 && smoothing < 1 else { throw ADNNError.invalid("--smooth must be in [0, 1), got \(smoothing)") }
        guard maxMissed >= 0 else { throw ADNNError.invalid("max missed rounds must be ≥ 0, got \(maxMissed)") }
        if let maxFrames, maxFrames < 1 { throw ADNNError.invalid("--max-frames must be ≥ 1, got \(maxFrames)") }
    }
}

/// What a run did.
public struct VideoSummary: Sendable {
    public var input: String
    /// Frames processed.
    public var frames: Int
    /// Rows of `frames.csv` (faces summed over frames).
    public var faces: Int
    /// Track ids handed out.
    public var tracks: Int
    /// Frames on which the detector ran.
    public var detectorFrames: Int
    /// Wall time from the first decoded frame to the last row written.
    public var seconds: Double
    /// `frames / seconds`: end-to-end throughput (decode → CSV).
    public var framesPerSecond: Double
    public var width: Int, height: Int
    /// The input's frame rate, when it has one.
    public var videoFPS: Double?
    /// True when stopped by Ctrl-C (the outputs hold the frames done).
    public var interrupted: Bool
    public var csvPath: String, tracksPath: String
    /// `annotated.mp4` with `annotate`.
    public var videoPath: String?
    /// Encoder of the annotated video (`libx264` or `mpeg4`).
    public var videoCodec: String?

    /// Sorted-key JSON object.
    public func json() -> [String: Any] {
        var o: [String: Any] = ["input": input, "frames": frames, "faces": faces, "tracks": tracks, "detector_frames": detectorFrames,
                                "seconds": (seconds * 1000).rounded() / 1000, "frames_per_second": (framesPerSecond * 100).rounded() / 100,
                                "width": width, "height": height, "interrupted": interrupted, "frames_csv": csvPath, "tracks_json": tracksPath]
        if let videoFPS { o["video_fps"] = (videoFPS * 1000).rounded() / 1000 }
        if let videoPath { o["annotated_mp4"] = videoPath }
        if let videoCodec { o["codec"] = videoCodec }
        return o
    }
}

/// `adnn video`: decode → detect (every N frames) → track → align → classify (all faces of a frame in
/// one batch) → smooth per track → `frames.csv`, `tracks.json` and optionally `annotated.mp4`.
public enum VideoPipeline {
    private struct Decoded: @unchecked Sendable {
        var frame: VideoFrame?
        var detections: [FaceDetection]? = nil
        /// Aligned crops of `detections`, made on the detection thread.
        var crops: [PixelImage]? = nil
        var error: Error?
    }
    private struct Annotated: @unchecked Sendable { var frame: PixelImage; var faces: [FaceAnnotation] }
    private final class Box<T>: @unchecked Sendable { var value: T; init(_ v: T) { value = v } }

    private static func encodeAnnotated(_ a: Annotated, _ annotator: FrameAnnotator, _ w: VideoWriter) throws {
        let img = Profiler.measure("video.annotate") { annotator.annotate(a.frame, faces: a.faces) }
        try Profiler.measure("video.encode") { try w.write(img) }
    }

    /// Runs the pipeline on `input` (a video file or `/dev/videoN`), writing into `outputDirectory`.
    ///
    /// An existing output folder is an error unless `options.overwrite`. Ctrl-C (with
    /// `VideoInterrupt.install()`) stops at the next frame and finishes every output.
    /// - Throws: `ADNNError` naming the input (not a video, unsupported codec, no frames, truncated
    ///   data — the frames before the damage are kept) or the output.
    public static func run(input: String, outputDirectory dir: String, detector: FaceDetecting,
                           classifier: ExpressionClassifying, options: VideoOptions = VideoOptions()) throws -> VideoSummary {
        // Gradient recording is a process-wide switch: keep it off for the whole run, so that the
        // detector and classifier threads never see it flip under them.
        // Weights are fixed for the run: each thread's forwards use weights packed once (`withFrozenWeights`).
        try noGrad { try withFrozenWeights {
            try runUngraded(input: input, outputDirectory: dir, detector: detector, classifier: classifier, options: options)
        } }
    }

    private static func runUngraded(input: String, outputDirectory dir: String, detector: FaceDetecting,
                                    classifier: ExpressionClassifying, options: VideoOptions) throws -> VideoSummary {
        try options.validate()
        let fm = FileManager.default
        var isDir: ObjCBool = false
        let existed = fm.fileExists(atPath: dir, isDirectory: &isDir)
        if existed && !isDir.boolValue { throw ADNNError.io("\(dir): exists and is not a folder") }
        if existed && !options.overwrite { throw ADNNError.io("\(dir): output folder exists (pass --force to replace its outputs)") }
        let classes = classifier.classes
        guard !classes.isEmpty else { throw ADNNError.invalid("classifier has no classes") }

        let reader = try VideoReader(path: input, decoderThreads: options.decoderThreads)
        if !existed {
            do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw ADNNError.io("\(dir): cannot create the output folder (\(error.localizedDescription))")
            }
        }
        let csvPath = (dir as NSString).appendingPathComponent("frames.csv")
        let tracksPath = (dir as NSString).appendingPathComponent("tracks.json")
        let videoPath = (dir as NSString).appendingPathComponent("annotated.mp4")
        let csv = try FramesCSVWriter(path: csvPath, classes: classes)
        func removeOutputs() {
            csv.discard()
            if !existed { try? fm.removeItem(atPath: dir) }
        }

        // Decoding, on its own thread when pipelined.
        let decodeQueue = BoundedQueue<Decoded>(capacity: 4)
        let limit = options.maxFrames ?? .max
        let readerBox = Box(reader)
        let decodeThread: JoinableThread? = options.pipelined ? JoinableThread(name: "adnn-video-decode") {
            var n = 0
            while n < limit {
                do {
                    let f = try Profiler.measure("video.decode") { try readerBox.value.next() }
                    guard let f else { break }
                    if !decodeQueue.put(Decoded(frame: f, error: nil)) { return }
                    n += 1
                } catch {
                    decodeQueue.put(Decoded(frame: nil, error: error)); break
                }
            }
            decodeQueue.close()
        } : nil
        // Detection and the alignment of the detected faces, ahead of tracking and classification on
        // their own thread when pipelined (the two networks then share the cores instead of taking turns).
        let isDetectionFrame = { (index: Int) in index % options.every == 0 }
        let detectQueue = BoundedQueue<Decoded>(capacity: 2)
        let cropSize = classifier.cropSize
        let detectorBox = Box(detector)
        let detectThread: JoinableThread? = options.pipelined ? JoinableThread(name: "adnn-video-detect") {
            noGrad { withFrozenWeights {
                while var d = decodeQueue.take() {
                    if let f = d.frame, isDetectionFrame(f.index) {
                        let dets = Profiler.measure("video.detect") { detectorBox.value.detect(f.image) }
                        d.detections = dets
                        d.crops = Profiler.measure("video.align") { dets.map { $0.alignedCrop(in: f.image, size: cropSize) } }
                    }
                    if !detectQueue.put(d) { decodeQueue.cancel(); return }
                }
                detectQueue.close()
            } }
        } : nil
        var decodedInline = 0
        func nextFrame() throws -> (VideoFrame, [FaceDetection]?, [PixelImage]?)? {
            if options.pipelined {
                guard let d = detectQueue.take() else { return nil }
                if let e = d.error { throw e }
                guard let f = d.frame else { return nil }
                return (f, d.detections, d.crops)
            }
            guard decodedInline < limit else { return nil }
            decodedInline += 1
            guard let f = try Profiler.measure("video.decode", { try reader.next() }) else { return nil }
            return (f, isDetectionFrame(f.index) ? Profiler.measure("video.detect") { detector.detect(f.image) } : nil, nil)
        }

        // Annotated video, encoded on its own thread when pipelined.
        var videoWriter: VideoWriter? = nil
        let annotator = FrameAnnotator(classes: classes)
        let encodeQueue = BoundedQueue<Annotated>(capacity: 4)
        let encodeError = Box<Error?>(nil)
        var encodeThread: JoinableThread? = nil

        let tracker = FaceTracker(maxMissed: options.maxMissed)
        let smoother = TemporalSmoother(alpha: options.smoothing)
        var summaries: [Int: TrackSummary] = [:]
        var frames = 0, rows = 0, detectorFrames = 0, interrupted = false
        var width = reader.width, height = reader.height
        let progress = options.progress ? ProgressLine(total: options.maxFrames.map { min($0, reader.frameCountEstimate ?? $0) } ?? reader.frameCountEstimate) : nil
        var start: Date? = nil
        var failure: Error? = nil

        do {
            while true {
                if VideoInterrupt.requested { interrupted = true; break }
                guard let (frame, detections, detectionCrops) = try nextFrame() else { break }
                if start == nil { start = Date() }
                width = frame.image.width; height = frame.image.height
                if options.annotate && videoWriter == nil {
                    let w = try VideoWriter(path: videoPath, width: width, height: height, fps: reader.fpsRational)
                    videoWriter = w
                    if options.pipelined {
                        let wb = Box(w)
                        encodeThread = JoinableThread(name: "adnn-video-encode") {
                            while let a = encodeQueue.take() {
                                do { try encodeAnnotated(a, annotator, wb.value) } catch { encodeError.value = error; encodeQueue.cancel(); return }
                            }
                        }
                    }
                }
                let faces: [TrackedFace]
                if let dets = detections {
                    faces = tracker.update(dets, frame: frame.index)
                    detectorFrames += 1
                } else {
                    faces = tracker.predict(frame: frame.index)
                }
                for id in tracker.takeEnded() { smoother.remove(track: id) }
                let crops = Profiler.measure("video.align") {
                    faces.map { face in
                        if let i = face.detectionIndex, let made = detectionCrops, i < made.count { return made[i] }
                        return face.detection.alignedCrop(in: frame.image, size: cropSize)
                    }
                }
                let probs = crops.isEmpty ? [] : try Profiler.measure("video.classify") { try classifier.probabilities(crops) }
                guard probs.count == faces.count else {
                    throw ADNNError.invalid("classifier returned \(probs.count) results for \(faces.count) faces")
                }
                var annotations: [FaceAnnotation] = []
                try Profiler.measure("video.csv") {
                    for (face, p) in zip(faces, probs) {
                        let s = smoother.update(track: face.track, probabilities: p)
                        try csv.write(frame: frame.index, time: frame.time, face: face, probabilities: p, smoothed: s)
                        let label = argmax(s)
                        var t = summaries[face.track] ?? TrackSummary(track: face.track, firstFrame: frame.index, lastFrame: frame.index, frames: 0,
                                                                      labelCounts: [Int](repeating: 0, count: classes.count),
                                                                      firstTime: frame.time, lastTime: frame.time)
                        t.lastFrame = frame.index; t.lastTime = frame.time; t.frames += 1; t.labelCounts[label] += 1
                        summaries[face.track] = t
                        if options.annotate { annotations.append(FaceAnnotation(face: face, label: classes[label], probabilities: s)) }
                    }
                    try csv.flush()
                }
                rows += faces.count
                frames += 1
                if let w = videoWriter {
                    let a = Annotated(frame: frame.image, faces: annotations)
                    if options.pipelined {
                        if !encodeQueue.put(a) { break }
                    } else {
                        try encodeAnnotated(a, annotator, w)
                    }
                }
                progress?.update(frames: frames, faces: faces.count, since: start ?? Date())
            }
        } catch {
            failure = error
        }
        let seconds = start.map { Date().timeIntervalSince($0) } ?? 0
        detectQueue.cancel()
        decodeQueue.cancel()
        detectThread?.join()
        decodeThread?.join()
        encodeQueue.close()
        encodeThread?.join()
        progress?.finish()
        if failure == nil, let e = encodeError.value { failure = e }

        if frames == 0 {
            removeOutputs()
            if let failure { throw failure }
            if interrupted { throw ADNNError.io("\(input): interrupted before the first frame") }
            throw ADNNError.io("\(input): no video frames")
        }
        // Finish every output (also after damage later in the input: the frames before it are kept).
        try csv.finish()
        if let w = videoWriter { try w.finish() }
        tracker.finish()
        let trackList = summaries.values.sorted { $0.track < $1.track }
        var tracksJSON: [String: Any] = ["input": input, "frames": frames, "classes": classes, "interrupted": interrupted,
                                         "tracks": trackList.map { $0.json(classes: classes) }]
        if let fps = reader.fps { tracksJSON["fps"] = (fps * 1000).rounded() / 1000 }
        do {
            let data = try JSONSerialization.data(withJSONObject: tracksJSON, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
            try data.write(to: URL(fileURLWithPath: tracksPath), options: .atomic)
        } catch {
            throw ADNNError.io("\(tracksPath): cannot write (\(error.localizedDescription))")
        }
        if let failure {
            throw ADNNError.io("\(failure) (results for the \(frames) frames before it are in \(dir))")
        }
        return VideoSummary(input: input, frames: frames, faces: rows, tracks: tracker.trackCount, detectorFrames: detectorFrames,
                            seconds: seconds, framesPerSecond: seconds > 0 ? Double(frames) / seconds : 0,
                            width: width, height: height, videoFPS: reader.fps, interrupted: interrupted,
                            csvPath: csvPath, tracksPath: tracksPath, videoPath: videoWriter == nil ? nil : videoPath,
                            videoCodec: videoWriter?.codecName)
    }
}

/// The progress line on stderr: frames, frames/s, faces in the frame and ETA; rewritten in place on a
/// terminal, one line every 5 s otherwise.
final class ProgressLine {
    let total: Int?
    let tty = isatty(STDERR_FILENO) != 0
    var last = Date.distantPast
    var printed = false

    init(total: Int?) { self.total = total }

    func update(frames: Int, faces: Int, since start: Date) {
        let now = Date()
        if !tty && !printed && last == .distantPast { last = start }   // plain lines: the first after 5 s
        guard now.timeIntervalSince(last) >= (tty ? 0.5 : 5) else { return }
        last = now
        let elapsed = max(1e-6, now.timeIntervalSince(start))
        let rate = Double(frames) / elapsed
        var s = "frame \(frames)" + (total.map { "/\($0)" } ?? "") + String(format: "  %.1f frames/s  %d face%@", rate, faces, faces == 1 ? "" : "s")
        if let total, total > frames, rate > 0 {
            let eta = Int(Double(total - frames) / rate)
            s += String(format: "  ETA %d:%02d", eta / 60, eta % 60)
        }
        FileHandle.standardError.write(Data((tty ? "\r\u{1B}[K" + s : s + "\n").utf8))
        printed = true
    }

    func finish() { if tty && printed { FileHandle.standardError.write(Data("\n".utf8)) } }
}
