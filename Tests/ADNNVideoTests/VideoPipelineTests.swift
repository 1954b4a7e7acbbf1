import XCTest
import Foundation
@testable import ADNN
import ADNNTrain
import ADNNData
import ADNNVideo

/// End to end on a clip the tests make with `VideoWriter`: four face photos from `shared/data/faces`
/// drifting on a canvas, run through `VideoPipeline` in process.
final class VideoPipelineTests: XCTestCase {
    /// Built once for the class: the clip, its composer, a tiny checkpoint and the detector.
    struct Fixture {
        let dir: String
        let clipPath: String
        let clip: FaceClip
        let frames: Int
        let classifier: ImageClassifier
        let detector: RetinaFaceDetector
    }
    nonisolated(unsafe) static var cached: Fixture?

    func fixture() throws -> Fixture {
        if let f = Self.cached { return f }
        guard let faces = sharedAssetPath("data/faces"), let weights = sharedAssetPath("models/retinaface_mobilenet0.25.safetensors") else {
            throw XCTSkip("shared face photos or RetinaFace weights are absent")
        }
        let dir = try makeTempDir("fixture")
        let names = ["Abdel_Nasser_Assidi_0001.jpg", "Elizabeth_Regan_0001.jpg", "Rick_Perry_0006.jpg", "Ruth_Dreifuss_0002.jpg"]
        let photos = try names.map { try loadImage(faces + "/" + $0) }
        let clip = FaceClip(photos: photos, width: 320, height: 240)
        let clipPath = dir + "/clip.mp4"
        let frames = 12
        try clip.write(to: clipPath, frames: frames, fps: 10)
        try writeTinyCheckpoint(dir + "/ck.safetensors")
        let f = Fixture(dir: dir, clipPath: clipPath, clip: clip, frames: frames,
                        classifier: try ImageClassifier(checkpoint: dir + "/ck.safetensors"),
                        detector: try RetinaFaceDetector(weights: weights))
        Self.cached = f
        return f
    }

    override class func tearDown() {
        if let d = cached?.dir { try? FileManager.default.removeItem(atPath: d) }
        cached = nil
    }

    func decodeAll(_ path: String) throws -> [VideoFrame] {
        let r = try VideoReader(path: path)
        var out: [VideoFrame] = []
        while let f = try r.next() { out.append(f) }
        return out
    }

    func floats(_ row: [String: String], _ keys: [String]) -> [Float] { keys.map { Float(row[$0] ?? "") ?? .nan } }

