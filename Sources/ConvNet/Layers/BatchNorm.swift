/// Batch normalisation with PyTorch's semantics (`nn.BatchNorm2d`, `nn.BatchNorm1d`):
///
///     training:  x̂ = (x − μ_B) / √(σ²_B + ε), y = γ·x̂ + β, over the batch's mean μ_B and
///                biased variance σ²_B per channel; then
///                running_mean ← (1 − m)·running_mean + m·μ_B,
///                running_var  ← (1 − m)·running_var + m·σ²_B·M/(M − 1)   (unbiased),
///                num_batches_tracked += 1
///     inference: the same with running_mean and running_var in place of μ_B and σ²_B.
///
/// M is the number of values per channel (N·H·W for [N, C, H, W], N or N·L for [N, C] or
/// [N, C, L]). Defaults ε = 1e−5, momentum m = 0.1, affine γ (`weight`, ones) and β (`bias`,
/// zeros), which are not L2-regularised. Buffers `running_mean` (zeros), `running_var` (ones)
/// and `num_batches_tracked` (an I64 of shape []) are saved under PyTorch's names.
///
/// Computed as y = x·scale + shift with scale = γ/√(σ² + ε), shift = β − μ·scale (as PyTorch's
/// CPU kernel does); statistics are accumulated in Double. In inference its epilogue is that
/// per-channel affine map, which a Conv2D before it folds into its weights; it takes over a
/// following ReLU in either mode.
public final class BatchNormalization<Scalar: KernelScalar, Layout: BatchNormLayout>: Layer {
    /// C.
    public let channels: Int
    /// ε, added to the variance.
    public let epsilon: Double
    /// m, the weight of each batch in the running statistics.
    public let momentum: Double
    /// γ [C] (nil without affine).
    public let weight: Parameter<Scalar>?
    /// β [C] (nil without affine).
    public let bias: Parameter<Scalar>?
    /// running_mean [C].
    public let runningMean: Buffer<Scalar>
    /// running_var [C].
    public let runningVariance: Buffer<Scalar>
    /// num_batches_tracked [].
    public let batchesTracked: Buffer<Scalar>

    private var mode: LayerMode = .training
    private var rectify = false
    private var input: Tensor<Scalar>?
    private var output: Tensor<Scalar>?
    private var cachedShape: [Int] = []
    private var layout = (outer: 0, inner: 0)
    /// Whether the last forward normalised with the batch's statistics (training).
    private var usedBatchStatistics = true
    private var outputs = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()
    /// mean [C], 1/√(σ² + ε) [C], σ² [C] of the last forward.
    private let statistics = Workspace<Double>()
    /// scale [C], shift [C], and without affine γ = 1 [C] and scratch gradients [2C].
    private let coefficients = Workspace<Scalar>()

    /// A batch normalisation over `channels` channels.
    public init(channels: Int, epsilon: Double = 1e-5, momentum: Double = 0.1, affine: Bool = true) throws {
        guard channels > 0 else {
            throw ConvNetError.invalidArgument("\(Layout.name) needs channels > 0, found \(channels)")
        }
        guard epsilon.isFinite, epsilon > 0 else {
            throw ConvNetError.invalidArgument("\(Layout.name) epsilon must be > 0, found \(epsilon)")
        }
        guard momentum.isFinite, momentum >= 0, momentum <= 1 else {
            throw ConvNetError.invalidArgument("\(Layout.name) momentum must be in [0, 1], found \(momentum)")
        }
        self.channels = channels
        self.epsilon = epsilon
        self.momentum = momentum
        weight =
            affine
            ? Parameter(name: "weight", value: Tensor(repeating: 1, shape: [channels]), isRegularized: false) : nil
        bias = affine ? Parameter(name: "bias", value: Tensor(zeros: [channels]), isRegularized: false) : nil
        runningMean = Buffer(name: "running_mean", values: Tensor(zeros: [channels]))
        runningVariance = Buffer(name: "running_var", values: Tensor(repeating: 1, shape: [channels]))
        batchesTracked = Buffer(name: "num_batches_tracked", integers: [0], shape: [])
    }

    public var description: String {
        "\(Layout.name)(\(channels), eps \(epsilon), momentum \(momentum)" + (weight == nil ? ", no affine" : "") + ")"
    }

