import Foundation

/// A trained classifier loaded from a checkpoint, applying the preprocessing stored with it
/// (scale, mean image, standardisation) to raw images before scoring them.
public struct Predictor {
    /// The model and its metadata.
    public let checkpoint: LoadedCheckpoint<Float>

    /// Loads `url` (a ConvNet checkpoint).
    public init(checkpoint url: URL) throws {
        checkpoint = try Checkpoint.load(from: url, as: Float.self)
        checkpoint.model.mode = .inference  // Dropout off, BatchNorm folded into the convolutions
    }

    /// The model.
    public var model: Model<Float> { checkpoint.model }

    /// Raw images (as stored in the dataset: uint8 or float) → model inputs, with the
    /// checkpoint's preprocessing, or, when it has none, unchanged values (uint8 / 255). With
    /// `preprocessed`, the images are already model inputs (scaled and mean-subtracted as the
    /// checkpoint's preprocessing does) and are taken as they are.
    public func inputs(_ images: ImageArray, preprocessed: Bool = false) throws -> Tensor<Float> {
        guard images.sampleShape == model.inputShape else {
            throw ConvNetError.shapeMismatch(
                "the checkpoint expects images [N, \(model.inputShape.map(String.init).joined(separator: ", "))], "
                    + "found \(describe(images.shape)) (for [N, H, W, C] data use --layout nhwc)")
        }
        if preprocessed {
            let values: [Float]
            switch images.storage {
            case .uint8(let bytes): values = bytes.map { Float($0) }
            case .float32(let floats): values = floats
            }
            let tensor = try Tensor<Float>(shape: images.shape, scalars: values)
            try tensor.checkFinite("input images")
            return tensor
        }
        let preprocessing =
            try checkpoint.metadata.preprocessing
            ?? Preprocessing(
                scale: { if case .uint8 = images.storage { return 255 } else { return 1 } }(),
                sampleShape: model.inputShape)
        let tensor: Tensor<Float> = try preprocessing.apply(to: images)
        try tensor.checkFinite("input images")
        return tensor
    }

    /// Image files (PNG, JPEG) as raw images for this checkpoint: each decoded, brought to the
    /// model's input channels and size by ``ImageTransform`` (as imagefolder training does),
    /// then scaled from 0–255 to the range of the data the model was trained on (its
    /// preprocessing's `scale`: 255 for byte images, 16 for the bundled digits; 1 when the
    /// checkpoint has no preprocessing), ready for ``scores(_:preprocessed:)``.
    public func imageInputs(_ files: [URL]) throws -> ImageArray {
        var values: [Float] = []
        for file in files { values += try imageInput(ImageDecoder.decode(contentsOf: file)) }
        return try ImageArray(shape: [files.count] + model.inputShape, storage: .float32(values))
    }

    /// One decoded image as a raw sample [C·H·W] for this checkpoint (the channels, resize,
    /// crop and scale of ``imageInputs(_:)``; `convnet-serve` gives each request's image here).
    public func imageInput(_ image: DecodedImage) throws -> [Float] {
        let transform = try ImageTransform(inputShape: model.inputShape)
        let scale = Float(checkpoint.metadata.preprocessing?.scale ?? 1) / 255
        return try transform.apply(image).samples.map { Float($0) * scale }
    }

    /// Raw class scores [N, C] (`preprocessed`: see ``inputs(_:preprocessed:)``).
    public func scores(_ images: ImageArray, preprocessed: Bool = false) throws -> Tensor<Float> {
        try model.scores(inputs(images, preprocessed: preprocessed))
    }

