#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CJPEG
import CPNG

/// Image file formats the pipeline reads and writes.
public enum ImageFileFormat: String, Sendable {
    case jpeg, png

    /// The format of a file from its first bytes (magic numbers), or `nil`.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ImageFileFormat? {
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8 && bytes[0] == 0x89 && bytes[1] == 0x50 && bytes[2] == 0x4E && bytes[3] == 0x47
            && bytes[4] == 0x0D && bytes[5] == 0x0A && bytes[6] == 0x1A && bytes[7] == 0x0A { return .png }
        return nil
    }
}

/// Limits on decoded images, checked against the file header before any pixel memory is allocated,
/// so that a small file announcing a huge image fails with an error instead of exhausting memory.
///
/// Set them once at start-up (e.g. from a command-line flag) before decoding on several threads.
public enum ImageLimits {
    /// Largest accepted width or height in pixels (default 16384; `ADNN_MAX_IMAGE_SIDE` raises it).
    nonisolated(unsafe) public static var maxSide = environmentLimit("ADNN_MAX_IMAGE_SIDE") ?? 16384
    /// Largest accepted width × height in pixels (default 2^28; `ADNN_MAX_IMAGE_PIXELS` raises it).
    nonisolated(unsafe) public static var maxPixels = environmentLimit("ADNN_MAX_IMAGE_PIXELS") ?? 1 << 28

    /// A positive whole number from the environment, nil when unset or not one.
    static func environmentLimit(_ name: String) -> Int? {
        getenv(name).flatMap { Int(String(cString: $0)) }.flatMap { $0 > 0 ? $0 : nil }
    }

    /// Throws `DataError.decode` naming `name` when a `width`×`height` image exceeds the limits.
    static func check(width: Int, height: Int, name: String) throws {
        guard width > 0, height > 0 else {
            throw DataError.decode(path: name, reason: "invalid image size \(width)x\(height)")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard width <= maxSide, height <= maxSide, !overflow, pixels <= maxPixels else {
            throw DataError.decode(path: name, reason: "image size \(width)x\(height) exceeds the limit of "
                                   + "\(maxSide) pixels a side and \(maxPixels) pixels (raise with ADNN_MAX_IMAGE_SIDE / ADNN_MAX_IMAGE_PIXELS)")
        }
    }
}

/// Largest file `readFileBytes` reads (1 GiB; the largest data-set file is a few hundred MiB).
public let maximumFileBytes = 1 << 30

/// Reads a whole regular file into memory.
/// - Throws: `DataError.io` naming the file.
public func readFileBytes(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    if fd < 0 { throw DataError.io(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var st = stat()
    if fstat(fd, &st) != 0 { throw DataError.io(path: path, reason: String(cString: strerror(errno))) }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw DataError.io(path: path, reason: "is a directory") }
    // Devices, pipes and sockets never end (/dev/zero) or block; a file above the cap is no image.
    if (st.st_mode & S_IFMT) != S_IFREG { throw DataError.io(path: path, reason: "not a regular file") }
    if Int(st.st_size) > maximumFileBytes {
        throw DataError.io(path: path, reason: "\(st.st_size) bytes is larger than the \(maximumFileBytes >> 20) MiB limit")
    }
    var capacity = max(Int(st.st_size), 0)
    var bytes = [UInt8](repeating: 0, count: capacity)
    var filled = 0
    while true {
        if filled == capacity {
            capacity = max(4096, capacity * 2)
            bytes.append(contentsOf: [UInt8](repeating: 0, count: capacity - bytes.count))
        }
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, capacity - filled) }
        if n < 0 {
            if errno == EINTR { continue }
            throw DataError.io(path: path, reason: String(cString: strerror(errno)))
        }
        if n == 0 { break }
        filled += n
    }
    bytes.removeSubrange(filled...)
    return bytes
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then rename).
/// - Throws: `DataError.io` naming the file.
public func writeFileBytes(_ bytes: [UInt8], to path: String) throws {
    let tmp = path + ".tmp\(getpid())"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if fd < 0 { throw DataError.io(path: path, reason: String(cString: strerror(errno))) }
    var written = 0
    let ok: Bool = bytes.withUnsafeBytes { raw in
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 { if errno == EINTR { continue }; return false }
            written += n
        }
        return true
    }
    let err = errno
    close(fd)
    if !ok { unlink(tmp); throw DataError.io(path: path, reason: String(cString: strerror(err))) }
    if rename(tmp, path) != 0 {
        let e = errno; unlink(tmp)
        throw DataError.io(path: path, reason: String(cString: strerror(e)))
    }
}

/// Decodes a JPEG or PNG held in memory into 8-bit gray or RGB.
///
/// - JPEG: gray stays gray, YCbCr/RGB → RGB, (Adobe) CMYK/YCCK → RGB; the EXIF orientation tag
///   (APP1) is applied so the result is upright. Data that ends early is an error.
/// - PNG: palette and low-bit gray are expanded, 16-bit samples scaled to 8 bits, alpha dropped.
/// - Parameter name: the file name used in error messages.
/// - Throws: `DataError.decode` naming `name`; never crashes on corrupt input.
public func decodeImage(_ bytes: UnsafeRawBufferPointer, name: String) throws -> PixelImage {
    switch ImageFileFormat.sniff(bytes) {
    case .jpeg?:
        var image = try decodeJPEG(bytes, name: name)
        let orientation = exifOrientation(jpeg: bytes)
        if orientation > 1 { image = image.oriented(exif: orientation) }
        return image
    case .png?:
        return try decodePNG(bytes, name: name)
    case nil:
        throw DataError.decode(path: name, reason: bytes.isEmpty ? "empty file" : "not a JPEG or PNG file")
    }
}