    /// One row per face per frame, four stable tracks that follow their faces, labels and
    /// probabilities equal to detecting, aligning and classifying the decoded frames one face at a
    /// time, smoothing as documented, `tracks.json` and the annotated MP4.
    func testRowsTracksLabelsAndOutputs() throws {
        let fx = try fixture()
        let out = fx.dir + "/run-every1"
        let s = try VideoPipeline.run(input: fx.clipPath, outputDirectory: out, detector: fx.detector, classifier: fx.classifier,
                                      options: VideoOptions(every: 1, smoothing: 0.5, annotate: true))
        XCTAssertEqual(s.frames, fx.frames)
        XCTAssertEqual(s.faces, 4 * fx.frames)
        XCTAssertEqual(s.tracks, 4)
        XCTAssertEqual(s.detectorFrames, fx.frames)
        let classes = fx.classifier.classes
        let (header, rows) = try readCSV(out + "/frames.csv")
        XCTAssertEqual(header, FramesCSVWriter.columns(classes: classes))
        XCTAssertEqual(rows.count, 4 * fx.frames)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/frames.csv.partial"))

        let decoded = try decodeAll(fx.clipPath)
        XCTAssertEqual(decoded.count, fx.frames)
        var trackFace: [Int: Int] = [:]           // track id → face index in the clip
        var previous: [Int: [Float]] = [:]        // track → smoothed probabilities of the last frame
        for frame in decoded {
            let mine = rows.filter { Int($0["frame"]!) == frame.index }
            XCTAssertEqual(mine.count, 4, "rows of frame \(frame.index)")
            XCTAssertEqual(Set(mine.map { $0["track"]! }).count, 4, "one row per track in frame \(frame.index)")
            XCTAssertEqual(Double(mine.first?["time_s"] ?? "") ?? -1, Double(frame.index) / 10, accuracy: 1e-3)
            // Reference: the same decoded frame, detected, aligned and classified face by face.
            let dets = fx.detector.detect(frame.image)
            XCTAssertEqual(dets.count, 4, "reference faces in frame \(frame.index)")
            for row in mine {
                let track = Int(row["track"]!)!
                let box = floats(row, ["x1", "y1", "x2", "y2"])
                guard let det = dets.first(where: { zip($0.box, box).allSatisfy { abs($0 - $1) <= 0.006 } }) else {
                    XCTFail("frame \(frame.index) track \(track): box \(box) is not a detection of the frame"); continue
                }
                assertClose(floats(row, FramesCSVWriter.landmarkColumns), det.landmarks, atol: 0.006)
                let p = try fx.classifier.probabilities(det.alignedCrop(in: frame.image, size: fx.classifier.cropSize))   // as `adnn predict --align`
                XCTAssertEqual(row["label"], classes[argmax(p)], "label of frame \(frame.index) track \(track)")
                let raw = floats(row, classes)
                assertClose(raw, p, atol: 2e-5, rtol: 1e-4, "probabilities")
                let smoothed = floats(row, classes.map { "smoothed_" + $0 })
                let expected = previous[track].map { zip($0, raw).map { 0.5 * $0 + 0.5 * $1 } } ?? raw
                assertClose(smoothed, expected, atol: 2e-6, "smoothing of track \(track)")
                XCTAssertEqual(row["smoothed_label"], classes[argmax(smoothed)])
                previous[track] = smoothed
                // The track stays on the same face of the clip.
                let cx = (box[0] + box[2]) / 2, cy = (box[1] + box[3]) / 2
                let nearest = (0..<4).min { a, b in
                    func d(_ i: Int) -> Float {
                        let p = fx.clip.position(face: i, frame: frame.index), h = Float(fx.clip.faces[i].width) / 2
                        return hypot(Float(p.x) + h - cx, Float(p.y) + h - cy)
                    }
                    return d(a) < d(b)
                }!
                if let f = trackFace[track] { XCTAssertEqual(f, nearest, "track \(track) jumped to another face") } else { trackFace[track] = nearest }
            }
        }
        XCTAssertEqual(Set(trackFace.values).count, 4)

        let tracks = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/tracks.json"))) as! [String: Any]
        XCTAssertEqual(tracks["frames"] as? Int, fx.frames)
        let list = tracks["tracks"] as! [[String: Any]]
        XCTAssertEqual(list.count, 4)
        for t in list {
            XCTAssertEqual(t["first_frame"] as? Int, 0); XCTAssertEqual(t["last_frame"] as? Int, fx.frames - 1)
            XCTAssertEqual(t["frames"] as? Int, fx.frames)
            let share = t["share"] as! [String: Double]
            XCTAssertEqual(share.values.reduce(0, +), 1, accuracy: 1e-3)
            let dominant = t["dominant"] as! String
            XCTAssertEqual(share[dominant], share.values.max())
            // The dominant expression is the most frequent smoothed label of the track's rows.
            let labels = rows.filter { Int($0["track"]!) == t["track"] as? Int }.map { $0["smoothed_label"]! }
            XCTAssertEqual(Double(labels.filter { $0 == dominant }.count) / Double(fx.frames), share[dominant]!, accuracy: 1e-3)
        }

        // The annotated video: same frame count and size; the box of track 1 is drawn in its colour.
        let annotated = try decodeAll(out + "/annotated.mp4")
        XCTAssertEqual(annotated.count, fx.frames)
        XCTAssertEqual(annotated.first?.image.width, 320)
        if let a = annotated.first, let r = rows.first(where: { $0["frame"] == "0" && $0["track"] == "1" }) {
            let box = floats(r, ["x1", "y1", "x2", "y2"]).map { Int($0.rounded()) }
            let color = FrameAnnotator.color(track: 1)
            let y = (box[1] + box[3]) / 2, x = box[0]
            let px = (Int(a.image[x, y, 0]), Int(a.image[x, y, 1]), Int(a.image[x, y, 2]))
            XCTAssertLessThan(abs(px.0 - Int(color.0)) + abs(px.1 - Int(color.1)) + abs(px.2 - Int(color.2)), 120,
                              "box outline colour at (\(x), \(y)): \(px) vs \(color)")
        }
    }