    /// A warning when raw `images` look already normalised: the checkpoint's preprocessing
    /// divides by its `scale` (the range of the raw training data, e.g. 255) and subtracts a
    /// mean, but these values are negative, or all within [0, 1] while that range is 16 or
    /// more — given to ``scores(_:preprocessed:)`` as raw, they would be normalised twice and
    /// score near chance. Nil when they look raw, or when the checkpoint has no preprocessing.
    public func preprocessingWarning(for images: ImageArray) -> String? {
        guard images.sampleShape == model.inputShape, let preprocessing = checkpoint.metadata.preprocessing,
            case .float32(let values) = images.storage,
            let low = values.min(), let high = values.max()
        else { return nil }
        let hasMean = !preprocessing.mean.isEmpty
        guard low < 0 || (high <= 1 && preprocessing.scale >= 16) else { return nil }
        return String(
            format:
                "the input's values lie in [%.3g, %.3g], but the checkpoint expects raw pixels in [0, %g] and applies "
                + "its own preprocessing (÷ %g%@): if the input is already normalised, pass --preprocessed",
            low, high, preprocessing.scale, preprocessing.scale, hasMean ? ", minus its mean" : "")
    }

    /// The report on labelled images.
    public func evaluate(_ data: LabeledImages) throws -> ClassificationReport {
        let labels = try Tensor<Float>(shape: [data.count], scalars: data.labels.map { Float($0) })
        return try ClassificationReport(
            model: model, inputs: inputs(data.images), labels: labels, classNames: checkpoint.metadata.classNames)
    }

    /// The `k` most probable classes of each row of `scores` [N, C], with softmax probabilities.
    public func topK(_ scores: Tensor<Float>, k: Int) throws -> [[(index: Int, name: String, probability: Double)]] {
        guard k > 0 else { throw ConvNetError.invalidArgument("--top-k must be > 0, found \(k)") }
        let classes = scores.shape.last ?? 0
        guard k <= classes else {
            throw ConvNetError.invalidArgument("--top-k \(k) exceeds the model's \(classes) classes")
        }
        let names = checkpoint.metadata.classNames
        return (0..<(scores.shape.first ?? 0)).map { row in
            let values = (0..<classes).map { Double(scores.scalars[row * classes + $0]) }
            let largest = values.max() ?? 0
            let exponentials = values.map { Foundation.exp($0 - largest) }
            let sum = exponentials.reduce(0, +)
            return exponentials.enumerated().sorted { $0.element > $1.element }.prefix(k).map {
                (
                    index: $0.offset, name: $0.offset < names.count ? names[$0.offset] : String($0.offset),
                    probability: $0.element / sum
                )
            }
        }
    }
}

/// What `convnet models DIR` lists: the checkpoints of a folder with their spec and accuracy.
public struct CheckpointListing: Sendable {
    /// One file of the folder.
    public struct Entry: Sendable {
        /// The file name.
        public var file: String
        /// The checkpoint's metadata, or nil when the file is not a ConvNet checkpoint.
        public var spec: String?
        public var inputShape: [Int]?
        public var epoch: Int?
        public var validationAccuracy: Double?
        /// Why the file was skipped, when it was.
        public var problem: String?
    }

    /// Every file of `directory`, sorted by name: checkpoints with their metadata, and every
    /// other file with the reason it is not one.
    public static func scan(_ directory: URL) throws -> [Entry] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        } catch {
            throw ConvNetError.fileSystem("cannot list \(directory.path): \(reason(error))")
        }
        return names.map { name in
            var entry = Entry(file: name)
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(
                atPath: directory.appendingPathComponent(name).path, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                entry.problem = "a folder"
                return entry
            }
            if !name.hasSuffix(".safetensors") {
                entry.problem = "not a .safetensors file"
                return entry
            }
            if name.hasSuffix(".state.safetensors") {
                entry.problem = "training state (optimizer buffers), not weights"
                return entry
            }
            do {
                let file = try SafeTensorsFile(contentsOf: directory.appendingPathComponent(name))
                guard let metadata = try CheckpointMetadata(metadata: file.metadata, name: name) else {
                    entry.problem = "no ConvNet metadata (saved by another program?)"
                    return entry
                }
                entry.spec = metadata.spec.description
                entry.inputShape = metadata.inputShape
                entry.epoch = metadata.extra["epoch"].flatMap { Int($0) }
                entry.validationAccuracy = metadata.extra["validation_accuracy"].flatMap { Double($0) }
            } catch let error as ConvNetError {
                entry.problem = error.description
            } catch {
                entry.problem = reason(error)
            }
            return entry
        }
    }
}
