import Foundation

/// What a ConvNet checkpoint records beside the weights, in the safetensors `__metadata__`
/// (every value a string; structured ones are JSON):
///
/// | key | value |
/// | --- | --- |
/// | `format` | `convnet-checkpoint` |
/// | `format_version` | `1` |
/// | `spec` | the model spec, e.g. `conv(6,k=5,p=2) relu maxpool(2) …` |
/// | `input_shape` | JSON array, e.g. `[1,28,28]` |
/// | `class_names` | JSON array of strings |
/// | `loss` | `softmax_cross_entropy`, `multiclass_hinge`, `mse` or `bce` |
/// | `preprocessing` | JSON of `Preprocessing` (absent when none) |
/// | `preset` | the preset name, when the model came from one |
public struct CheckpointMetadata: Sendable, Equatable {
    /// The architecture.
    public var spec: ModelSpec
    /// The shape of one input sample, e.g. [1, 28, 28].
    public var inputShape: [Int]
    /// One name per output class (may be empty for regression nets).
    public var classNames: [String]
    /// The loss the model trains with.
    public var loss: LossKind
    /// The transform applied to raw inputs, if any.
    public var preprocessing: Preprocessing?
    /// The preset the model was made from, if any.
    public var preset: String?
    /// Other string entries (kept when read, written back as they are).
    public var extra: [String: String]

    /// The current `format_version`.
    public static let formatVersion = 1

    public init(
        spec: ModelSpec, inputShape: [Int], classNames: [String] = [], loss: LossKind = .softmaxCrossEntropy,
        preprocessing: Preprocessing? = nil, preset: String? = nil, extra: [String: String] = [:]
    ) {
        self.spec = spec
        self.inputShape = inputShape
        self.classNames = classNames
        self.loss = loss
        self.preprocessing = preprocessing
        self.preset = preset
        self.extra = extra
    }

    /// The `__metadata__` map.
    public func encoded() throws -> [String: String] {
        var map = extra
        map["format"] = "convnet-checkpoint"
        map["format_version"] = String(CheckpointMetadata.formatVersion)
        map["spec"] = spec.description
        map["input_shape"] = "[" + inputShape.map(String.init).joined(separator: ",") + "]"
        map["class_names"] = "[" + classNames.map(jsonString).joined(separator: ",") + "]"
        map["loss"] = loss.rawValue
        if let preprocessing { map["preprocessing"] = try preprocessing.jsonString() }
        if let preset { map["preset"] = preset }
        return map
    }

    /// Reads a `__metadata__` map; nil when it holds no ConvNet spec (e.g. a file saved by
    /// PyTorch). `name` names the file in errors.
    public init?(metadata: [String: String], name: String) throws {
        guard let specText = metadata["spec"] else { return nil }
        if let version = metadata["format_version"], let number = Int(version),
            number > CheckpointMetadata.formatVersion
        {
            throw ConvNetError.invalidData(
                "\(name): checkpoint format version \(number) is newer than this ConvNet reads (\(CheckpointMetadata.formatVersion))"
            )
        }
        spec = try ModelSpec(parsing: specText)
        guard let shapeText = metadata["input_shape"],
            let shape = try? JSONSerialization.jsonObject(with: Data(shapeText.utf8)), let dims = jsonIntegers(shape),
            !dims.isEmpty
        else {
            throw ConvNetError.invalidData("\(name): metadata 'input_shape' is missing or not a JSON array of sizes")
        }
        try ReaderLimits.current.checkSample(dims, "\(name): metadata 'input_shape'")
        inputShape = dims
        if let namesText = metadata["class_names"] {
            guard let names = (try? JSONSerialization.jsonObject(with: Data(namesText.utf8))) as? [String] else {
                throw ConvNetError.invalidData("\(name): metadata 'class_names' is not a JSON array of strings")
            }
            classNames = names
        } else {
            classNames = []
        }
        if let lossText = metadata["loss"] {
            guard let kind = LossKind(rawValue: lossText) else {
                throw ConvNetError.invalidData("\(name): unknown loss '\(excerpt(lossText))' in metadata")
            }
            loss = kind
        } else {
            loss = .softmaxCrossEntropy
        }
        preprocessing = try metadata["preprocessing"].map { try Preprocessing(jsonString: $0) }
        preset = metadata["preset"]
        var rest = metadata
        for key in [
            "format", "format_version", "spec", "input_shape", "class_names", "loss", "preprocessing", "preset",
        ] {
            rest[key] = nil
        }
        extra = rest
    }
}

/// The losses a checkpoint can name.
public enum LossKind: String, Sendable, CaseIterable {
    case softmaxCrossEntropy = "softmax_cross_entropy"
    case multiclassHinge = "multiclass_hinge"
    case meanSquaredError = "mse"
    case binaryCrossEntropy = "bce"

