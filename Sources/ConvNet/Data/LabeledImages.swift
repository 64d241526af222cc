/// Images as read from a file, before any scaling: bytes (0–255) or floats, row-major
/// [N, C, H, W] (or [N, D] for flat samples).
public struct ImageArray: Sendable, Equatable {
    /// The element storage.
    public enum Storage: Sendable, Equatable {
        /// Unsigned bytes (IDX, CIFAR-10, uint8 `.npy`).
        case uint8([UInt8])
        /// Floats (float `.npy`, or integer `.npy` converted).
        case float32([Float])
    }

    /// [N, ...sample shape].
    public private(set) var shape: [Int]
    /// The elements.
    public private(set) var storage: Storage

    /// Checks that the element count matches the shape.
    public init(shape: [Int], storage: Storage) throws {
        let count: Int
        switch storage {
        case .uint8(let values): count = values.count
        case .float32(let values): count = values.count
        }
        guard shape.count >= 1, let expected = checkedProduct(shape), expected == count else {
            throw ConvNetError.shapeMismatch(
                "images of shape \(describe(shape)) need \(checkedProduct(shape) ?? -1) values, found \(count)")
        }
        self.shape = shape
        self.storage = storage
    }

    /// The number of images.
    public var count: Int { shape[0] }
    /// The shape of one image, e.g. [3, 32, 32].
    public var sampleShape: [Int] { Array(shape.dropFirst()) }
    /// Values per image.
    public var sampleSize: Int { sampleShape.reduce(1, *) }

    /// The images at `indices`, in that order.
    public func gathering(_ indices: some Collection<Int>) -> ImageArray {
        let size = sampleSize
        func gather<T>(_ values: [T]) -> [T] {
            var result: [T] = []
            result.reserveCapacity(indices.count * size)
            for index in indices { result.append(contentsOf: values[(index * size)..<((index + 1) * size)]) }
            return result
        }
        let storage: Storage
        switch self.storage {
        case .uint8(let values): storage = .uint8(gather(values))
        case .float32(let values): storage = .float32(gather(values))
        }
        return try! ImageArray(shape: [indices.count] + sampleShape, storage: storage)
    }

    /// The values as Float, unscaled.
    public func floatValues() -> [Float] {
        switch storage {
        case .uint8(let values): return values.map { Float($0) }
        case .float32(let values): return values
        }
    }

    /// Converts [N, H, W, C] images (channels last, as numpy and TensorFlow hold them) to
    /// [N, C, H, W].
    public func nhwcToNCHW() throws -> ImageArray {
        guard shape.count == 4 else {
            throw ConvNetError.shapeMismatch("NHWC images must have 4 dimensions, found \(describe(shape))")
        }
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        func transpose<T>(_ values: [T]) -> [T] {
            var result = values
            for image in 0..<n {
                let base = image * h * w * c
                for y in 0..<h {
                    for x in 0..<w {
                        for channel in 0..<c {
                            result[base + (channel * h + y) * w + x] = values[base + (y * w + x) * c + channel]
                        }
                    }
                }
            }
            return result
        }
        switch storage {
        case .uint8(let values): return try ImageArray(shape: [n, c, h, w], storage: .uint8(transpose(values)))
        case .float32(let values): return try ImageArray(shape: [n, c, h, w], storage: .float32(transpose(values)))
        }
    }
}

/// Images with one integer class label each.
public struct LabeledImages: Sendable, Equatable {
    /// The images, unscaled.
    public var images: ImageArray
    /// One label per image, ≥ 0.
    public var labels: [Int]

    /// Checks one non-negative label per image.
    public init(images: ImageArray, labels: [Int], name: String = "dataset") throws {
        guard labels.count == images.count else {
            throw ConvNetError.invalidLabels("\(name): \(images.count) images but \(labels.count) labels")
        }
        if let index = labels.firstIndex(where: { $0 < 0 }) {
            throw ConvNetError.invalidLabels("\(name): label \(labels[index]) at index \(index) is negative")
        }
        self.images = images
        self.labels = labels
    }

    /// The number of samples.
    public var count: Int { labels.count }

    /// The samples at `indices`.
    public func subset(_ indices: some Collection<Int>) -> LabeledImages {
        try! LabeledImages(images: images.gathering(indices), labels: indices.map { labels[$0] })
    }

    /// The first `count` samples (all when `count` is nil or larger).
    public func prefix(_ count: Int?) -> LabeledImages {
        guard let count, count < self.count else { return self }
        return subset(0..<max(count, 0))
    }
}

/// A dataset as read from disk: a training split and, when the source has them, validation
/// and test splits, all unscaled.
public struct RawDatasetSplits: Sendable, Equatable {
    /// The training split.
    public var train: LabeledImages
    /// A separate validation split, if the source has one (an `x_val.npy`).
    public var validation: LabeledImages?
    /// The test split, if any.
    public var test: LabeledImages?
    /// One name per class.
    public var classNames: [String]
    /// What raw values are divided by to reach [0, 1]: 255 for byte images, 1 for floats.
    public var scale: Double

    /// Checks that every split has the same sample shape and labels below the class count.
    public init(
        train: LabeledImages, validation: LabeledImages? = nil, test: LabeledImages? = nil, classNames: [String],
        scale: Double
    ) throws {
        for (name, split) in [("validation", validation), ("test", test)] {
            if let split, split.images.sampleShape != train.images.sampleShape {
                throw ConvNetError.shapeMismatch(
                    "\(name) images are \(describe(split.images.sampleShape)), training images \(describe(train.images.sampleShape))"
                )
            }
        }
        for (name, split) in [("training", Optional(train)), ("validation", validation), ("test", test)] {
            if let split, let index = split.labels.firstIndex(where: { $0 >= classNames.count }) {
                throw ConvNetError.invalidLabels(
                    "\(name) label \(split.labels[index]) at index \(index) is not below the \(classNames.count) classes"
                )
            }
        }
        self.train = train
        self.validation = validation
        self.test = test
        self.classNames = classNames
        self.scale = scale
    }
}
