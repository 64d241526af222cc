import Foundation

/// Random transformations of training images, applied to whole mini-batches [N, C, H, W] with a
/// seeded generator (so a run, and a resumed run, sees the same images).
///
/// For each sample, independently: a shift (dy, dx) — the sum of a random crop's (PyTorch's
/// `RandomCrop(size, padding=P)`: pad by P zeros, cut the original size at an offset uniform in
/// 0…2P, so dy, dx are uniform in −P…P) and a translation's (`RandomAffine(0,
/// translate=(f, f))` with whole pixels: uniform in −round(f·W)…round(f·W)) — then, with
/// `flip`, a horizontal mirror with probability ½ (`RandomHorizontalFlip`):
///
///     out[c, y, x] = in[c, y + dy, x' + dx],  x' = (flipped ? W − 1 − x : x),  0 outside the image
///
/// Text form (`--augment`): `crop=4`, `flip`, `translate=0.1`, joined by commas; `none`.
/// Flipping suits natural images and clothes (CIFAR-10, Fashion-MNIST), not digits.
public struct Augmentation: Codable, Sendable, Equatable, CustomStringConvertible {
    /// P: the random crop's zero padding (0: no crop).
    public var cropPadding: Int
    /// Mirror half the images left to right.
    public var horizontalFlip: Bool
    /// f: the largest translation as a fraction of the image size (0: none).
    public var translate: Double

    public init(cropPadding: Int = 0, horizontalFlip: Bool = false, translate: Double = 0) {
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
        self.translate = translate
    }

    /// Parses `crop=4,flip,translate=0.1` (or `none`).
    public init(parsing text: String) throws {
        self.init()
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard trimmed != "none", !trimmed.isEmpty else { return }
        for item in trimmed.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            switch (parts[0], parts.count) {
            case ("flip", 1), ("hflip", 1):
                horizontalFlip = true
            case ("crop", 2):
                guard let padding = Int(parts[1]), padding >= 0, padding <= 1024 else {
                    throw ConvNetError.invalidArgument("--augment crop takes a padding in 0…1024, found '\(parts[1])'")
                }
                cropPadding = padding
            case ("translate", 2):
                guard let fraction = Double(parts[1]), fraction >= 0, fraction < 1 else {
                    throw ConvNetError.invalidArgument(
                        "--augment translate takes a fraction in [0, 1), found '\(parts[1])'")
                }
                translate = fraction
            default:
                throw ConvNetError.invalidArgument(
                    "unknown augmentation '\(item)'; use crop=P, flip, translate=F (comma-separated) or none")
            }
        }
    }

    /// Whether it changes nothing.
    public var isIdentity: Bool { cropPadding == 0 && !horizontalFlip && translate == 0 }

    public var description: String {
        var items: [String] = []
        if cropPadding > 0 { items.append("crop=\(cropPadding)") }
        if horizontalFlip { items.append("flip") }
        if translate > 0 { items.append("translate=\(translate)") }
        return items.isEmpty ? "none" : items.joined(separator: ",")
    }
}

/// Applies an `Augmentation` to mini-batches, drawing from its own `RandomStream` (saved with a
/// run's training state), into storage reused from batch to batch.
public final class BatchAugmenter<Scalar: KernelScalar> {
    /// What it does.
    public let augmentation: Augmentation
    /// Where its random numbers come from.
    public let stream: RandomStream
    private var outputs = TensorPair<Scalar>()
    /// Per-sample (dy, dx, flipped) of the last batch, reused.
    private var draws: [(Int, Int, Bool)] = []

    /// An augmenter whose stream starts from `seed`.
    public init(_ augmentation: Augmentation, seed: UInt64) {
        self.augmentation = augmentation
        stream = RandomStream(seed: seed)
    }

    /// The augmented batch: `batch` [N, C, H, W] transformed sample by sample.
    public func apply(_ batch: Tensor<Scalar>) throws -> Tensor<Scalar> {
        guard batch.rank == 4 else {
            throw ConvNetError.shapeMismatch(
                "augmentation (\(augmentation)) needs image batches [N, C, H, W], found \(describe(batch.shape))")
        }
        let (count, channels, height, width) = (batch.shape[0], batch.shape[1], batch.shape[2], batch.shape[3])
        let padding = augmentation.cropPadding
        let shiftY = Int((augmentation.translate * Double(height)).rounded())
        let shiftX = Int((augmentation.translate * Double(width)).rounded())
        var generator = stream.generator
        draws.removeAll(keepingCapacity: true)
        for _ in 0..<count {
            var dy = 0
            var dx = 0
            if padding > 0 {
                dy += generator.integer(below: 2 * padding + 1) - padding
                dx += generator.integer(below: 2 * padding + 1) - padding
            }
            if shiftY > 0 || shiftX > 0 {
                dy += generator.integer(below: 2 * shiftY + 1) - shiftY
                dx += generator.integer(below: 2 * shiftX + 1) - shiftX
            }
            let flipped = augmentation.horizontalFlip && generator.next() >> 63 == 1
            draws.append((dy, dx, flipped))
        }
        stream.generator = generator
        let plane = height * width
        let draws = self.draws
        return batch.withUnsafeBufferPointer { source in
            let x = source.baseAddress!
            return outputs.produce(shape: batch.shape) { y, _ in
                for n in 0..<count {
                    let (dy, dx, flipped) = draws[n]
                    for c in 0..<channels {
                        let from = x + (n * channels + c) * plane
                        let to = y + (n * channels + c) * plane
                        for row in 0..<height {
                            let target = to + row * width
                            let sourceRow = row + dy
                            guard sourceRow >= 0, sourceRow < height else {
                                target.update(repeating: 0, count: width)
                                continue
                            }
                            let line = from + sourceRow * width
                            for column in 0..<width {
                                let sourceColumn = (flipped ? width - 1 - column : column) + dx
                                target[column] = sourceColumn >= 0 && sourceColumn < width ? line[sourceColumn] : 0
                            }
                        }
                    }
                }
            }
        }
    }
}
