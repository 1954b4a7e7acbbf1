/// An 8-bit image stored row-major and channels-last (`[height, width, channels]`).
///
/// The pipeline uses `channels` 1 (gray) or 3 (RGB); decoders never produce anything else.
public struct PixelImage: Sendable, Equatable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// Samples per pixel: 1 (gray) or 3 (RGB).
    public var channels: Int
    /// `height · width · channels` samples.
    public var pixels: [UInt8]

    /// Wraps existing samples; `pixels.count` must equal `width · height · channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && (channels == 1 || channels == 3 || channels == 4),
                     "PixelImage: bad geometry \(width)x\(height)x\(channels)")
        precondition(pixels.count == width * height * channels, "PixelImage: \(pixels.count) samples for \(width)x\(height)x\(channels)")
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }

    /// A uniform image.
    public init(width: Int, height: Int, channels: Int, fill: UInt8 = 0) {
        self.init(width: width, height: height, channels: channels,
                  pixels: [UInt8](repeating: fill, count: width * height * channels))
    }

    /// Number of samples (`width · height · channels`).
    @inlinable public var count: Int { width * height * channels }

    /// The sample at column `x`, row `y`, channel `c`.
    @inlinable public subscript(x: Int, y: Int, c: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + c] }
        set { pixels[(y * width + x) * channels + c] = newValue }
    }
}
