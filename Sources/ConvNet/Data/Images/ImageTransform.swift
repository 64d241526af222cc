import Foundation

/// The size images are brought to: `height` × `width`, parsed from `"32"` (square) or
/// `"32x48"` (height × width).
public struct ImageSize: Codable, Sendable, Equatable, CustomStringConvertible {
    public var height: Int
    public var width: Int

    /// Checks that both sides are at least 1 and the area fits a sample.
    public init(height: Int, width: Int) throws {
        guard height >= 1, width >= 1 else {
            throw ConvNetError.invalidArgument("image size must be at least 1×1, found \(height)×\(width)")
        }
        try ReaderLimits.current.checkSample([3, height, width], "image size")
        self.height = height
        self.width = width
    }

    /// Parses `S` or `HxW` (also `H,W`).
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(
            omittingEmptySubsequences: false, whereSeparator: { $0 == "x" || $0 == "," }
        )
        .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(parts.count), parts.allSatisfy({ $0 != nil }), let first = parts.first ?? nil else {
            throw ConvNetError.invalidArgument(
                "--image-size takes S or HxW (whole numbers, e.g. 32 or 64x48), found '\(text)'")
        }
        try self.init(height: first, width: parts.count == 2 ? (parts[1] ?? first) : first)
    }

    public var description: String { height == width ? "\(height)" : "\(height)x\(width)" }
}

/// What an image file goes through before it becomes a dataset sample or a `predict` input:
/// 8-bit samples with `channels` channels (``DecodedImage/converted(toChannels:)``: alpha
/// dropped, gray copied to RGB, RGB to gray by Pillow's luma), then — when `size` is set and
/// differs from the image's — torchvision's `Resize(max(H, W))` followed by
/// `CenterCrop((H, W))` on the uint8 tensor with bilinear interpolation and `antialias=False`:
///
/// - the shorter side becomes S = max(H, W), the longer ⌊S · long / short⌋ (torchvision's rule);
/// - bilinear as `torch.nn.functional.interpolate(x.float(), mode="bilinear",
///   align_corners=False)`: source coordinate (d + ½) · in/out − ½, clamped at 0, computed in
///   Float, then rounded half to even back to 0…255 (as `torch.round`);
/// - the crop starts at round((h − H) / 2), round((w − W) / 2), halves to even (Python's
///   `round`).
///
/// This is the tensor path (`antialias=False`), not Pillow's `resize`, which widens its filter
/// when shrinking; on downscaling by more than 2 the two differ visibly.
public struct ImageTransform: Sendable, Equatable {
    /// The target size, or nil to keep each image's own.
    public var size: ImageSize?
    /// 1 (gray) or 3 (RGB).
    public var channels: Int

    public init(size: ImageSize?, channels: Int) throws {
        guard channels == 1 || channels == 3 else {
            throw ConvNetError.invalidArgument("images become 1 (gray) or 3 (RGB) channels, not \(channels)")
        }
        self.size = size
        self.channels = channels
    }

    /// The transform that gives a checkpoint's input shape [C, H, W].
    public init(inputShape: [Int]) throws {
        guard inputShape.count == 3, inputShape[0] == 1 || inputShape[0] == 3 else {
            throw ConvNetError.shapeMismatch(
                "the model's input \(describe(inputShape)) is not an image [C, H, W] with 1 or 3 channels")
        }
        try self.init(size: ImageSize(height: inputShape[1], width: inputShape[2]), channels: inputShape[0])
    }

    /// The sample [C, H, W] of `image`, uint8.
    public func apply(_ image: DecodedImage) throws -> (shape: [Int], samples: [UInt8]) {
        let converted = try image.converted(toChannels: channels)
        guard case .uint8(let interleaved) = converted.samples else { return ([], []) }
        let planar = Self.planar(interleaved, channels: channels, pixels: image.width * image.height)
        guard let size, size.height != image.height || size.width != image.width else {
            return ([channels, image.height, image.width], planar)
        }
        let (resizedHeight, resizedWidth) = Self.resizedSize(
            height: image.height, width: image.width, shorter: max(size.height, size.width))
        let top = Self.roundHalfEven(Double(resizedHeight - size.height) / 2)
        let left = Self.roundHalfEven(Double(resizedWidth - size.width) / 2)
        let resized = Self.bilinear(
            planar, channels: channels, height: image.height, width: image.width, outputHeight: resizedHeight,
            outputWidth: resizedWidth,
            rows: top..<(top + size.height), columns: left..<(left + size.width))
        return (
            [channels, size.height, size.width], resized.map { UInt8(Self.roundHalfEven(Double(min(max($0, 0), 255)))) }
        )
    }

    /// torchvision's output size for `Resize(shorter)`: the shorter side `shorter`, the longer
    /// ⌊shorter · long / short⌋.
    static func resizedSize(height: Int, width: Int, shorter: Int) -> (height: Int, width: Int) {
        let short = min(height, width)
        let long = max(height, width)
        let newLong = Int(Double(shorter * long) / Double(short))
        return width <= height ? (newLong, shorter) : (shorter, newLong)
    }

    static func roundHalfEven(_ value: Double) -> Int { Int(value.rounded(.toNearestOrEven)) }

    static func planar(_ interleaved: [UInt8], channels: Int, pixels: Int) -> [UInt8] {
        guard channels > 1 else { return interleaved }
        var result = [UInt8](repeating: 0, count: interleaved.count)
        for pixel in 0..<pixels {
            for channel in 0..<channels { result[channel * pixels + pixel] = interleaved[pixel * channels + channel] }
        }
        return result
    }

    /// PyTorch's bilinear interpolation (`align_corners=False`, no antialiasing) of planar
    /// samples [C, H, W] to [C, outputHeight, outputWidth], evaluated only on `rows` × `columns`
    /// of the output (the crop); Float results, unrounded.
    static func bilinear(
        _ input: [UInt8], channels: Int, height: Int, width: Int, outputHeight: Int, outputWidth: Int,
        rows: Range<Int>, columns: Range<Int>
    ) -> [Float] {
        func taps(_ inputSize: Int, _ outputSize: Int, _ range: Range<Int>) -> [(Int, Int, Float, Float)] {
            let scale = Float(inputSize) / Float(outputSize)
            return range.map { destination in
                let source = max(scale * (Float(destination) + 0.5) - 0.5, 0)
                let first = min(Int(source), inputSize - 1)
                let second = first + (first < inputSize - 1 ? 1 : 0)
                let lambda = source - Float(first)
                return (first, second, 1 - lambda, lambda)
            }
        }
        let vertical = taps(height, outputHeight, rows)
        let horizontal = taps(width, outputWidth, columns)
        var result = [Float](repeating: 0, count: channels * rows.count * columns.count)
        var index = 0
        for channel in 0..<channels {
            let plane = channel * height * width
            for (y0, y1, wy0, wy1) in vertical {
                for (x0, x1, wx0, wx1) in horizontal {
                    let top = wx0 * Float(input[plane + y0 * width + x0]) + wx1 * Float(input[plane + y0 * width + x1])
                    let bottom =
                        wx0 * Float(input[plane + y1 * width + x0]) + wx1 * Float(input[plane + y1 * width + x1])
                    result[index] = wy0 * top + wy1 * bottom
                    index += 1
                }
            }
        }
        return result
    }
}
