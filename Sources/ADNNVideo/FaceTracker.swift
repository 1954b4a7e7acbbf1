import Foundation
import ADNN

/// A face in one frame with the track it belongs to.
public struct TrackedFace: Sendable, Equatable {
    /// Track id (1, 2, …), stable while the face stays in view.
    public var track: Int
    /// `[x1, y1, x2, y2]` in frame pixels.
    public var box: [Float]
    /// Five landmarks (left eye, right eye, nose, left and right mouth corner) as x, y pairs.
    public var landmarks: [Float]
    /// Detector score of the last detection of this face.
    public var score: Float
    /// True when the detector found the face in this frame; false when the box was carried from the
    /// last detection (`--every N`).
    public var detected: Bool
    /// Position of the detection in the array passed to `FaceTracker.update` (nil when carried).
    public var detectionIndex: Int? = nil

    /// As a `FaceDetection` (for alignment).
    public var detection: FaceDetection { FaceDetection(box: box, score: score, landmarks: landmarks) }
}

/// Intersection over union of two `[x1, y1, x2, y2]` boxes (0 when either is empty).
public func boxIoU(_ a: [Float], _ b: [Float]) -> Float {
    let iw = max(0, min(a[2], b[2]) - max(a[0], b[0])), ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    let inter = iw * ih
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return union > 0 ? inter / union : 0
}

/// Gives detections stable track ids across frames.
///
/// Each live track predicts its box and landmarks at the new frame from its last two detections
/// (constant velocity). Every (track, detection) pair gets a cost from the IoU of the predicted and
/// detected boxes and the mean landmark distance relative to the face size; pairs are accepted
/// greedily from the cheapest (IoU ≥ `iouThreshold` or landmarks within `landmarkThreshold` face
/// sizes). Unmatched detections start new tracks; a track unmatched in more than `maxMissed`
/// consecutive detection rounds ends (a face that leaves and comes back gets a new id).
/// Between detection rounds (`predict`) the faces of the last round are carried along their velocity.
public final class FaceTracker {
    struct Track {
        var id: Int
        var box: [Float]
        var landmarks: [Float]
        var score: Float
        var frame: Int              // frame of the last detection
        var velocity: [Float]       // per frame: 4 box values then 10 landmark values
        var missed: Int             // consecutive detection rounds without a match
    }

    /// Minimum IoU (predicted vs detected box) for a match.
    public let iouThreshold: Float
    /// Maximum mean landmark distance, in face sizes (√(w·h) of the box), for a match.
    public let landmarkThreshold: Float
    /// Detection rounds a track may go unmatched before it ends.
    public let maxMissed: Int

    private var tracks: [Track] = []
    private var nextID = 1
    /// Ids of tracks that ended since the last call to `takeEnded()`.
    private var endedIDs: [Int] = []

    public init(iouThreshold: Float = 0.3, landmarkThreshold: Float = 0.35, maxMissed: Int = 3) {
        self.iouThreshold = iouThreshold; self.landmarkThreshold = landmarkThreshold; self.maxMissed = maxMissed
    }

    /// Number of ids handed out so far.
    public var trackCount: Int { nextID - 1 }

    /// Ids of the tracks that ended since the last call.
    public func takeEnded() -> [Int] { defer { endedIDs = [] }; return endedIDs }

    private func predicted(_ t: Track, at frame: Int) -> (box: [Float], landmarks: [Float]) {
        let dt = Float(frame - t.frame)
        if dt == 0 { return (t.box, t.landmarks) }
        return ((0..<4).map { t.box[$0] + dt * t.velocity[$0] }, (0..<10).map { t.landmarks[$0] + dt * t.velocity[4 + $0] })
    }

