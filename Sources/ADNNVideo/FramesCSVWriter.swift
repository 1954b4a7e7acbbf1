import Foundation
import ADNN

/// Writes `frames.csv`: one row per face per frame, flushed after every frame, so that an
/// interrupted run leaves every finished frame on disk.
///
/// Columns: `frame, time_s, track, detected, score, x1, y1, x2, y2`, the five landmarks as
/// `left_eye_x, left_eye_y, right_eye_x, right_eye_y, nose_x, nose_y, mouth_left_x, mouth_left_y,
/// mouth_right_x, mouth_right_y`, `label` (argmax of the raw probabilities), one column per class
/// with the raw probability, `smoothed_label`, and `smoothed_<class>` per class. The file is written
/// as `<path>.partial` and renamed to `path` by `finish()`.
public final class FramesCSVWriter {
    /// Final location.
    public let path: String
    /// Class names (column suffixes).
    public let classes: [String]
    /// Rows written.
    public private(set) var rowCount = 0
    private var file: UnsafeMutablePointer<FILE>?
    private var partialPath: String { path + ".partial" }

    /// The landmark column names, in landmark order.
    public static let landmarkColumns = ["left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y", "nose_x", "nose_y",
                                         "mouth_left_x", "mouth_left_y", "mouth_right_x", "mouth_right_y"]

    /// The header row's columns for `classes`.
    public static func columns(classes: [String]) -> [String] {
        ["frame", "time_s", "track", "detected", "score", "x1", "y1", "x2", "y2"] + landmarkColumns
            + ["label"] + classes + ["smoothed_label"] + classes.map { "smoothed_" + $0 }
    }

    /// Creates `<path>.partial` and writes the header.
    /// - Throws: `ADNNError.io` naming the file.
    public init(path: String, classes: [String]) throws {
        self.path = path; self.classes = classes
        guard let f = fopen(path + ".partial", "w") else {
            throw ADNNError.io("\(path): cannot create (\(String(cString: strerror(errno))))")
        }
        file = f
        try put(Self.columns(classes: classes).map(Self.escape).joined(separator: ",") + "\n")
        try flush()
    }

    deinit { if let file { fclose(file) } }

    static func escape(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    private func put(_ s: String) throws {
        guard let file else { throw ADNNError.io("\(path): already finished") }
        if fputs(s, file) < 0 { throw ADNNError.io("\(path): write failed (\(String(cString: strerror(errno))))") }
    }

    /// Appends one face row (not yet flushed).
    public func write(frame: Int, time: Double, face: TrackedFace, probabilities: [Float], smoothed: [Float]) throws {
        var s = "\(frame),\(String(format: "%.4f", time)),\(face.track),\(face.detected ? 1 : 0),\(String(format: "%.4f", face.score))"
        for v in face.box + face.landmarks { s += String(format: ",%.2f", v) }
        s += "," + Self.escape(classes[argmax(probabilities)])
        for p in probabilities { s += String(format: ",%.6f", p) }
        s += "," + Self.escape(classes[argmax(smoothed)])
        for p in smoothed { s += String(format: ",%.6f", p) }
        try put(s + "\n")
        rowCount += 1
    }

    /// Pushes the rows written so far to the file (called once per frame).
    public func flush() throws {
        if let file, fflush(file) != 0 { throw ADNNError.io("\(path): write failed (\(String(cString: strerror(errno))))") }
    }

    /// Closes the file and renames it into place.
    public func finish() throws {
        guard let f = file else { return }
        file = nil
        let ok = fflush(f) == 0
        if fclose(f) != 0 || !ok { throw ADNNError.io("\(path): write failed (\(String(cString: strerror(errno))))") }
        if rename(partialPath, path) != 0 { throw ADNNError.io("\(path): cannot rename (\(String(cString: strerror(errno))))") }
    }

    /// Closes and deletes the partial file (after an error).
    public func discard() {
        if let f = file { fclose(f); file = nil }
        unlink(partialPath)
    }
}

/// Index of the largest value (the first one on ties; 0 for an empty array).
public func argmax(_ v: [Float]) -> Int {
    var best = 0
    for i in v.indices where v[i] > v[best] { best = i }
    return best
}

/// Per-track statistics for `tracks.json`.
public struct TrackSummary: Sendable, Equatable {
    public var track: Int
    public var firstFrame: Int
    public var lastFrame: Int
    /// Frames in which the track has a row.
    public var frames: Int
    /// Frames per smoothed label, indexed like the classes.
    public var labelCounts: [Int]
    public var firstTime: Double
    public var lastTime: Double

    /// The most frequent smoothed label (class index; the lowest index on ties).
    public var dominant: Int {
        var best = 0
        for i in labelCounts.indices where labelCounts[i] > labelCounts[best] { best = i }
        return best
    }

    /// JSON object with class names.
    public func json(classes: [String]) -> [String: Any] {
        var share: [String: Double] = [:]
        for (i, c) in classes.enumerated() { share[c] = frames > 0 ? (Double(labelCounts[i]) / Double(frames) * 1e4).rounded() / 1e4 : 0 }
        return ["track": track, "first_frame": firstFrame, "last_frame": lastFrame, "frames": frames,
                "first_time_s": (firstTime * 1e4).rounded() / 1e4, "last_time_s": (lastTime * 1e4).rounded() / 1e4,
                "dominant": classes[dominant], "share": share]
    }
}