/// Decodes image bytes held in an array. See `decodeImage(_:name:)`.
public func decodeImage(_ bytes: [UInt8], name: String) throws -> PixelImage {
    try bytes.withUnsafeBytes { try decodeImage($0, name: name) }
}

/// Reads and decodes an image file (JPEG or PNG, detected from its content).
/// - Throws: `DataError.io` or `DataError.decode` naming the file.
public func loadImage(_ path: String) throws -> PixelImage {
    let bytes = try readFileBytes(path)
    return try decodeImage(bytes, name: path)
}

private func decodeJPEG(_ bytes: UnsafeRawBufferPointer, name: String) throws -> PixelImage {
    guard let dec = adnn_jpeg_decoder_new() else { throw DataError.decode(path: name, reason: "out of memory") }
    defer { adnn_jpeg_decoder_free(dec) }
    var w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
    let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    if adnn_jpeg_read_header(dec, base, UInt(bytes.count), &w, &h, &c) != 0 {
        throw DataError.decode(path: name, reason: String(cString: adnn_jpeg_decoder_message(dec)))
    }
    try ImageLimits.check(width: Int(w), height: Int(h), name: name)
    let count = Int(w) * Int(h) * Int(c)
    var status: Int32 = 0
    let pixels = [UInt8](unsafeUninitializedCapacity: count) { buf, n in
        status = adnn_jpeg_read_pixels(dec, buf.baseAddress!)
        if status != 0 { buf.initialize(repeating: 0) }
        n = count
    }
    if status != 0 { throw DataError.decode(path: name, reason: String(cString: adnn_jpeg_decoder_message(dec))) }
    return PixelImage(width: Int(w), height: Int(h), channels: Int(c), pixels: pixels)
}

private func decodePNG(_ bytes: UnsafeRawBufferPointer, name: String) throws -> PixelImage {
    guard let rd = adnn_png_reader_new() else { throw DataError.decode(path: name, reason: "out of memory") }
    defer { adnn_png_reader_free(rd) }
    var w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
    let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    if adnn_png_read_header(rd, base, bytes.count, &w, &h, &c) != 0 {
        throw DataError.decode(path: name, reason: String(cString: adnn_png_reader_message(rd)))
    }
    try ImageLimits.check(width: Int(w), height: Int(h), name: name)
    let count = Int(w) * Int(h) * Int(c)
    var status: Int32 = 0
    let pixels = [UInt8](unsafeUninitializedCapacity: count) { buf, n in
        status = adnn_png_read_pixels(rd, buf.baseAddress!)
        if status != 0 { buf.initialize(repeating: 0) }
        n = count
    }
    if status != 0 { throw DataError.decode(path: name, reason: String(cString: adnn_png_reader_message(rd))) }
    return PixelImage(width: Int(w), height: Int(h), channels: Int(c), pixels: pixels)
}

/// Encodes an 8-bit gray, RGB or RGBA image as PNG.
/// - Parameter name: the file name used in error messages.
public func encodePNG(_ image: PixelImage, name: String = "<png>") throws -> [UInt8] {
    var out: UnsafeMutablePointer<UInt8>? = nil
    var size = 0
    var message = [CChar](repeating: 0, count: 256)
    let rc = image.pixels.withUnsafeBufferPointer { px in
        message.withUnsafeMutableBufferPointer { msg in
            adnn_png_encode(px.baseAddress, Int32(image.width), Int32(image.height), Int32(image.channels),
                            &out, &size, msg.baseAddress)
        }
    }
    if rc != 0 || out == nil {
        throw DataError.io(path: name, reason: "cannot encode PNG: " + String(cString: message))
    }
    defer { free(out) }
    return [UInt8](UnsafeBufferPointer(start: out, count: size))
}

/// Encodes an 8-bit gray or RGB image as a baseline JPEG (`quality` 1…100).
/// - Parameter name: the file name used in error messages.
public func encodeJPEG(_ image: PixelImage, quality: Int = 95, name: String = "<jpeg>") throws -> [UInt8] {
    guard image.channels == 1 || image.channels == 3 else {
        throw DataError.invalid(key: name, reason: "JPEG needs 1 or 3 channels, got \(image.channels)")
    }
    var out: UnsafeMutablePointer<UInt8>? = nil
    var size: UInt = 0
    var message = [CChar](repeating: 0, count: 256)
    let rc = image.pixels.withUnsafeBufferPointer { px in
        message.withUnsafeMutableBufferPointer { msg in
            adnn_jpeg_encode(px.baseAddress, Int32(image.width), Int32(image.height), Int32(image.channels),
                             Int32(max(1, min(100, quality))), &out, &size, msg.baseAddress, 256)
        }
    }
    if rc != 0 || out == nil {
        throw DataError.io(path: name, reason: "cannot encode JPEG: " + String(cString: message))
    }
    defer { free(out) }
    return [UInt8](UnsafeBufferPointer(start: out, count: Int(size)))
}

/// Writes `image` as a PNG file (atomically).
public func savePNG(_ image: PixelImage, to path: String) throws {
    try writeFileBytes(try encodePNG(image, name: path), to: path)
}

/// Writes `image` as a JPEG file (atomically).
public func saveJPEG(_ image: PixelImage, to path: String, quality: Int = 95) throws {
    try writeFileBytes(try encodeJPEG(image, quality: quality, name: path), to: path)
}