    /// Matches `detections` of `frame` to the tracks; returns every detected face with its track,
    /// sorted by track id.
    public func update(_ detections: [FaceDetection], frame: Int) -> [TrackedFace] {
        var pairs: [(cost: Float, t: Int, d: Int)] = []
        for (ti, t) in tracks.enumerated() {
            let (pbox, plm) = predicted(t, at: frame)
            let size = max(1, ((pbox[2] - pbox[0]) * (pbox[3] - pbox[1])).squareRoot())
            for (di, d) in detections.enumerated() {
                let iou = boxIoU(pbox, d.box)
                var dist: Float = 0
                for p in 0..<5 {
                    let dx = plm[2 * p] - d.landmarks[2 * p], dy = plm[2 * p + 1] - d.landmarks[2 * p + 1]
                    dist += (dx * dx + dy * dy).squareRoot()
                }
                dist /= 5 * size
                guard iou >= iouThreshold || dist <= landmarkThreshold else { continue }
                pairs.append(((1 - iou) + dist, ti, di))
            }
        }
        pairs.sort { $0.cost != $1.cost ? $0.cost < $1.cost : ($0.t, $0.d) < ($1.t, $1.d) }
        var trackOf = [Int](repeating: -1, count: detections.count)
        var used = [Bool](repeating: false, count: tracks.count)
        for p in pairs where !used[p.t] && trackOf[p.d] < 0 {
            used[p.t] = true; trackOf[p.d] = p.t
        }
        var out: [TrackedFace] = []
        for (di, d) in detections.enumerated() {
            if trackOf[di] >= 0 {
                var t = tracks[trackOf[di]]
                let dt = Float(frame - t.frame)
                if dt > 0 {
                    let now = d.box + d.landmarks, before = t.box + t.landmarks
                    t.velocity = (0..<14).map { (now[$0] - before[$0]) / dt }
                }
                t.box = d.box; t.landmarks = d.landmarks; t.score = d.score; t.frame = frame; t.missed = 0
                tracks[trackOf[di]] = t
                out.append(TrackedFace(track: t.id, box: d.box, landmarks: d.landmarks, score: d.score, detected: true, detectionIndex: di))
            } else {
                let t = Track(id: nextID, box: d.box, landmarks: d.landmarks, score: d.score, frame: frame,
                              velocity: [Float](repeating: 0, count: 14), missed: 0)
                nextID += 1
                tracks.append(t)
                out.append(TrackedFace(track: t.id, box: d.box, landmarks: d.landmarks, score: d.score, detected: true, detectionIndex: di))
            }
        }
        let matched = Set(trackOf.filter { $0 >= 0 })
        var kept: [Track] = []
        for (ti, var t) in tracks.enumerated() {
            if ti < used.count && !matched.contains(ti) { t.missed += 1 }
            if t.missed > maxMissed { endedIDs.append(t.id) } else { kept.append(t) }
        }
        tracks = kept
        return out.sorted { $0.track < $1.track }
    }

    /// The faces of the last detection round carried to `frame` (no detector run), sorted by track id.
    /// Tracks missed in the last round are not reported.
    public func predict(frame: Int) -> [TrackedFace] {
        tracks.filter { $0.missed == 0 }.map { t in
            let (box, lm) = predicted(t, at: frame)
            return TrackedFace(track: t.id, box: box, landmarks: lm, score: t.score, detected: false)
        }.sorted { $0.track < $1.track }
    }

    /// Ends every live track (end of the video).
    public func finish() {
        endedIDs += tracks.map(\.id)
        tracks = []
    }
}

/// Per-track exponential smoothing of class probabilities: `s ← α·s + (1 − α)·p`, starting from the
/// first `p` of a track (α = 0: no smoothing).
public final class TemporalSmoother {
    /// Weight of the past, in [0, 1).
    public let alpha: Float
    private var state: [Int: [Float]] = [:]

    public init(alpha: Float) { self.alpha = alpha }

    /// The smoothed probabilities of `track` after seeing `probabilities`.
    public func update(track: Int, probabilities p: [Float]) -> [Float] {
        guard let s = state[track], s.count == p.count else { state[track] = p; return p }
        let next = zip(s, p).map { alpha * $0 + (1 - alpha) * $1 }
        state[track] = next
        return next
    }

    /// Forgets a track that ended.
    public func remove(track: Int) { state[track] = nil }
}