    /// `--every 3`: the detector runs on frames 0, 3, 6, 9; the faces are carried in between with
    /// the same tracks, and the carried boxes stay on their faces.
    func testDetectEveryNCarriesTracks() throws {
        let fx = try fixture()
        let out = fx.dir + "/run-every3"
        let s = try VideoPipeline.run(input: fx.clipPath, outputDirectory: out, detector: fx.detector, classifier: fx.classifier,
                                      options: VideoOptions(every: 3, smoothing: 0))
        XCTAssertEqual(s.detectorFrames, 4)
        XCTAssertEqual(s.tracks, 4)
        let (_, rows) = try readCSV(out + "/frames.csv")
        XCTAssertEqual(rows.count, 4 * fx.frames)
        for row in rows {
            let frame = Int(row["frame"]!)!
            XCTAssertEqual(row["detected"], frame % 3 == 0 ? "1" : "0", "frame \(frame)")
            XCTAssertEqual(row["label"], row["smoothed_label"], "no smoothing")
        }
        let decoded = try decodeAll(fx.clipPath)
        for frame in decoded where frame.index % 3 != 0 {
            let dets = fx.detector.detect(frame.image)
            for row in rows where Int(row["frame"]!) == frame.index {
                let box = floats(row, ["x1", "y1", "x2", "y2"])
                let best = dets.map { boxIoU($0.box, box) }.max() ?? 0
                XCTAssertGreaterThan(best, 0.6, "carried box of track \(row["track"]!) in frame \(frame.index)")
            }
        }
    }

    /// Ctrl-C (here `VideoInterrupt.request()` from inside the run) stops at the next frame and
    /// leaves complete outputs for the frames done.
    func testInterruptKeepsCompleteOutputs() throws {
        let fx = try fixture()
        final class StoppingDetector: FaceDetecting {
            let inner: FaceDetecting; var calls = 0
            init(_ inner: FaceDetecting) { self.inner = inner }
            func detect(_ frame: PixelImage) -> [FaceDetection] {
                calls += 1
                if calls == 5 { VideoInterrupt.request() }
                return inner.detect(frame)
            }
        }
        VideoInterrupt.reset()
        defer { VideoInterrupt.reset() }
        let out = fx.dir + "/run-interrupted"
        let s = try VideoPipeline.run(input: fx.clipPath, outputDirectory: out, detector: StoppingDetector(fx.detector),
                                      classifier: fx.classifier, options: VideoOptions())
        XCTAssertTrue(s.interrupted)
        // Detection runs ahead of classification, so the stop lands a frame or two before the fifth.
        XCTAssertGreaterThanOrEqual(s.frames, 1); XCTAssertLessThanOrEqual(s.frames, 5)
        let (_, rows) = try readCSV(out + "/frames.csv")
        XCTAssertEqual(rows.count, 4 * s.frames, "complete rows of every frame done")
        XCTAssertEqual(rows.map { Int($0["frame"]!)! }.max(), s.frames - 1)
        let tracks = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/tracks.json"))) as! [String: Any]
        XCTAssertEqual(tracks["interrupted"] as? Bool, true)
    }

