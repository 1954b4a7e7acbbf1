/// Colour maps for heat-map overlays.
public enum ColorMap: Sendable, Equatable {
    /// Sequential map for values in [0, 1]: dark blue → blue → cyan → yellow → red → dark red
    /// (the classic "jet" ramps: each channel is a clamped triangle `1.5 − |4v − k|`).
    case jet
    /// Diverging map for values in [−1, 1]: blue (negative) → white (0) → red (positive).
    case blueWhiteRed

    /// The colour of `value` (clamped to the map's domain), channels in 0…1.
    public func color(_ value: Float) -> (red: Float, green: Float, blue: Float) {
        switch self {
        case .jet:
            let v = min(max(value, 0), 1)
            func ramp(_ k: Float) -> Float { min(max(1.5 - abs(4 * v - k), 0), 1) }
            return (ramp(3), ramp(2), ramp(1))
        case .blueWhiteRed:
            let v = min(max(value, -1), 1)
            let end: (Float, Float, Float) = v >= 0 ? (0.80, 0.05, 0.05) : (0.05, 0.25, 0.80)
            let t = abs(v)
            return (1 + t * (end.0 - 1), 1 + t * (end.1 - 1), 1 + t * (end.2 - 1))
        }
    }
}

extension PixelImage {
    /// An RGB copy of this image blended with a colour-mapped heat map.
    ///
    /// The `mapWidth × mapHeight` map (row-major) is stretched over the image — bilinearly
    /// (`align_corners = false` sampling) when `smooth`, else each image pixel takes its nearest map
    /// cell (sharp patch borders). Blending: `out = (1 − a)·image + a·colour`, with `a = alpha` for
    /// `.jet` and `a = alpha·|v|` for `.blueWhiteRed` (values near zero leave the image visible).
    public func overlaid(heatMap: [Float], mapWidth: Int, mapHeight: Int, colorMap: ColorMap,
                         alpha: Float = 0.5, smooth: Bool = true) -> PixelImage {
        precondition(mapWidth > 0 && mapHeight > 0 && heatMap.count == mapWidth * mapHeight,
                     "overlaid: \(heatMap.count) heat values for a \(mapWidth)×\(mapHeight) map")
        precondition(alpha >= 0 && alpha <= 1, "overlaid: alpha must be in 0…1, got \(alpha)")
        let rgb = toRGB()
        var out = rgb
        let sx = Float(mapWidth) / Float(width), sy = Float(mapHeight) / Float(height)
        func sample(_ x: Int, _ y: Int) -> Float {
            if !smooth {
                let mx = min(Int(Float(x) * sx), mapWidth - 1), my = min(Int(Float(y) * sy), mapHeight - 1)
                return heatMap[my * mapWidth + mx]
            }
            let fx = min(max((Float(x) + 0.5) * sx - 0.5, 0), Float(mapWidth - 1))
            let fy = min(max((Float(y) + 0.5) * sy - 0.5, 0), Float(mapHeight - 1))
            let x0 = Int(fx), y0 = Int(fy)
            let x1 = min(x0 + 1, mapWidth - 1), y1 = min(y0 + 1, mapHeight - 1)
            let tx = fx - Float(x0), ty = fy - Float(y0)
            let top = heatMap[y0 * mapWidth + x0] * (1 - tx) + heatMap[y0 * mapWidth + x1] * tx
            let bottom = heatMap[y1 * mapWidth + x0] * (1 - tx) + heatMap[y1 * mapWidth + x1] * tx
            return top * (1 - ty) + bottom * ty
        }
        for y in 0..<height {
            for x in 0..<width {
                let v = sample(x, y)
                let c = colorMap.color(v)
                let a = colorMap == .jet ? alpha : alpha * min(abs(v), 1)
                let i = (y * width + x) * 3
                for (k, ck) in [c.red, c.green, c.blue].enumerated() {
                    let blended = (1 - a) * Float(rgb.pixels[i + k]) + a * 255 * ck
                    out.pixels[i + k] = UInt8(min(max(blended.rounded(), 0), 255))
                }
            }
        }
        return out
    }
}
