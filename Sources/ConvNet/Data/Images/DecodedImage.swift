import Foundation

/// An image as a PNG or JPEG decoder returns it: `height` rows of `width` pixels of `channels`
/// interleaved samples, row-major [H, W, C], 8 or 16 bits per sample.
///
/// Channels: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA. A palette PNG comes out as RGB (RGBA when
/// it has a `tRNS` chunk); PNG gray below 8 bits is scaled to 0–255 (1 bit: 0 or 255, 2 bits:
/// × 85, 4 bits: × 17), as Pillow does.
public struct DecodedImage: Sendable, Equatable {
    /// The sample storage: one element per sample, [H, W, C] interleaved.
    public enum Samples: Sendable, Equatable {
        /// 8-bit samples (0–255).
        case uint8([UInt8])
        /// 16-bit samples (0–65535), from 16-bit PNGs.
        case uint16([UInt16])
    }

    /// Pixels per row.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Samples per pixel: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    public let channels: Int
    /// The samples, [H, W, C].
    public let samples: Samples

    /// Checks that there are `width × height × channels` samples and 1–4 channels.
    public init(width: Int, height: Int, channels: Int, samples: Samples) throws {
        guard (1...4).contains(channels), width >= 1, height >= 1 else {
            throw ConvNetError.invalidArgument(
                "an image needs width, height ≥ 1 and 1 to 4 channels, found \(width)×\(height)×\(channels)")
        }
        guard let expected = checkedProduct([width, height, channels]), expected == samples.count else {
            throw ConvNetError.shapeMismatch(
                "a \(width)×\(height) image of \(channels) channels needs \(checkedProduct([width, height, channels]) ?? -1) samples, found \(samples.count)"
            )
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.samples = samples
    }

    /// 8 or 16.
    public var bitDepth: Int {
        if case .uint16 = samples { return 16 }
        return 8
    }

    /// Whether the last channel is alpha (2 or 4 channels).
    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// Whether the image has colour channels (3 or 4).
    public var isColor: Bool { channels >= 3 }

    /// The samples as Float in [0, 1] (divided by 255 or 65535), laid out [C, H, W].
    public func floatCHW() -> [Float] {
        let plane = width * height
        var result = [Float](repeating: 0, count: plane * channels)
        func fill<T: BinaryInteger>(_ values: [T], _ scale: Float) {
            values.withUnsafeBufferPointer { source in
                result.withUnsafeMutableBufferPointer { target in
                    for pixel in 0..<plane {
                        for channel in 0..<channels {
                            target[channel * plane + pixel] = Float(source[pixel * channels + channel]) / scale
                        }
                    }
                }
            }
        }
        switch samples {
        case .uint8(let values): fill(values, 255)
        case .uint16(let values): fill(values, 65535)
        }
        return result
    }

    /// The image as a tensor [C, H, W] of values in [0, 1].
    public func tensor() throws -> Tensor<Float> {
        try Tensor(shape: [channels, height, width], scalars: floatCHW())
    }

    /// The same image with 8-bit samples: 16-bit values v become round(v / 257), the nearest of
    /// the 256 levels (v · 255 / 65535); 8-bit images are returned unchanged.
    public func eightBit() -> DecodedImage {
        guard case .uint16(let values) = samples else { return self }
        let bytes = values.map { UInt8((UInt32($0) + 128) / 257) }
        return DecodedImage(unchecked: width, height, channels, .uint8(bytes))
    }

    /// The image with 8-bit samples and `target` channels (1 or 3), by the rule ImageFolder
    /// datasets use: alpha is dropped (as Pillow's `convert("RGB")` does, no compositing),
    /// gray is copied into R, G and B, and colour becomes gray by ITU-R 601-2 luma with
    /// Pillow's integer arithmetic, L = (19595·R + 38470·G + 7471·B + 2¹⁵) >> 16.
    public func converted(toChannels target: Int) throws -> DecodedImage {
        guard target == 1 || target == 3 else {
            throw ConvNetError.invalidArgument("images convert to 1 (gray) or 3 (RGB) channels, not \(target)")
        }
        let image = eightBit()
        guard case .uint8(let source) = image.samples else { return image }
        let colourChannels = image.isColor ? 3 : 1
        if colourChannels == target && !image.hasAlpha { return image }
        let pixels = width * height
        var result = [UInt8](repeating: 0, count: pixels * target)
        let stride = image.channels
        source.withUnsafeBufferPointer { s in
            result.withUnsafeMutableBufferPointer { r in
                for pixel in 0..<pixels {
                    let base = pixel * stride
                    switch (colourChannels, target) {
                    case (1, 1): r[pixel] = s[base]
                    case (1, _):
                        r[pixel * 3] = s[base]
                        r[pixel * 3 + 1] = s[base]
                        r[pixel * 3 + 2] = s[base]
                    case (_, 1):
                        let luma =
                            19595 * UInt32(s[base]) + 38470 * UInt32(s[base + 1]) + 7471 * UInt32(s[base + 2]) + 0x8000
                        r[pixel] = UInt8(luma >> 16)
                    default:
                        r[pixel * 3] = s[base]
                        r[pixel * 3 + 1] = s[base + 1]
                        r[pixel * 3 + 2] = s[base + 2]
                    }
                }
            }
        }
        return DecodedImage(unchecked: width, height, target, .uint8(result))
    }

    /// For decoders that have already checked the sizes.
    init(unchecked width: Int, _ height: Int, _ channels: Int, _ samples: Samples) {
        self.width = width
        self.height = height
        self.channels = channels
        self.samples = samples
    }
}

extension DecodedImage.Samples {
    /// The number of samples.
    public var count: Int {
        switch self {
        case .uint8(let values): return values.count
        case .uint16(let values): return values.count
        }
    }
}

/// The image formats ConvNet decodes.
public enum ImageFormat: String, Sendable, CaseIterable {
    /// PNG (ISO/IEC 15948).
    case png
    /// JPEG (ITU-T T.81), baseline and progressive Huffman.
    case jpeg

    /// The format whose signature `bytes` starts with, or nil.
    public init?(sniffing bytes: [UInt8]) {
        if bytes.count >= 8 && Array(bytes[0..<8]) == PNGDecoder.signature {
            self = .png
        } else if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF {
            self = .jpeg
        } else {
            return nil
        }
    }

    /// The file extensions (lower case) image datasets pick up.
    public static let fileExtensions: Set<String> = ["png", "jpg", "jpeg"]
}

/// Decodes PNG and JPEG files, chosen by their signature (not their name).
public enum ImageDecoder {
    /// Decodes `bytes`; `name` (the file name) starts every error message.
    public static func decode(_ bytes: [UInt8], name: String = "image") throws -> DecodedImage {
        switch ImageFormat(sniffing: bytes) {
        case .png: return try PNGDecoder.decode(bytes, name: name)
        case .jpeg: return try JPEGDecoder.decode(bytes, name: name)
        case nil:
            let start = bytes.prefix(4).map { hex($0) }.joined(separator: " ")
            throw ConvNetError.invalidData(
                "\(name): not a PNG or JPEG file (starts with \(start.isEmpty ? "nothing" : start))")
        }
    }

    /// Reads and decodes the file at `url`.
    public static func decode(contentsOf url: URL) throws -> DecodedImage {
        try decode(readFileBytes(url), name: url.path)
    }
}
