/// A network with its loss and L2 regularisation: what the Solver trains (the classic
/// `model.loss(X, y)`).
///
/// Training loss = data loss + 0.5·reg·Σ W² over every regularised parameter (weights, not
/// biases); the gradient of the penalty, reg·W, is added to each weight's gradient.
public final class Model<Scalar: KernelScalar> {
    /// The layers.
    public let network: Sequential<Scalar>
    /// The data loss.
    public let loss: any Loss
    /// L2 strength, ≥ 0.
    public var regularization: Double
    /// The shape of one input sample, e.g. [3, 32, 32].
    public let inputShape: [Int]
    /// The shape of one output sample.
    public let outputShape: [Int]
    /// How many samples of the last `lossAndGradients` batch were classified correctly (for
    /// running accuracy in progress bars).
    public private(set) var lastCorrectCount = 0
    /// Training or inference, seen by every layer of the network (Dropout, BatchNorm).
    /// `lossAndGradients` runs in the mode set; `scores` and `evaluate` always run in inference.
    public var mode: LayerMode = .training {
        didSet { if mode != oldValue { network.setMode(mode) } }
    }

    /// Checks that the network accepts `inputShape` and that its output fits the loss.
    public init(network: Sequential<Scalar>, loss: any Loss, inputShape: [Int], regularization: Double = 0) throws {
        guard regularization >= 0, regularization.isFinite else {
            throw ConvNetError.invalidArgument("regularization must be ≥ 0, found \(regularization)")
        }
        self.network = network
        self.loss = loss
        self.regularization = regularization
        self.inputShape = inputShape
        self.outputShape = try network.outputShape(forInputShape: inputShape)
        network.setMode(mode)
        if loss.targetKind == .classLabels && outputShape.count != 1 {
            throw ConvNetError.shapeMismatch(
                "\(loss) needs the network to output [N, classes], it outputs [N, "
                    + outputShape.map(String.init).joined(separator: ", ") + "]")
        }
    }

    /// The parameters, in state_dict order (computed once: the layers never change).
    public var parameters: [Parameter<Scalar>] { cachedParameters }
    private lazy var cachedParameters: [Parameter<Scalar>] = network.parameters
    /// The buffers (BatchNorm's running statistics), in state_dict order.
    public var buffers: [Buffer<Scalar>] { cachedBuffers }
    private lazy var cachedBuffers: [Buffer<Scalar>] = network.namedBuffers.map(\.buffer)
    /// d loss / d scores, reused across steps.
    private var scoreGradients = TensorPair<Scalar>()

    /// The values of every parameter and buffer: what "the best weights so far" keep.
    public func snapshot() -> ModelSnapshot<Scalar> {
        ModelSnapshot(
            parameters: parameters.map(\.value), buffers: buffers.map(\.values), integerBuffers: buffers.map(\.integers)
        )
    }

    /// Puts back a snapshot taken from this model (or one of the same architecture).
    public func restore(_ snapshot: ModelSnapshot<Scalar>) throws {
        guard snapshot.parameters.map(\.shape) == parameters.map(\.value.shape),
            snapshot.buffers.count == buffers.count, snapshot.integerBuffers.count == buffers.count
        else {
            throw ConvNetError.shapeMismatch("the saved weights do not fit this model")
        }
        for (parameter, value) in zip(parameters, snapshot.parameters) { parameter.value = value }
        for (index, buffer) in buffers.enumerated() {
            guard snapshot.buffers[index].shape == buffer.values.shape,
                snapshot.integerBuffers[index].count == buffer.integers.count
            else {
                throw ConvNetError.shapeMismatch("the saved buffer \(buffer.name) does not fit this model")
            }
            buffer.values = snapshot.buffers[index]
            buffer.integers = snapshot.integerBuffers[index]
        }
    }

    /// The number of classes (the output width).
    public var classCount: Int { outputShape.reduce(1, *) }

    /// Checks that `inputs` is a batch of finite samples of `inputShape`.
    public func validate(inputs: Tensor<Scalar>, name: String = "input") throws {
        guard inputs.rank == inputShape.count + 1, Array(inputs.shape.dropFirst()) == inputShape else {
            throw ConvNetError.shapeMismatch(
                "\(name) must be [N, \(inputShape.map(String.init).joined(separator: ", "))], found \(describe(inputs.shape))"
            )
        }
        try inputs.checkFinite(name)
    }