    public var localParameters: [Parameter<Scalar>] {
        if let weight, let bias { return [weight, bias] }
        return []
    }

    public var localBuffers: [Buffer<Scalar>] { [runningMean, runningVariance, batchesTracked] }

    public var specification: LayerSpec {
        LayerSpec(
            token: BatchNormKind.token,
            arguments: [
                "eps": .number(epsilon), "momentum": .number(momentum), "affine": .flag(weight != nil),
            ])
    }

    public var pytorchModule: String {
        "nn.\(Layout.pytorchName)(\(channels), eps=\(epsilon), momentum=\(momentum)"
            + (weight == nil ? ", affine=False" : "") + ")"
    }

    public func modeDidChange(to mode: LayerMode) { self.mode = mode }

    /// `BatchNormalization` in inference: X [N, C, …] (any rank from 2: [N, C] after a dense
    /// layer is read as is, its spatial dimensions being none), scale γ, B β, input_mean and
    /// input_var the running statistics; epsilon ε, momentum 1 − m (ONNX weighs the running
    /// value by momentum, PyTorch by 1 − m; read only when training). Without affine, γ = 1 and
    /// β = 0 are constants `SCOPE.onnx_scale` and `SCOPE.onnx_bias`.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        let shape = try outputShape(forInputShape: input.sampleShape)
        let scale =
            weight.map { graph.parameter($0) }
            ?? graph.constant("onnx_scale", shape: [channels], values: [Float](repeating: 1, count: channels))
        let shift =
            bias.map { graph.parameter($0) }
            ?? graph.constant("onnx_bias", shape: [channels], values: [Float](repeating: 0, count: channels))
        let mean = graph.buffer(runningMean)
        let variance = graph.buffer(runningVariance)
        return graph.node(
            "BatchNormalization", [input.name, scale, shift, mean, variance],
            [
                .number("epsilon", Float(epsilon)), .number("momentum", Float(1 - momentum)),
            ], sampleShape: shape)
    }

    public func epilogue(in mode: LayerMode) -> Epilogue<Scalar>? {
        guard mode == .inference else { return nil }  // folded only when deployed
        return .channelAffine(channels: channels) { [unowned self] scale, shift in
            self.inferenceCoefficients(scale: scale, shift: shift)
        }
    }

    public func adoptEpilogues(_ epilogues: [Epilogue<Scalar>], mode: LayerMode) -> Int {
        rectify = false
        output = nil
        if let first = epilogues.first, case .activation(.relu) = first {
            rectify = true
            return 1
        }
        return 0
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        let (channelCount, _) = try Layout.split(inputShape, layer: description)
        guard channelCount == channels else {
            throw ConvNetError.shapeMismatch(
                "\(description) expects \(channels) channels, found input [N, \(inputShape.map(String.init).joined(separator: ", "))]"
            )
        }
        return inputShape
    }

    public func forwardFlops(forInputShape inputShape: [Int]) throws -> Int { inputShape.reduce(1, *) }

    /// scale = γ/√(running_var + ε), shift = β − running_mean·scale, and the deviations into
    /// `statistics` (inference).
    private func inferenceCoefficients(scale: UnsafeMutablePointer<Scalar>, shift: UnsafeMutablePointer<Scalar>) {
        let stats = statistics.reserve(3 * channels)
        for c in 0..<channels {
            let mean = runningMean.values.scalars[c].doubleValue
            let deviation = 1 / (runningVariance.values.scalars[c].doubleValue + epsilon).squareRoot()
            let gamma = weight?.value.scalars[c].doubleValue ?? 1
            let beta = bias?.value.scalars[c].doubleValue ?? 0
            stats[c] = mean
            stats[channels + c] = deviation
            scale[c] = Scalar(gamma * deviation)
            shift[c] = Scalar(beta - mean * gamma * deviation)
        }
    }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        if input.shape != cachedShape {
            guard input.rank >= 2 else {
                throw ConvNetError.shapeMismatch(
                    "\(description) expects a batch [N, C, ...], found \(describe(input.shape))")
            }
            _ = try outputShape(forInputShape: Array(input.shape.dropFirst()))
            cachedShape = input.shape
            layout = (outer: input.shape[0], inner: input.count / max(input.shape[0] * channels, 1))
        }
        let (outer, inner) = layout
        let count = outer * inner
        let coefficient = coefficients.reserve(5 * channels)
        let scale = coefficient
        let shift = coefficient + channels
        usedBatchStatistics = mode.isTraining
        if usedBatchStatistics {
            guard count > 1 else {
                throw ConvNetError.shapeMismatch(
                    "\(description): expected more than 1 value per channel when training, found input \(describe(input.shape))"
                        + " (a last batch of one sample? drop it with --drop-last)")
            }
            let stats = statistics.reserve(3 * channels)
            let mean = stats
            let deviation = stats + channels
            let variance = stats + 2 * channels
            input.withUnsafeBufferPointer { x in
                Scalar.batchNormStatistics(
                    x.baseAddress!, mean: mean, variance: variance, outer: outer, channels: channels, inner: inner)
            }
            let keep = 1 - momentum
            let correction = Double(count) / Double(count - 1)
            runningMean.values.withUnsafeMutableBufferPointer { runningMean in
                runningVariance.values.withUnsafeMutableBufferPointer { runningVariance in
                    for c in 0..<channels {
                        deviation[c] = 1 / (variance[c] + epsilon).squareRoot()
                        let gamma = weight?.value.scalars[c].doubleValue ?? 1
                        let beta = bias?.value.scalars[c].doubleValue ?? 0
                        scale[c] = Scalar(gamma * deviation[c])
                        shift[c] = Scalar(beta - mean[c] * gamma * deviation[c])
                        runningMean[c] = Scalar(keep * runningMean[c].doubleValue + momentum * mean[c])
                        runningVariance[c] = Scalar(
                            keep * runningVariance[c].doubleValue + momentum * variance[c] * correction)
                    }
                }
            }
            batchesTracked.integers[0] += 1
        } else {
            inferenceCoefficients(scale: scale, shift: shift)
        }
        self.input = input
        let rectify = self.rectify
        let result = input.withUnsafeBufferPointer { x in
            outputs.produce(shape: input.shape) { y, _ in
                Scalar.channelAffine(
                    x.baseAddress!, y, scale: scale, shift: shift, outer: outer, channels: channels, inner: inner,
                    rectify: rectify)
            }
        }
        output = rectify ? result : nil
        return result
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        guard let input else { throw ConvNetError.invalidArgument("\(description): backward called before forward") }
        if outputGradient.shape != cachedShape {
            try requireGradient(outputGradient, shape: cachedShape, layer: description)
        }
        guard needsInputGradient else {
            if weight != nil { backwardKernel(input: input, outputGradient: outputGradient, dx: nil) }
            return nil
        }
        return inputGradients.produce(shape: cachedShape) { dx, _ in
            backwardKernel(input: input, outputGradient: outputGradient, dx: dx)
        }
    }

    /// The work of `backward` (a method, not a local function: its context would be allocated
    /// at every call). Without affine, γ = 1 and the parameter gradients land in scratch.
    private func backwardKernel(
        input: Tensor<Scalar>, outputGradient: Tensor<Scalar>, dx: UnsafeMutablePointer<Scalar>?
    ) {
        let (outer, inner) = layout
        let channels = self.channels
        let stats = statistics.reserve(3 * channels)
        let coefficient = coefficients.reserve(5 * channels)
        let ones = coefficient + 2 * channels
        let scratch = coefficient + 3 * channels
        if weight == nil { ones.update(repeating: 1, count: channels) }
        let batchStatistics = usedBatchStatistics
        let mask = rectify ? output : nil
        input.withUnsafeBufferPointer { x in
            outputGradient.withUnsafeBufferPointer { dy in
                (mask ?? input).withUnsafeBufferPointer { rectified in
                    let rectifiedOutput = mask == nil ? nil : rectified.baseAddress!
                    if let weight, let bias {
                        weight.value.withUnsafeBufferPointer { gamma in
                            weight.gradient.withUnsafeMutableBufferPointer { dgamma in
                                bias.gradient.withUnsafeMutableBufferPointer { dbeta in
                                    Scalar.batchNormBackward(
                                        x.baseAddress!, dy.baseAddress!, dx, rectifiedOutput: rectifiedOutput,
                                        mean: stats, inverseDeviation: stats + channels, gamma: gamma.baseAddress!,
                                        gammaGradient: dgamma.baseAddress!, betaGradient: dbeta.baseAddress!,
                                        outer: outer, channels: channels, inner: inner, batchStatistics: batchStatistics
                                    )
                                }
                            }
                        }
                    } else {
                        Scalar.batchNormBackward(
                            x.baseAddress!, dy.baseAddress!, dx, rectifiedOutput: rectifiedOutput,
                            mean: stats, inverseDeviation: stats + channels, gamma: ones,
                            gammaGradient: scratch, betaGradient: scratch + channels,
                            outer: outer, channels: channels, inner: inner, batchStatistics: batchStatistics)
                    }
                }
            }
        }
    }
}

