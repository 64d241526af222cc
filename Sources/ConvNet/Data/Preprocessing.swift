import Foundation

/// What is done to raw images before the network sees them, fitted on the training split only
/// and stored with the checkpoint so that evaluation and prediction apply exactly the same:
///
///     x = (raw / scale − mean) / std
///
/// `mean` is the mean image (one value per element of a sample, as in the classic
/// get_CIFAR10_data) or one value per channel; `std` is one value per channel. Both optional.
public struct Preprocessing: Codable, Sendable, Equatable {
    /// How the mean is taken.
    public enum MeanMode: String, Codable, Sendable, CaseIterable {
        /// Nothing is subtracted.
        case none
        /// The mean image (per pixel and channel) of the training split.
        case image
        /// One mean per channel.
        case channel
    }

    /// Raw values are divided by this first (255 for byte images, 1 for float data).
    public var scale: Double
    /// The shape of one sample, e.g. [3, 32, 32].
    public var sampleShape: [Int]
    /// The mean image (count = sample size), per-channel means (count = C), or empty.
    public var mean: [Float]
    /// Per-channel standard deviations of the scaled, mean-subtracted training data, or empty.
    public var std: [Float]

    /// Scaling alone.
    public init(scale: Double = 1, sampleShape: [Int], mean: [Float] = [], std: [Float] = []) throws {
        guard scale > 0, scale.isFinite else {
            throw ConvNetError.invalidArgument("preprocessing scale must be > 0, found \(scale)")
        }
        let size = try ReaderLimits.current.checkSample(sampleShape, "preprocessing sample shape")
        let channels = sampleShape.first ?? 1
        guard mean.isEmpty || mean.count == size || mean.count == channels else {
            throw ConvNetError.shapeMismatch(
                "preprocessing mean has \(mean.count) values; a sample \(describe(sampleShape)) needs \(size) or \(channels)"
            )
        }
        guard std.isEmpty || (std.count == channels && std.allSatisfy { $0 > 0 && $0.isFinite }) else {
            throw ConvNetError.invalidArgument(
                "preprocessing std needs \(channels) positive values, found \(std.count)")
        }
        self.scale = scale
        self.sampleShape = sampleShape
        self.mean = mean
        self.std = std
    }

    /// Fits the mean (and, with `standardize`, the per-channel std) on `training`.
    public static func fit(
        training: ImageArray, scale: Double, mean meanMode: MeanMode = .image, standardize: Bool = false
    ) throws -> Preprocessing {
        let shape = training.sampleShape
        let size = training.sampleSize
        let n = training.count
        let channels = shape.count >= 2 ? shape[0] : 1
        let plane = size / max(channels, 1)
        var sums = [Double](repeating: 0, count: size)
        let values = training.floatValues()
        let inverse = 1 / scale
        if n > 0 {
            values.withUnsafeBufferPointer { v in
                for image in 0..<n {
                    let base = image * size
                    for i in 0..<size { sums[i] += Double(v[base + i]) * inverse }
                }
            }
        }
        var mean: [Float] = []
        switch meanMode {
        case .none: break
        case .image: mean = sums.map { Float($0 / Double(max(n, 1))) }
        case .channel:
            mean = (0..<channels).map { c in
                Float(sums[(c * plane)..<((c + 1) * plane)].reduce(0, +) / Double(max(n * plane, 1)))
            }
        }
        var result = try Preprocessing(scale: scale, sampleShape: shape, mean: mean)
        if standardize {
            var squares = [Double](repeating: 0, count: channels)
            let perElementMean = result.expandedMean()
            values.withUnsafeBufferPointer { v in
                for image in 0..<n {
                    let base = image * size
                    for c in 0..<channels {
                        var s = 0.0
                        for i in (c * plane)..<((c + 1) * plane) {
                            let x =
                                Double(v[base + i]) * inverse - Double(perElementMean.isEmpty ? 0 : perElementMean[i])
                            s += x * x
                        }
                        squares[c] += s
                    }
                }
            }
            result.std = squares.map { Float(max(($0 / Double(max(n * plane, 1))).squareRoot(), 1e-8)) }
        }
        return result
    }

    /// The mean as one value per sample element (empty when there is none).
    func expandedMean() -> [Float] {
        let size = sampleShape.reduce(1, *)
        if mean.isEmpty || mean.count == size { return mean }
        let plane = size / mean.count
        return (0..<size).map { mean[$0 / plane] }
    }