    /// 0.5·reg·Σ W².
    public var regularizationLoss: Double {
        guard regularization > 0 else { return 0 }
        var sum = 0.0
        for parameter in parameters where parameter.isRegularized {
            sum += parameter.value.withUnsafeBufferPointer { Scalar.sumOfSquares($0.baseAddress!, count: $0.count) }
        }
        return 0.5 * regularization * sum
    }

    /// Forward, loss and backward on one batch: fills every parameter's gradient and returns
    /// the training loss (data loss + regularisation). Inputs are not re-validated here; the
    /// Solver validates whole datasets once.
    public func lossAndGradients(inputs: Tensor<Scalar>, targets: Tensor<Scalar>) throws -> Double {
        let dataLoss = try dataLossAndGradients(inputs: inputs, targets: targets)
        addRegularizationGradient()
        return dataLoss + regularizationLoss
    }

    /// Forward, loss and backward on one batch without the regularisation: the data loss, and
    /// its gradient in every parameter (data-parallel training adds the penalty after the sum).
    func dataLossAndGradients(inputs: Tensor<Scalar>, targets: Tensor<Scalar>) throws -> Double {
        let scores = try network.forward(inputs)
        lastCorrectCount = try loss.correctCount(scores: scores, targets: targets)
        var dataLoss = 0.0
        let gradient = try scoreGradients.produce(shape: scores.shape) { g, _ in
            dataLoss = try loss.evaluate(scores: scores, targets: targets, gradient: g)
        }
        _ = try network.backward(gradient, needsInputGradient: false)
        return dataLoss
    }

    /// gradient += reg · W for every regularised parameter.
    func addRegularizationGradient() {
        guard regularization > 0 else { return }
        let reg = Scalar(regularization)
        for parameter in parameters where parameter.isRegularized {
            parameter.value.withUnsafeBufferPointer { w in
                parameter.gradient.withUnsafeMutableBufferPointer { g in
                    Scalar.axpy(alpha: reg, w.baseAddress!, g.baseAddress!, count: w.count)
                }
            }
        }
    }

    /// Scores for every sample, computed `batchSize` samples at a time in inference mode (the
    /// model's mode is restored afterwards).
    public func scores(_ inputs: Tensor<Scalar>, batchSize: Int = 256) throws -> Tensor<Scalar> {
        try validate(inputs: inputs)
        guard batchSize > 0 else { throw ConvNetError.invalidArgument("batch size must be > 0, found \(batchSize)") }
        let previous = mode
        mode = .inference
        defer { mode = previous }
        let count = inputs.shape[0]
        var result = [Scalar]()
        result.reserveCapacity(count * classCount)
        var start = 0
        while start < count {
            let end = min(start + batchSize, count)
            result += try network.forward(inputs.slicing(samples: start..<end)).scalars
            start = end
        }
        return Tensor(uncheckedShape: [count] + outputShape, scalars: result)
    }

    /// Mean data loss (no regularisation) and accuracy over a dataset, in batches.
    public func evaluate(inputs: Tensor<Scalar>, targets: Tensor<Scalar>, batchSize: Int = 256) throws -> Evaluation<
        Scalar
    > {
        let scores = try scores(inputs, batchSize: batchSize)
        let value = try loss.evaluate(scores: scores, targets: targets)
        let correct = try loss.correctCount(scores: scores, targets: targets)
        return Evaluation(loss: value.loss, accuracy: Double(correct) / Double(max(inputs.shape[0], 1)), scores: scores)
    }
}

/// The values of a model's parameters and buffers at one moment.
public struct ModelSnapshot<Scalar: KernelScalar>: Equatable {
    /// Parameter values, in the model's order.
    public var parameters: [Tensor<Scalar>]
    /// Floating buffer values, in the model's order (empty tensors for integer buffers).
    public var buffers: [Tensor<Scalar>]
    /// Integer buffer values (empty for floating buffers).
    public var integerBuffers: [[Int64]]
}

/// Loss and accuracy of a model on a dataset.
public struct Evaluation<Scalar: KernelScalar> {
    /// Mean data loss.
    public var loss: Double
    /// Fraction classified correctly, in [0, 1].
    public var accuracy: Double
    /// The scores [N, ...] the figures came from.
    public var scores: Tensor<Scalar>
}
