import Foundation

/// Labelled images: inputs [N, C, H, W] and class labels [N] (stored as whole numbers in the
/// element type, as the losses expect).
public struct Dataset<Scalar: KernelScalar>: Sendable {
    /// [N, C, H, W].
    public var inputs: Tensor<Scalar>
    /// [N], values in 0..<classNames.count.
    public var labels: Tensor<Scalar>
    /// One name per class.
    public var classNames: [String]

    /// Checks that there is one label per image and every label names a class.
    public init(inputs: Tensor<Scalar>, labels: Tensor<Scalar>, classNames: [String]) throws {
        guard inputs.rank >= 1, labels.rank == 1, labels.shape[0] == inputs.shape[0] else {
            throw ConvNetError.invalidLabels(
                "\(inputs.shape.first ?? 0) images need \(inputs.shape.first ?? 0) labels, found shape \(describe(labels.shape))"
            )
        }
        for (index, label) in labels.scalars.enumerated() {
            guard let value = Int(exactly: label.doubleValue), value >= 0, value < classNames.count else {
                throw ConvNetError.invalidLabels("label \(label) at index \(index) is not in 0..<\(classNames.count)")
            }
        }
        self.inputs = inputs
        self.labels = labels
        self.classNames = classNames
    }

    /// The number of samples.
    public var count: Int { inputs.shape.first ?? 0 }

    /// The shape of one sample, e.g. [1, 8, 8].
    public var sampleShape: [Int] { Array(inputs.shape.dropFirst()) }

    /// The samples at `indices`.
    public func subset(_ indices: some Collection<Int>) -> Dataset {
        // Labels stay valid: they are a selection of valid labels.
        try! Dataset(
            inputs: inputs.gathering(samples: indices), labels: labels.gathering(samples: indices),
            classNames: classNames)
    }

    /// A seeded shuffle split into consecutive parts of the given sizes.
    public func split(sizes: [Int], seed: UInt64) throws -> [Dataset] {
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) <= count else {
            throw ConvNetError.invalidArgument("split sizes \(sizes) exceed the \(count) samples")
        }
        var random = SeededRandom(seed: seed)
        let order = random.permutation(count)
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return subset(order[start..<(start + size)])
        }
    }

    /// Images from IDX unsigned bytes [N, H, W] (one channel) or [N, C, H, W], with labels
    /// [N], each pixel divided by `scale`.
    public init(idxImages images: IDXFile, labels: IDXFile, scale: Double, classNames: [String]) throws {
        guard images.shape.count == 3 || images.shape.count == 4 else {
            throw ConvNetError.shapeMismatch(
                "IDX images must be [N, H, W] or [N, C, H, W], found \(describe(images.shape))")
        }
        guard labels.shape.count == 1 else {
            throw ConvNetError.shapeMismatch("IDX labels must be [N], found \(describe(labels.shape))")
        }
        let shape = images.shape.count == 3 ? [images.shape[0], 1, images.shape[1], images.shape[2]] : images.shape
        let factor = 1 / scale
        let inputs = Tensor<Scalar>(uncheckedShape: shape, scalars: images.bytes.map { Scalar(Double($0) * factor) })
        try self.init(
            inputs: inputs, labels: Tensor(uncheckedShape: labels.shape, scalars: labels.bytes.map { Scalar($0) }),
            classNames: classNames)
    }
}

/// Data that ships inside the package.
public enum BundledData {
    /// scikit-learn's 8x8 digits (1,797 images, classes 0–9, pixels 0–16 scaled to [0, 1]):
    /// the UCI optdigits test set, BSD-3-Clause (see Resources/digits/README.md).
    public static func digits<Scalar: KernelScalar>(_ scalar: Scalar.Type = Scalar.self) throws -> Dataset<Scalar> {
        guard let folder = Bundle.module.url(forResource: "digits", withExtension: nil) else {
            throw ConvNetError.fileSystem("the bundled digits folder is missing from the ConvNet resources")
        }
        let images = try IDXFile(contentsOf: folder.appendingPathComponent("digits-images-idx3-ubyte"))
        let labels = try IDXFile(contentsOf: folder.appendingPathComponent("digits-labels-idx1-ubyte"))
        return try Dataset(idxImages: images, labels: labels, scale: 16, classNames: (0...9).map(String.init))
    }
}

/// A dataset cut into the three parts a run needs.
public struct DataSplits<Scalar: KernelScalar>: Sendable {
    /// Trained on.
    public var train: Dataset<Scalar>
    /// Chooses the best epoch.
    public var validation: Dataset<Scalar>
    /// Reported once at the end.
    public var test: Dataset<Scalar>
}

extension BundledData {
    /// The digits cut by a fixed seeded shuffle into 1,257 training, 270 validation and 270
    /// test images (70 / 15 / 15 %). The same seed gives the same split on every platform.
    public static func digitsSplits<Scalar: KernelScalar>(seed: UInt64 = 0, _ scalar: Scalar.Type = Scalar.self) throws
        -> DataSplits<Scalar>
    {
        let parts = try digits(Scalar.self).split(sizes: [1257, 270, 270], seed: seed)
        return DataSplits(train: parts[0], validation: parts[1], test: parts[2])
    }
}
