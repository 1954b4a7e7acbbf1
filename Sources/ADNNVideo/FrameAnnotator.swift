import ADNNData

/// One face to draw: its track, box, label and (smoothed) class probabilities.
public struct FaceAnnotation: Sendable {
    public var face: TrackedFace
    public var label: String
    public var probabilities: [Float]

    public init(face: TrackedFace, label: String, probabilities: [Float]) {
        self.face = face; self.label = label; self.probabilities = probabilities
    }
}

/// Draws boxes in a per-track colour, a `#track label p` tag above each box and one probability bar
/// per class under it, with the built-in `BitmapFont`.
public struct FrameAnnotator: Sendable {
    /// Class names (bar captions use their first three letters).
    public let classes: [String]

    public init(classes: [String]) { self.classes = classes }

    static let palette: [(UInt8, UInt8, UInt8)] = [
        (0, 200, 255), (255, 80, 80), (80, 220, 80), (255, 200, 0), (200, 100, 255), (255, 140, 40), (0, 230, 180), (255, 90, 200),
    ]

    /// The colour of a track.
    public static func color(track: Int) -> (UInt8, UInt8, UInt8) { palette[(max(1, track) - 1) % palette.count] }

    /// `image` (RGB) with every face drawn.
    public func annotate(_ image: PixelImage, faces: [FaceAnnotation]) -> PixelImage {
        var out = image.channels == 3 ? image : image.toRGB()
        let short = min(out.width, out.height)
        let line = max(2, short / 240)
        let scale = max(1, short / 240), barScale = max(1, short / 400)
        for f in faces {
            let color = Self.color(track: f.face.track)
            let b = f.face.box.map { Int($0.rounded()) }
            // Box outline.
            fill(&out, b[0], b[1], b[2], b[1] + line - 1, color)
            fill(&out, b[0], b[3] - line + 1, b[2], b[3], color)
            fill(&out, b[0], b[1], b[0] + line - 1, b[3], color)
            fill(&out, b[2] - line + 1, b[1], b[2], b[3], color)
            // Tag above the box (inside it when there is no room).
            let p = f.probabilities.isEmpty ? 0 : f.probabilities.max() ?? 0
            let tag = "#\(f.face.track) \(f.label) \(Int((p * 100).rounded()))%"
            let th = (BitmapFont.height + 2) * scale
            let tw = BitmapFont.textWidth(tag, scale: scale) + 2 * scale
            let ty = b[1] - th >= 0 ? b[1] - th : b[1] + line
            fill(&out, b[0], ty, b[0] + tw - 1, ty + th - 1, color)
            BitmapFont.draw(tag, into: &out, x: b[0] + scale, y: ty + scale, scale: scale, color: (0, 0, 0))
            // Probability bars under the box (inside its bottom when there is no room).
            let rowH = (BitmapFont.height + 2) * barScale
            let captionW = BitmapFont.textWidth("www", scale: barScale) + 2 * barScale
            let barMax = max(30 * barScale, b[2] - b[0] - captionW)
            let panelH = rowH * classes.count
            let py = b[3] + 2 + panelH <= out.height ? b[3] + 2 : max(0, b[3] - panelH)
            darken(&out, b[0], py, b[0] + captionW + barMax, py + panelH - 1)
            for (i, name) in classes.enumerated() {
                let y = py + i * rowH
                BitmapFont.draw(String(name.prefix(3)), into: &out, x: b[0] + barScale, y: y + barScale, scale: barScale, color: (255, 255, 255))
                let v = i < f.probabilities.count ? max(0, min(1, f.probabilities[i])) : 0
                let len = Int((Float(barMax) * v).rounded())
                if len > 0 {
                    fill(&out, b[0] + captionW, y + barScale, b[0] + captionW + len - 1, y + rowH - barScale - 1,
                         name == f.label ? color : (200, 200, 200))
                }
            }
        }
        return out
    }

    /// Paints [x0, x1] × [y0, y1] (inclusive), clipped.
    func fill(_ img: inout PixelImage, _ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: (UInt8, UInt8, UInt8)) {
        let l = max(0, x0), r = min(img.width - 1, x1), t = max(0, y0), bottom = min(img.height - 1, y1)
        guard l <= r && t <= bottom else { return }
        let w = img.width
        img.pixels.withUnsafeMutableBufferPointer { p in
            for y in t...bottom {
                for x in l...r {
                    let o = (y * w + x) * 3
                    p[o] = color.0; p[o + 1] = color.1; p[o + 2] = color.2
                }
            }
        }
    }

    /// Dims [x0, x1] × [y0, y1] to 40 % brightness (a backdrop for the bars), clipped.
    func darken(_ img: inout PixelImage, _ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int) {
        let l = max(0, x0), r = min(img.width - 1, x1), t = max(0, y0), bottom = min(img.height - 1, y1)
        guard l <= r && t <= bottom else { return }
        let w = img.width
        img.pixels.withUnsafeMutableBufferPointer { p in
            for y in t...bottom {
                for i in ((y * w + l) * 3)..<((y * w + r + 1) * 3) { p[i] = UInt8(UInt16(p[i]) * 2 / 5) }
            }
        }
    }
}