/// What a batch normalisation normalises over: PyTorch's BatchNorm2d or BatchNorm1d.
public protocol BatchNormLayout {
    /// ConvNet's name, `BatchNorm2D`.
    static var name: String { get }
    /// PyTorch's class, `BatchNorm2d`.
    static var pytorchName: String { get }
    /// (channels, values per channel per sample) of a sample shape; throws when it does not fit.
    static func split(_ sampleShape: [Int], layer: String) throws -> (channels: Int, inner: Int)
}

/// Images [N, C, H, W].
public enum ImageBatchNorm: BatchNormLayout {
    public static let name = "BatchNorm2D"
    public static let pytorchName = "BatchNorm2d"
    public static func split(_ sampleShape: [Int], layer: String) throws -> (channels: Int, inner: Int) {
        guard sampleShape.count == 3 else {
            throw ConvNetError.shapeMismatch(
                "\(layer) expects input [N, C, H, W], found [N, "
                    + sampleShape.map(String.init).joined(separator: ", ") + "]")
        }
        return (sampleShape[0], sampleShape[1] * sampleShape[2])
    }
}

/// Features [N, C] or sequences [N, C, L].
public enum FeatureBatchNorm: BatchNormLayout {
    public static let name = "BatchNorm1D"
    public static let pytorchName = "BatchNorm1d"
    public static func split(_ sampleShape: [Int], layer: String) throws -> (channels: Int, inner: Int) {
        guard sampleShape.count == 1 || sampleShape.count == 2 else {
            throw ConvNetError.shapeMismatch(
                "\(layer) expects input [N, C] or [N, C, L], found [N, "
                    + sampleShape.map(String.init).joined(separator: ", ") + "]")
        }
        return (sampleShape[0], sampleShape.count == 2 ? sampleShape[1] : 1)
    }
}