    /// Applies the transform to raw images.
    public func apply<Scalar: KernelScalar>(to images: ImageArray, as scalar: Scalar.Type = Scalar.self) throws
        -> Tensor<Scalar>
    {
        guard images.sampleShape == sampleShape else {
            throw ConvNetError.shapeMismatch(
                "preprocessing was fitted on samples \(describe(sampleShape)), found \(describe(images.sampleShape))")
        }
        let values = images.floatValues()
        let size = images.sampleSize
        let channels = sampleShape.count >= 2 ? sampleShape[0] : 1
        let plane = size / max(channels, 1)
        let meanValues = expandedMean()
        var factor = [Float](repeating: Float(1 / scale), count: size)
        var offset = [Float](repeating: 0, count: size)
        for i in 0..<size {
            let inverseStd: Float = std.isEmpty ? 1 : 1 / std[i / max(plane, 1)]
            factor[i] *= inverseStd
            offset[i] = meanValues.isEmpty ? 0 : meanValues[i] * inverseStd
        }
        var result = [Scalar](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { v in
            result.withUnsafeMutableBufferPointer { out in
                for image in 0..<images.count {
                    let base = image * size
                    for i in 0..<size { out[base + i] = Scalar(Double(v[base + i] * factor[i] - offset[i])) }
                }
            }
        }
        return try Tensor(shape: images.shape, scalars: result)
    }

    /// The JSON stored in checkpoint metadata (key `preprocessing`).
    public func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Reads the JSON written by `jsonString()`, validating it.
    public init(jsonString text: String) throws {
        let decoded: Preprocessing
        do {
            decoded = try JSONDecoder().decode(Preprocessing.self, from: Data(text.utf8))
        } catch {
            throw ConvNetError.invalidData(
                "preprocessing metadata is not valid JSON: \(excerpt(String(describing: error), limit: 160))")
        }
        try self.init(scale: decoded.scale, sampleShape: decoded.sampleShape, mean: decoded.mean, std: decoded.std)
    }
}

/// How to cut and prepare a dataset, as in the classic get_CIFAR10_data.
public struct PreparationOptions: Sendable, Equatable {
    /// Training samples kept (the first ones); nil keeps all that remain after validation.
    public var trainingCount: Int?
    /// Validation samples: taken from the source's validation split when it has one, else the
    /// training samples right after the first `trainingCount` (the classic
    /// `X_train[num_training:num_training + num_validation]`). nil: 1,000, or a tenth of the
    /// training split when that is smaller; 0 for none.
    public var validationCount: Int?
    /// Test samples kept (the first ones); nil keeps all.
    public var testCount: Int?
    /// The mean subtracted (fitted on the training samples only).
    public var mean: Preprocessing.MeanMode = .image
    /// Divide by the per-channel std of the training samples.
    public var standardize: Bool = false

    public init(
        trainingCount: Int? = nil, validationCount: Int? = nil, testCount: Int? = nil,
        mean: Preprocessing.MeanMode = .image, standardize: Bool = false
    ) {
        self.trainingCount = trainingCount
        self.validationCount = validationCount
        self.testCount = testCount
        self.mean = mean
        self.standardize = standardize
    }
}

/// Training, validation and test data ready for the Solver, with the preprocessing that made
/// them (to save in the checkpoint).
public struct PreparedData<Scalar: KernelScalar>: Sendable {
    /// The three splits (validation or test may have zero samples when the source has none).
    public var splits: DataSplits<Scalar>
    /// The fitted transform.
    public var preprocessing: Preprocessing
}

extension RawDatasetSplits {
    /// Subsamples, fits the preprocessing on the training part and applies it to every part.
    public func prepared<Scalar: KernelScalar>(
        _ options: PreparationOptions = PreparationOptions(), as scalar: Scalar.Type = Scalar.self
    ) throws -> PreparedData<Scalar> {
        for (name, value) in [
            ("training", options.trainingCount), ("validation", options.validationCount), ("test", options.testCount),
        ] {
            if let value, value < 0 { throw ConvNetError.invalidArgument("\(name) count must be ≥ 0, found \(value)") }
        }
        var trainPart: LabeledImages
        var validationPart: LabeledImages
        if let validation {
            trainPart = train.prefix(options.trainingCount)
            if let requested = options.validationCount, requested > validation.count {
                throw ConvNetError.invalidArgument(
                    "\(requested) validation samples exceed the \(validation.count) in the validation split")
            }
            validationPart = validation.prefix(options.validationCount)
        } else {
            let validationCount = options.validationCount ?? min(1000, train.count / 10)
            guard validationCount <= train.count else {
                throw ConvNetError.invalidArgument(
                    "\(validationCount) validation samples exceed the \(train.count) in the training split")
            }
            let trainingCount = options.trainingCount ?? (train.count - validationCount)
            let (total, overflow) = trainingCount.addingReportingOverflow(validationCount)
            guard !overflow, total <= train.count else {
                throw ConvNetError.invalidArgument(
                    "\(trainingCount) training + \(validationCount) validation samples exceed the \(train.count) in the training split"
                )
            }
            trainPart = train.subset(0..<trainingCount)
            validationPart = train.subset(trainingCount..<(trainingCount + validationCount))
        }
        if let requested = options.trainingCount, requested > trainPart.count {
            throw ConvNetError.invalidArgument(
                "asked for \(requested) training samples, the split has \(trainPart.count)")
        }
        guard trainPart.count > 0 else { throw ConvNetError.invalidArgument("the training split is empty") }
        let testPart = (test ?? LabeledImages.empty(like: train.images)).prefix(options.testCount)
        let preprocessing = try Preprocessing.fit(
            training: trainPart.images, scale: scale, mean: options.mean, standardize: options.standardize)
        func make(_ part: LabeledImages) throws -> Dataset<Scalar> {
            let inputs: Tensor<Scalar> = try preprocessing.apply(to: part.images)
            return try Dataset(
                inputs: inputs, labels: Tensor(shape: [part.count], scalars: part.labels.map { Scalar($0) }),
                classNames: classNames)
        }
        return PreparedData(
            splits: DataSplits(
                train: try make(trainPart), validation: try make(validationPart), test: try make(testPart)),
            preprocessing: preprocessing)
    }
}

extension LabeledImages {
    /// No samples, with the sample shape of `images`.
    static func empty(like images: ImageArray) -> LabeledImages {
        try! LabeledImages(images: ImageArray(shape: [0] + images.sampleShape, storage: .uint8([])), labels: [])
    }
}
