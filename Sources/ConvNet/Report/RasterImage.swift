/// An 8-bit image in memory: `height` rows of `width` pixels, `channels` interleaved bytes per pixel
/// (1 = grayscale, 3 = RGB, 4 = RGBA), rows top to bottom.
public struct RasterImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Bytes per pixel: 1 (gray), 3 (RGB) or 4 (RGBA).
    public let channels: Int
    /// `width · height · channels` bytes, row-major, channels interleaved.
    public var pixels: [UInt8]

    /// Creates an image filled with one value per channel (`fill.count == channels`), or zeros.
    /// - Throws: `ReportError.invalidInput` for a non-positive size, a channel count other than
    ///   1, 3 or 4, or a fill of the wrong length.
    public init(width: Int, height: Int, channels: Int = 3, fill: [UInt8]? = nil) throws {
        guard width > 0, height > 0 else {
            throw ReportError.invalidInput("image size must be positive, found \(width)×\(height)")
        }
        guard [1, 3, 4].contains(channels) else {
            throw ReportError.invalidInput("image channels must be 1, 3 or 4, found \(channels)")
        }
        if let fill, fill.count != channels {
            throw ReportError.invalidInput("fill has \(fill.count) values for \(channels) channels")
        }
        self.width = width
        self.height = height
        self.channels = channels
        if let fill, fill.contains(where: { $0 != 0 }) {
            var p = [UInt8](repeating: 0, count: width * height * channels)
            for i in stride(from: 0, to: p.count, by: channels) {
                for c in 0..<channels { p[i + c] = fill[c] }
            }
            pixels = p
        } else {
            pixels = [UInt8](repeating: 0, count: width * height * channels)
        }
    }

    /// Wraps existing pixel bytes.
    /// - Throws: `ReportError.invalidInput` when `pixels.count != width · height · channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        try self.init(width: width, height: height, channels: channels)
        guard pixels.count == width * height * channels else {
            throw ReportError.invalidInput(
                "expected \(width)×\(height)×\(channels) = \(width * height * channels) bytes, found \(pixels.count)")
        }
        self.pixels = pixels
    }

    /// The image scaled up by an integer factor with nearest-neighbour sampling (crisp pixels).
    public func scaled(by factor: Int) -> RasterImage {
        guard factor > 1 else { return self }
        var out = [UInt8](repeating: 0, count: width * factor * height * factor * channels)
        let outWidth = width * factor
        for y in 0..<(height * factor) {
            let sy = y / factor
            for x in 0..<outWidth {
                let s = (sy * width + x / factor) * channels
                let d = (y * outWidth + x) * channels
                for c in 0..<channels { out[d + c] = pixels[s + c] }
            }
        }
        // Sizes are positive and the byte count matches by construction.
        return RasterImage(unchecked: outWidth, height * factor, channels, out)
    }

    init(unchecked width: Int, _ height: Int, _ channels: Int, _ pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }
}
