/// A learnable tensor and its gradient. Layers own their parameters; optimizers update
/// `value` in place from `gradient`.
public final class Parameter<Scalar: KernelScalar> {
    /// The name PyTorch gives it inside its module: `weight` or `bias`.
    public let name: String
    /// The current value.
    public var value: Tensor<Scalar>
    /// d loss / d value from the last `backward` (same shape as `value`).
    public var gradient: Tensor<Scalar>
    /// Whether L2 regularisation applies (weights yes, biases and BatchNorm's scale and shift no).
    public let isRegularized: Bool

    /// A parameter with a zero gradient.
    public init(name: String, value: Tensor<Scalar>, isRegularized: Bool) {
        self.name = name
        self.value = value
        self.gradient = Tensor(zeros: value.shape)
        self.isRegularized = isRegularized
    }
}

/// State a layer keeps that is not trained by gradients but belongs to the model and is saved
/// with it under PyTorch's state_dict name: BatchNorm's `running_mean`, `running_var` and
/// `num_batches_tracked`.
public final class Buffer<Scalar: KernelScalar> {
    /// The name PyTorch gives it inside its module.
    public let name: String
    /// Whether it holds whole numbers (saved as I64, like PyTorch's `num_batches_tracked`, a
    /// tensor of shape []) rather than floating-point values (saved as F32).
    public let isInteger: Bool
    /// A floating buffer's values (updated in place by its layer).
    public var values: Tensor<Scalar>
    /// An integer buffer's values, row-major in `shape`.
    public var integers: [Int64]
    /// The shape.
    public let shape: [Int]

    /// A floating-point buffer.
    public init(name: String, values: Tensor<Scalar>) {
        self.name = name
        isInteger = false
        self.values = values
        integers = []
        shape = values.shape
    }

    /// An integer buffer of `shape` ([] for a single number).
    public init(name: String, integers: [Int64], shape: [Int]) {
        precondition(
            integers.count == shape.reduce(1, *), "integer buffer \(name): \(integers.count) values for \(shape)")
        self.name = name
        isInteger = true
        values = Tensor(zeros: [0])
        self.integers = integers
        self.shape = shape
    }

    /// Copies the value of `other` (same name, kind and shape checked by the caller).
    public func copy<Other: KernelScalar>(from other: Buffer<Other>) {
        if isInteger { integers = other.integers } else { values = other.values.converted() }
    }
}

/// A random generator a layer draws from in training mode (Dropout's masks). Its state is
/// part of a run's training state, so that a resumed run draws the same numbers as one that
/// never stopped; it is not part of the model's weights.
public final class RandomStream {
    /// The generator; each draw advances it.
    public var generator: SeededRandom

    /// A stream starting from `seed`.
    public init(seed: UInt64) {
        generator = SeededRandom(seed: seed)
    }
}

/// Training or inference: what a model is doing, set once on it (`Model.mode`,
/// `layer.setMode(_:)`) and seen by every nested layer. In training, Dropout drops and
/// BatchNorm normalises with the batch's statistics (updating its running ones); in inference
/// Dropout is the identity and BatchNorm uses its running statistics.
public enum LayerMode: String, Sendable, CaseIterable {
    case training
    /// Inference as deployed: BatchNorm after a convolution is folded into its weights, and a
    /// 2×2 max pool after it (and its ReLU) is taken over by its forward.
    case inference
    /// Inference with every layer run on its own: what backward in inference mode needs (input
    /// gradients of a trained model, say).
    case unfoldedInference

    /// Whether this is training (batch statistics, dropout on).
    public var isTraining: Bool { self == .training }
}

/// An element-wise activation that a producing layer can apply in its own epilogue.
public enum Activation: Sendable, Equatable {
    /// max(x, 0).
    case relu
}

/// Work that a layer can hand to the layer before it, which then does it while its output is
/// still in cache (`Layer.epilogue(in:)`, `Layer.adoptEpilogues(_:mode:)`).
public enum Epilogue<Scalar: KernelScalar> {
    /// An activation applied element-wise to the output (ReLU); backward masks d output by
    /// where the activated output is positive.
    case activation(Activation)
    /// In inference only: a per-channel affine map y[n, c, …] = scale[c]·x[n, c, …] + shift[c]
    /// (BatchNorm with its running statistics), which a convolution folds into its weights.
    /// `write(scale, shift)` fills `channels` values of each, read at every forward so that
    /// they always reflect the current statistics.
    case channelAffine(channels: Int, write: (UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>) -> Void)
    /// A 2×2, stride-2, unpadded max pool (floor rule), which a convolution applies to its
    /// output while it is in cache; the layer that takes it returns the pooled output (and, in
    /// training, keeps each window's winner and takes the pooled output's gradient in backward).
    case maxPool2x2
}