    /// The loss object.
    public func makeLoss() -> any Loss {
        switch self {
        case .softmaxCrossEntropy: return SoftmaxCrossEntropy()
        case .multiclassHinge: return MulticlassHinge()
        case .meanSquaredError: return MeanSquaredError()
        case .binaryCrossEntropy: return BinaryCrossEntropy()
        }
    }

    /// The kind of a loss object.
    public init(_ loss: any Loss) throws {
        guard let kind = loss.kind else {
            throw ConvNetError.invalidArgument("loss \(loss) cannot be recorded in a checkpoint")
        }
        self = kind
    }
}

/// A model read from a checkpoint, with its metadata.
public struct LoadedCheckpoint<Scalar: KernelScalar> {
    /// The network with the saved weights, its loss and input shape.
    public var model: Model<Scalar>
    /// Spec, class names, preprocessing, …
    public var metadata: CheckpointMetadata
}

/// Model checkpoints as safetensors files that PyTorch reads directly:
///
/// ```python
/// import torch.nn as nn, safetensors.torch
/// model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), ...)   # ModelSpec.pytorchSource
/// model.load_state_dict(safetensors.torch.load_file("lenet.safetensors"))
/// ```
///
/// Tensors are F32 under their state_dict names (`0.weight` [6, 1, 5, 5], `0.bias` [6], …) in
/// PyTorch's layouts (Conv2d [out, in, k, k], Linear [out, in]); the metadata is
/// `CheckpointMetadata`. Files are written atomically.
public enum Checkpoint {
    /// Saves `model`'s weights as F32 with `metadata`. The spec is taken from the network when
    /// `metadata` is nil.
    public static func save<Scalar: KernelScalar>(
        _ model: Model<Scalar>, to url: URL, classNames: [String] = [], preprocessing: Preprocessing? = nil,
        preset: String? = nil
    ) throws {
        let metadata = CheckpointMetadata(
            spec: try ModelSpec(describing: model.network), inputShape: model.inputShape, classNames: classNames,
            loss: try LossKind(model.loss), preprocessing: preprocessing, preset: preset)
        try save(model.network, metadata: metadata, to: url)
    }

    /// Saves a network's weights as F32 with explicit metadata (whose spec must build the
    /// same parameter names and shapes).
    public static func save<Scalar: KernelScalar>(
        _ network: Sequential<Scalar>, metadata: CheckpointMetadata, to url: URL, float64: Bool = false
    ) throws {
        try stateDict(of: network, metadata: metadata, float64: float64).write(to: url)
    }

    /// The safetensors file `save` writes, in memory: every parameter and floating buffer as
    /// F32 (or F64 with `float64`), integer buffers as I64, under their state_dict names.
    public static func stateDict<Scalar: KernelScalar>(
        of network: Sequential<Scalar>, metadata: CheckpointMetadata?, float64: Bool = false
    ) throws -> SafeTensorsFile {
        var file = SafeTensorsFile()
        func floating(_ tensor: Tensor<Scalar>) throws -> SafeTensor {
            float64
                ? try SafeTensor(shape: tensor.shape, float64: tensor.scalars.map(\.doubleValue))
                : try SafeTensor(shape: tensor.shape, float32: tensor.scalars.map { Float($0.doubleValue) })
        }
        for (name, parameter) in network.namedParameters {
            try file.set(name, try floating(parameter.value))
        }
        for (name, buffer) in network.namedBuffers {
            try file.set(
                name,
                buffer.isInteger
                    ? try SafeTensor(shape: buffer.shape, int64: buffer.integers) : try floating(buffer.values))
        }
        if let metadata {
            let expected = try metadata.spec.makeNetwork(
                inputShape: metadata.inputShape, initializer: .zeros, scalar: Float.self)
            let entries = { (names: [String], shapes: [[Int]]) in zip(names, shapes).map { "\($0) \(describe($1))" } }
            let expectedShapes = entries(
                expected.namedParameters.map(\.name) + expected.namedBuffers.map(\.name),
                expected.namedParameters.map(\.parameter.value.shape) + expected.namedBuffers.map(\.buffer.shape))
            let actualShapes = entries(
                network.namedParameters.map(\.name) + network.namedBuffers.map(\.name),
                network.namedParameters.map(\.parameter.value.shape) + network.namedBuffers.map(\.buffer.shape))
            guard expectedShapes == actualShapes else {
                throw ConvNetError.shapeMismatch(
                    "the network's state (\(actualShapes.joined(separator: ", "))) differs from that of spec "
                        + "'\(metadata.spec)' (\(expectedShapes.joined(separator: ", ")))")
            }
            file.metadata = try metadata.encoded()
        }
        return file
    }

    /// Reads a checkpoint's metadata without building the model (nil for a file without a
    /// ConvNet spec, such as one saved by PyTorch).
    public static func metadata(at url: URL) throws -> CheckpointMetadata? {
        try CheckpointMetadata(metadata: try SafeTensorsFile(contentsOf: url).metadata, name: url.lastPathComponent)
    }