    /// Bad inputs are one error naming the file, and create no output folder.
    func testBadInputs() throws {
        let fx = try fixture()
        let d = try makeTempDir("bad")
        defer { try? FileManager.default.removeItem(atPath: d) }
        func expectError(_ input: String, mentions: String, file: StaticString = #filePath, line: UInt = #line) {
            let out = d + "/out-\(UUID().uuidString.prefix(4))"
            XCTAssertThrowsError(try VideoPipeline.run(input: input, outputDirectory: out, detector: fx.detector, classifier: fx.classifier),
                                 file: file, line: line) { e in
                let m = String(describing: e)
                XCTAssertTrue(m.contains(input), "names the input: \(m)", file: file, line: line)
                XCTAssertTrue(m.contains(mentions), "says \(mentions): \(m)", file: file, line: line)
                XCTAssertFalse(m.contains("\n"), "one line: \(m)", file: file, line: line)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no output folder for \(input)", file: file, line: line)
        }
        try "frame,time\n1,2\nthis is not a video\n".write(toFile: d + "/notes.mp4", atomically: true, encoding: .utf8)
        expectError(d + "/notes.mp4", mentions: "not a video")
        try "just some text\n".write(toFile: d + "/notes.txt", atomically: true, encoding: .utf8)
        expectError(d + "/notes.txt", mentions: "not a video")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fx.clipPath))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: d + "/truncated.mp4"))
        expectError(d + "/truncated.mp4", mentions: "truncated or damaged")
        let empty = try VideoWriter(path: d + "/empty.mp4", width: 64, height: 48)
        try empty.finish()
        expectError(d + "/empty.mp4", mentions: "no video")   // an MP4 without samples has no video stream
        expectError(d + "/missing.mp4", mentions: "no such file")
        // An existing output folder is refused without `overwrite`.
        try FileManager.default.createDirectory(atPath: d + "/exists", withIntermediateDirectories: true)
        XCTAssertThrowsError(try VideoPipeline.run(input: fx.clipPath, outputDirectory: d + "/exists", detector: fx.detector,
                                                   classifier: fx.classifier)) { e in
            XCTAssertTrue(String(describing: e).contains("--force"), String(describing: e))
        }
    }

    /// Not a test of the pipeline: with `ADNN_VIDEO_DEMO=DIR`, writes the demo and benchmark clips
    /// (640×480 and 1280×720, four faces, 10 s at 25 frames/s), the tiny checkpoint, and an annotated
    /// run of the 640×480 clip (tiny checkpoint, or `ADNN_VIDEO_DEMO_CHECKPOINT`) with one frame as
    /// `DIR/video_annotated.png`.
    func testWriteDemoClips() throws {
        guard let demo = ProcessInfo.processInfo.environment["ADNN_VIDEO_DEMO"] else {
            throw XCTSkip("set ADNN_VIDEO_DEMO=DIR to write the demo and benchmark clips")
        }
        let fx = try fixture()
        guard let faces = sharedAssetPath("data/faces") else { throw XCTSkip("no shared faces") }
        try FileManager.default.createDirectory(atPath: demo, withIntermediateDirectories: true)
        let names = ["Abdel_Nasser_Assidi_0001.jpg", "Elizabeth_Regan_0001.jpg", "Rick_Perry_0006.jpg", "Ruth_Dreifuss_0002.jpg"]
        let photos = try names.map { try loadImage(faces + "/" + $0) }
        let frames = Int(ProcessInfo.processInfo.environment["ADNN_VIDEO_DEMO_FRAMES"] ?? "") ?? 250
        try FaceClip(photos: photos, width: 640, height: 480, faceScale: 0.5).write(to: demo + "/faces_640x480.mp4", frames: frames)
        try FaceClip(photos: photos, width: 1280, height: 720, faceScale: 0.45).write(to: demo + "/faces_1280x720.mp4", frames: frames)
        try writeTinyCheckpoint(demo + "/tiny.safetensors")
        let out = demo + "/annotated-run"
        try? FileManager.default.removeItem(atPath: out)
        let checkpoint = ProcessInfo.processInfo.environment["ADNN_VIDEO_DEMO_CHECKPOINT"]
        let classifier = try checkpoint.map { try ImageClassifier(checkpoint: $0) } ?? fx.classifier
        _ = try VideoPipeline.run(input: demo + "/faces_640x480.mp4", outputDirectory: out, detector: fx.detector,
                                  classifier: classifier, options: VideoOptions(annotate: true, maxFrames: 60))
        let r = try VideoReader(path: out + "/annotated.mp4")
        var frame: VideoFrame? = nil
        while let f = try r.next() { frame = f; if f.index == 40 { break } }
        if let frame { try savePNG(frame.image, to: demo + "/video_annotated.png") }
    }
}