/// `nn.BatchNorm2d`: batch normalisation of images [N, C, H, W] per channel.
public typealias BatchNorm2D<Scalar: KernelScalar> = BatchNormalization<Scalar, ImageBatchNorm>
/// `nn.BatchNorm1d`: batch normalisation of features [N, C] (or [N, C, L]) per channel.
public typealias BatchNorm1D<Scalar: KernelScalar> = BatchNormalization<Scalar, FeatureBatchNorm>

/// `bn(eps=1e-5, momentum=0.1, affine=true)`: `BatchNorm2D` after an image-shaped output,
/// `BatchNorm1D` after a flat one.
struct BatchNormKind: LayerKind {
    static let token = "bn"
    var token: String { BatchNormKind.token }
    var aliases: [String] { ["batchnorm", "bn2d", "bn1d"] }
    var parameters: [SpecParameter] {
        [
            SpecParameter(
                "eps", aliases: ["eps", "epsilon"], kind: .number(1e-30...1), default: .value(.number(1e-5)),
                positional: false),
            SpecParameter("momentum", kind: .number(0...1), default: .value(.number(0.1)), positional: false),
            SpecParameter("affine", kind: .flag, default: .value(.flag(true)), positional: false),
        ]
    }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> {
        let (epsilon, momentum, affine) = (
            arguments.number("eps"), arguments.number("momentum"), arguments.flag("affine")
        )
        guard let channels = inputShape.first else { throw ConvNetError.shapeMismatch("bn needs a sample shape") }
        if inputShape.count == 3 {
            return try BatchNorm2D<Scalar>(channels: channels, epsilon: epsilon, momentum: momentum, affine: affine)
        }
        _ = try FeatureBatchNorm.split(inputShape, layer: "bn")
        return try BatchNorm1D<Scalar>(channels: channels, epsilon: epsilon, momentum: momentum, affine: affine)
    }
}
