/// Returns the EXIF orientation (1…8) stored in a JPEG's APP1 segment, or 1 when absent or
/// unreadable. Only the markers before the first scan are examined.
public func exifOrientation(jpeg bytes: UnsafeRawBufferPointer) -> Int {
    let n = bytes.count
    guard n >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return 1 }
    var p = 2
    while p + 4 <= n {
        guard bytes[p] == 0xFF else { return 1 }
        var marker = bytes[p + 1]
        while marker == 0xFF && p + 2 < n { p += 1; marker = bytes[p + 1] }       // fill bytes
        if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 { p += 2; continue }
        if marker == 0xDA || marker == 0xD9 { return 1 }                       // start of scan / end
        guard p + 4 <= n else { return 1 }
        let length = Int(bytes[p + 2]) << 8 | Int(bytes[p + 3])
        guard length >= 2, p + 2 + length <= n else { return 1 }
        if marker == 0xE1 && length >= 8 {
            let s = p + 4
            if bytes[s] == 0x45 && bytes[s + 1] == 0x78 && bytes[s + 2] == 0x69 && bytes[s + 3] == 0x66
                && bytes[s + 4] == 0 && bytes[s + 5] == 0 {
                if let o = tiffOrientation(bytes, start: s + 6, end: p + 2 + length) { return o }
            }
        }
        p += 2 + length
    }
    return 1
}

/// Reads tag 0x0112 of IFD0 in the TIFF structure at `bytes[start..<end]`.
private func tiffOrientation(_ b: UnsafeRawBufferPointer, start: Int, end: Int) -> Int? {
    guard end - start >= 8 else { return nil }
    let little: Bool
    if b[start] == 0x49 && b[start + 1] == 0x49 { little = true }
    else if b[start] == 0x4D && b[start + 1] == 0x4D { little = false }
    else { return nil }
    func u16(_ o: Int) -> Int? {
        guard o >= start, o + 2 <= end else { return nil }
        return little ? Int(b[o]) | Int(b[o + 1]) << 8 : Int(b[o]) << 8 | Int(b[o + 1])
    }
    func u32(_ o: Int) -> Int? {
        guard let lo = u16(little ? o : o + 2), let hi = u16(little ? o + 2 : o) else { return nil }
        return hi << 16 | lo
    }
    guard u16(start + 2) == 42, let ifd = u32(start + 4) else { return nil }
    let ifdStart = start + ifd
    guard let entries = u16(ifdStart) else { return nil }
    for i in 0..<entries {
        let e = ifdStart + 2 + 12 * i
        guard let tag = u16(e) else { return nil }
        if tag == 0x0112 {
            guard let type = u16(e + 2) else { return nil }
            let value: Int?
            switch type {
            case 3: value = u16(e + 8)                 // SHORT
            case 4: value = u32(e + 8)                 // LONG (non-standard but seen)
            case 1, 7: value = e + 8 < end ? Int(b[e + 8]) : nil
            default: value = nil
            }
            if let v = value, (1...8).contains(v) { return v }
            return nil
        }
    }
    return nil
}

extension PixelImage {
    /// The image transformed so that EXIF orientation `exif` (1…8) becomes upright
    /// (2 mirror, 3 rotate 180°, 4 flip, 5 transpose, 6 rotate 90° clockwise, 7 transverse,
    /// 8 rotate 90° counter-clockwise), as PIL's `ImageOps.exif_transpose` does.
    public func oriented(exif: Int) -> PixelImage {
        if exif <= 1 || exif > 8 { return self }
        let w = width, h = height, c = channels
        let swap = exif >= 5
        let ow = swap ? h : w, oh = swap ? w : h
        var out = [UInt8](repeating: 0, count: count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let sx: Int, sy: Int
                        switch exif {
                        case 2: sx = w - 1 - ox; sy = oy
                        case 3: sx = w - 1 - ox; sy = h - 1 - oy
                        case 4: sx = ox; sy = h - 1 - oy
                        case 5: sx = oy; sy = ox
                        case 6: sx = oy; sy = h - 1 - ox
                        case 7: sx = w - 1 - oy; sy = h - 1 - ox
                        default: sx = w - 1 - oy; sy = ox      // 8
                        }
                        let s = (sy * w + sx) * c, d = (oy * ow + ox) * c
                        for k in 0..<c { dst[d + k] = src[s + k] }
                    }
                }
            }
        }
        return PixelImage(width: ow, height: oh, channels: c, pixels: out)
    }
}
