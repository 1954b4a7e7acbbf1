import Foundation
import ADNN
import ADNNData

/// A synthetic test clip: face photos pasted on a shaded canvas, each drifting on its own ellipse
/// inside its grid cell, so faces stay apart and every face is in every frame.
public struct FaceClip {
    /// Canvas size.
    public var width: Int, height: Int
    /// The photos, already resized to their on-canvas size.
    public let faces: [PixelImage]
    /// Motion amplitude as a fraction of the cell size.
    public var amplitude: Double = 0.12
    /// Frames per ellipse revolution.
    public var period: Double = 48

    /// Lays out `photos` in a grid on a `width`×`height` canvas; each face is `faceScale` × the
    /// shorter side of its cell.
    public init(photos: [PixelImage], width: Int, height: Int, faceScale: Double = 0.62) {
        precondition(!photos.isEmpty && width > 0 && height > 0, "FaceClip: need photos and a canvas")
        self.width = width; self.height = height
        let cols = Int(Double(photos.count).squareRoot().rounded(.up)), rows = (photos.count + cols - 1) / cols
        let side = max(8, Int(Double(min(width / cols, height / rows)) * faceScale))
        faces = photos.map { $0.toRGB().resized(width: side, height: side) }
    }

    /// Grid position of face `i`: (column, row, columns, rows).
    func cell(_ i: Int) -> (Int, Int, Int, Int) {
        let cols = Int(Double(faces.count).squareRoot().rounded(.up)), rows = (faces.count + cols - 1) / cols
        return (i % cols, i / cols, cols, rows)
    }

    /// Top-left corner of face `i` in frame `t`.
    public func position(face i: Int, frame t: Int) -> (x: Int, y: Int) {
        let (c, r, cols, rows) = cell(i)
        let cw = Double(width) / Double(cols), ch = Double(height) / Double(rows)
        let side = Double(faces[i].width)
        let phase = 2 * Double.pi * (Double(t) / period + Double(i) / Double(faces.count))
        let x = (Double(c) + 0.5) * cw - side / 2 + amplitude * cw * cos(phase)
        let y = (Double(r) + 0.5) * ch - side / 2 + amplitude * ch * sin(phase)
        return (max(0, min(width - Int(side), Int(x.rounded()))), max(0, min(height - Int(side), Int(y.rounded()))))
    }

    /// Frame `t` (RGB).
    public func frame(_ t: Int) -> PixelImage {
        var img = PixelImage(width: width, height: height, channels: 3)
        img.pixels.withUnsafeMutableBufferPointer { p in
            for y in 0..<height {
                for x in 0..<width {
                    let v = UInt8(90 + (60 * x) / max(1, width) + (40 * y) / max(1, height))
                    let o = (y * width + x) * 3
                    p[o] = v; p[o + 1] = v; p[o + 2] = UInt8(min(255, Int(v) + 10))
                }
            }
            for (i, face) in faces.enumerated() {
                let (x0, y0) = position(face: i, frame: t)
                face.pixels.withUnsafeBufferPointer { f in
                    for y in 0..<face.height where y0 + y < height {
                        for x in 0..<face.width where x0 + x < width {
                            let o = ((y0 + y) * width + x0 + x) * 3, s = (y * face.width + x) * 3
                            p[o] = f[s]; p[o + 1] = f[s + 1]; p[o + 2] = f[s + 2]
                        }
                    }
                }
            }
        }
        return img
    }

    /// Encodes `frames` frames to `path` with `VideoWriter` at `fps` frames per second.
    /// - Throws: `ADNNError.io` naming `path`.
    public func write(to path: String, frames: Int, fps: Int = 25) throws {
        let w = try VideoWriter(path: path, width: width, height: height, fps: (fps, 1))
        for t in 0..<frames { try w.write(frame(t)) }
        try w.finish()
    }
}