/// A differentiable operation on whole mini-batches — the whole contract between a layer and
/// the containers, models, checkpoints and tools around it.
///
/// `forward` takes a batch `[N, ...]` and remembers what `backward` needs; `backward` takes
/// d loss / d output for that same batch, fills each parameter's `gradient` (overwriting it)
/// and returns d loss / d input when asked for it. No layer loops over the images of a batch
/// in its API.
///
/// A layer describes itself: its spec token and arguments (`specification`), its PyTorch
/// constructor (`pytorchModule`), its state_dict entries (`localParameters`, `localBuffers`
/// and the names of its `sublayers`), its ONNX nodes (`exportONNX`). Containers (`Sequential`, `Residual`, `BasicBlock`) list
/// their sublayers; everything recursive (all parameters, buffers, the mode) is derived from
/// those lists by the extension below.
public protocol Layer<Scalar>: AnyObject, CustomStringConvertible {
    /// Float for training, Double for gradient checks.
    associatedtype Scalar: KernelScalar

    /// The shape of one output sample for one input sample of `inputShape` (no batch
    /// dimension); throws when the input does not fit.
    func outputShape(forInputShape inputShape: [Int]) throws -> [Int]

    /// Runs the layer on a batch `[N, ...]`.
    func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar>

    /// Back-propagates d loss / d output of the last `forward`: fills the parameters'
    /// gradients and, when `needsInputGradient`, returns d loss / d input (nil otherwise: the
    /// first layer of a network skips that work).
    func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>?

    /// The parameters this layer holds itself (not those of its sublayers), in PyTorch's
    /// order (`weight` before `bias`).
    var localParameters: [Parameter<Scalar>] { get }

    /// The buffers this layer holds itself, in PyTorch's order.
    var localBuffers: [Buffer<Scalar>] { get }

    /// The random streams this layer draws from itself, with names unique within the layer.
    var localRandomStreams: [(name: String, stream: RandomStream)] { get }

    /// Nested layers with their state_dict names (`0`, `1` in a Sequential; `conv1`,
    /// `downsample` in a BasicBlock), in PyTorch's order.
    var sublayers: [(name: String, layer: any Layer<Scalar>)] { get }

    /// Called by `setMode(_:)` on this layer (its sublayers are called separately): layers
    /// whose behaviour depends on the mode remember it.
    func modeDidChange(to mode: LayerMode)

    /// The work this layer can hand to the layer before it in `mode`, if any (ReLU: its
    /// activation; BatchNorm in inference: its per-channel affine map).
    func epilogue(in mode: LayerMode) -> Epilogue<Scalar>?

    /// Offered the epilogues of the layers that follow this one (in order), this layer takes
    /// over the first k of them and returns k (0: none); it then does their work in its own
    /// forward and backward, and the container skips those layers. Called again, with the
    /// epilogues of the new mode, whenever the mode changes; an empty list undoes the fusion.
    func adoptEpilogues(_ epilogues: [Epilogue<Scalar>], mode: LayerMode) -> Int

    /// Multiply–add count of the forward pass for one sample of `inputShape`.
    func forwardFlops(forInputShape inputShape: [Int]) throws -> Int

    /// This layer as a model-spec layer (token and arguments), so that a network can be
    /// written back as text and saved.
    var specification: LayerSpec { get }

    /// The equivalent PyTorch module constructor, e.g. `nn.Conv2d(3, 32, 7, stride=1, padding=3)`.
    var pytorchModule: String { get }

    /// Appends the ONNX nodes that compute this layer in inference (Dropout off, BatchNorm with
    /// its running statistics) to `graph`, reading `input`, and returns the value they produce
    /// (`input` itself for a layer that changes nothing). Parameters and buffers become
    /// initializers under their state_dict names (`graph.parameter(_:)`, `graph.buffer(_:)`);
    /// sublayers are exported with `graph.export(_:named:input:)`. See `ONNXModel`.
    func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue

    /// How the layer computed its last forward, when it chooses among algorithms by shape
    /// (`Conv2D`: "im2col", "im2col, direct dW", "winograd" or "direct"); nil for the others.
    /// Printed in `convnet bench`'s per-layer profile.
    var algorithm: String? { get }

    /// Forces the convolutions in this layer and its sublayers to `algorithm` where it
    /// applies (`.winograd` only fits 3×3 stride-1 convolutions, `.direct` stride-1 ones; others
    /// keep im2col), or back to the automatic choice with nil (`ConvolutionAlgorithm.choose`).
    /// For tests and measurements; `CONVNET_CONVOLUTION` does the same for a whole process.
    func setConvolutionAlgorithm(_ algorithm: ConvolutionAlgorithm?)
}