    /// Loads a checkpoint: builds the network from the spec in its metadata and fills the
    /// weights. For a file without ConvNet metadata (saved by PyTorch), pass `spec` and
    /// `inputShape` (and `classNames` / `loss` as wanted); given ones override the file's.
    /// F32, F64, F16 and BF16 tensors are accepted. Missing, unexpected or mis-shaped tensors
    /// are errors that name them.
    public static func load<Scalar: KernelScalar>(
        from url: URL, spec: ModelSpec? = nil, inputShape: [Int]? = nil, classNames: [String]? = nil,
        loss: LossKind? = nil, as scalar: Scalar.Type = Scalar.self
    ) throws -> LoadedCheckpoint<Scalar> {
        let file = try SafeTensorsFile(contentsOf: url)
        let name = url.lastPathComponent
        var metadata: CheckpointMetadata
        if let stored = try CheckpointMetadata(metadata: file.metadata, name: name) {
            metadata = stored
            if let spec { metadata.spec = spec }
            if let inputShape { metadata.inputShape = inputShape }
        } else {
            guard let spec, let inputShape else {
                throw ConvNetError.invalidArgument(
                    "\(name) has no ConvNet metadata (it was not saved by ConvNet); give the model spec and the input shape"
                )
            }
            metadata = CheckpointMetadata(spec: spec, inputShape: inputShape)
        }
        if let classNames { metadata.classNames = classNames }
        if let loss { metadata.loss = loss }
        let network: Sequential<Scalar> = try metadata.spec.makeNetwork(
            inputShape: metadata.inputShape, initializer: .zeros)
        try loadWeights(file, into: network, name: name)
        let model = try Model(network: network, loss: metadata.loss.makeLoss(), inputShape: metadata.inputShape)
        return LoadedCheckpoint(model: model, metadata: metadata)
    }

    /// Copies the weights of a safetensors file into an existing network (e.g. to start
    /// training from saved weights); every parameter must be present with its exact shape,
    /// and the file may hold no other tensors.
    public static func loadWeights<Scalar: KernelScalar>(from url: URL, into network: Sequential<Scalar>) throws {
        try loadWeights(try SafeTensorsFile(contentsOf: url), into: network, name: url.lastPathComponent)
    }

    /// As `loadWeights(from:into:)` for a file in memory: every parameter and buffer of the
    /// network must be present with its exact shape (buffers as saved by PyTorch: floating
    /// ones in any float type, `num_batches_tracked` as an integer), and the file may hold no
    /// other tensors. Nothing is changed unless everything fits.
    public static func loadWeights<Scalar: KernelScalar>(
        _ file: SafeTensorsFile, into network: Sequential<Scalar>, name: String
    ) throws {
        let parameters = network.namedParameters
        let buffers = network.namedBuffers
        let expected = Set(parameters.map(\.name) + buffers.map(\.name))
        let unexpected = file.names.filter { !expected.contains($0) }
        guard unexpected.isEmpty else {
            throw ConvNetError.shapeMismatch(
                "\(name): unexpected tensors \(unexpected.joined(separator: ", ")) for a network with state "
                    + network.stateDictNames.joined(separator: ", "))
        }
        func tensor(_ entry: String, shape: [Int]) throws -> SafeTensor {
            guard let tensor = file[entry] else {
                throw ConvNetError.shapeMismatch("\(name): tensor '\(entry)' \(describe(shape)) is missing")
            }
            guard tensor.shape == shape else {
                throw ConvNetError.shapeMismatch(
                    "\(name): tensor '\(entry)' has shape \(describe(tensor.shape)), the model needs \(describe(shape))"
                )
            }
            return tensor
        }
        func floating(_ entry: String, shape: [Int]) throws -> Tensor<Scalar> {
            let stored = try tensor(entry, shape: shape)
            let values = try stored.doubleValues(name: "\(name): tensor '\(entry)'").map { Scalar($0) }
            let value = try Tensor(shape: stored.shape, scalars: values)
            try value.checkFinite("\(name): tensor '\(entry)'")
            return value
        }
        let parameterValues = try parameters.map { try floating($0.name, shape: $0.parameter.value.shape) }
        var bufferValues: [(floating: Tensor<Scalar>?, integers: [Int64]?)] = []
        for (entry, buffer) in buffers {
            if buffer.isInteger {
                bufferValues.append(
                    (nil, try tensor(entry, shape: buffer.shape).integerValues(name: "\(name): tensor '\(entry)'")))
            } else {
                bufferValues.append((try floating(entry, shape: buffer.shape), nil))
            }
        }
        for ((_, parameter), value) in zip(parameters, parameterValues) { parameter.value = value }
        for ((_, buffer), value) in zip(buffers, bufferValues) {
            if let floating = value.floating { buffer.values = floating }
            if let integers = value.integers { buffer.integers = integers }
        }
    }
}