extension Layer {
    public var localParameters: [Parameter<Scalar>] { [] }
    public var localBuffers: [Buffer<Scalar>] { [] }
    public var localRandomStreams: [(name: String, stream: RandomStream)] { [] }
    public var sublayers: [(name: String, layer: any Layer<Scalar>)] { [] }
    public func modeDidChange(to mode: LayerMode) {}
    public func epilogue(in mode: LayerMode) -> Epilogue<Scalar>? { nil }
    public func adoptEpilogues(_ epilogues: [Epilogue<Scalar>], mode: LayerMode) -> Int { 0 }
    public func forwardFlops(forInputShape inputShape: [Int]) throws -> Int { 0 }
    public var algorithm: String? { nil }
    public func setConvolutionAlgorithm(_ algorithm: ConvolutionAlgorithm?) {
        for (_, layer) in sublayers { layer.setConvolutionAlgorithm(algorithm) }
    }

    /// Every ConvNet layer says how it is exported; a layer defined elsewhere that does not is
    /// refused with its name.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        throw ConvNetError.invalidArgument(
            "\(description) cannot be exported to ONNX (its type does not implement exportONNX)")
    }

    /// Back-propagates and returns d loss / d input.
    public func backward(_ outputGradient: Tensor<Scalar>) throws -> Tensor<Scalar> {
        guard let gradient = try backward(outputGradient, needsInputGradient: true) else {
            throw ConvNetError.invalidArgument("\(description) returned no input gradient")
        }
        return gradient
    }

    /// Every parameter of this layer and its sublayers, in state_dict order.
    public var parameters: [Parameter<Scalar>] { namedParameters.map(\.parameter) }

    /// Every parameter with its state_dict name (`0.weight`, `3.conv1.weight`, …).
    public var namedParameters: [(name: String, parameter: Parameter<Scalar>)] {
        var result = localParameters.map { (name: $0.name, parameter: $0) }
        for (prefix, layer) in sublayers {
            result += layer.namedParameters.map { (name: "\(prefix).\($0.name)", parameter: $0.parameter) }
        }
        return result
    }

    /// Every buffer with its state_dict name (`1.running_mean`, …).
    public var namedBuffers: [(name: String, buffer: Buffer<Scalar>)] {
        var result = localBuffers.map { (name: $0.name, buffer: $0) }
        for (prefix, layer) in sublayers {
            result += layer.namedBuffers.map { (name: "\(prefix).\($0.name)", buffer: $0.buffer) }
        }
        return result
    }

    /// Every random stream with a name unique in the network (`2.mask`, …).
    public var namedRandomStreams: [(name: String, stream: RandomStream)] {
        var result = localRandomStreams
        for (prefix, layer) in sublayers {
            result += layer.namedRandomStreams.map { (name: "\(prefix).\($0.name)", stream: $0.stream) }
        }
        return result
    }

    /// Sets the mode of this layer and every nested one.
    public func setMode(_ mode: LayerMode) {
        modeDidChange(to: mode)
        for (_, layer) in sublayers { layer.setMode(mode) }
    }

    /// PyTorch's `state_dict()` key order: per module its parameters, then its buffers, then
    /// its children's entries.
    public var stateDictNames: [String] {
        var result = localParameters.map(\.name) + localBuffers.map(\.name)
        for (prefix, layer) in sublayers { result += layer.stateDictNames.map { "\(prefix).\($0)" } }
        return result
    }
}

/// Checks that `input` is a batch whose samples have `expected` shape.
func requireBatch<Scalar>(_ input: Tensor<Scalar>, sampleShape expected: [Int], layer: String) throws {
    guard input.rank == expected.count + 1, Array(input.shape.dropFirst()) == expected else {
        throw ConvNetError.shapeMismatch(
            "\(layer) expects input [N, \(expected.map(String.init).joined(separator: ", "))], "
                + "found \(describe(input.shape))")
    }
}

/// Checks that a gradient has the shape of the output the layer last produced. `layer` (the
/// layer's description) is built only for the error: building it allocates, and this check runs
/// on every training step.
func requireGradient<Scalar>(_ gradient: Tensor<Scalar>, shape: [Int]?, layer: @autoclosure () -> String) throws {
    guard let shape else {
        throw ConvNetError.invalidArgument("\(layer()): backward called before forward")
    }
    guard gradient.shape == shape else {
        throw ConvNetError.shapeMismatch(
            "\(layer()) backward expects gradient \(describe(shape)), found \(describe(gradient.shape))")
    }
}
