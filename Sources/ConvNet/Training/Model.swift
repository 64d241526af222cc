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
        if loss.targetKind == .classLabels && outputShape.count != 1 {
            throw ConvNetError.shapeMismatch(
                "\(loss) needs the network to output [N, classes], it outputs [N, "
                    + outputShape.map(String.init).joined(separator: ", ") + "]")
        }
    }

    /// The parameters, in state_dict order (computed once: the layers never change).
    public var parameters: [Parameter<Scalar>] { cachedParameters }
    private lazy var cachedParameters: [Parameter<Scalar>] = network.parameters
    /// d loss / d scores, reused across steps (softmax cross-entropy fast path).
    private var scoreGradients = TensorPair<Scalar>()

    /// The number of classes (the output width).
    public var classCount: Int { outputShape.reduce(1, *) }

    /// Checks that `inputs` is a batch of finite samples of `inputShape`.
    public func validate(inputs: Tensor<Scalar>, name: String = "input") throws {
        guard inputs.rank == inputShape.count + 1, Array(inputs.shape.dropFirst()) == inputShape else {
            throw ConvNetError.shapeMismatch(
                "\(name) must be [N, \(inputShape.map(String.init).joined(separator: ", "))], found \(describe(inputs.shape))")
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
        let scores = try network.forward(inputs)
        lastCorrectCount = try loss.correctCount(scores: scores, targets: targets)
        let dataLoss: Double
        if loss is SoftmaxCrossEntropy, scores.rank == 2 {
            var total = 0.0
            let gradient = try scoreGradients.produce(shape: scores.shape) { g, _ in
                total = try SoftmaxCrossEntropy.evaluate(scores: scores, targets: targets, gradient: g)
            }
            dataLoss = total
            try network.backwardParametersOnly(gradient)
        } else {
            let value = try loss.evaluate(scores: scores, targets: targets)
            dataLoss = value.loss
            try network.backwardParametersOnly(value.gradient)
        }
        addRegularizationGradient()
        return dataLoss + regularizationLoss
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

    /// Scores for every sample, computed `batchSize` samples at a time.
    public func scores(_ inputs: Tensor<Scalar>, batchSize: Int = 256) throws -> Tensor<Scalar> {
        try validate(inputs: inputs)
        guard batchSize > 0 else { throw ConvNetError.invalidArgument("batch size must be > 0, found \(batchSize)") }
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
    public func evaluate(inputs: Tensor<Scalar>, targets: Tensor<Scalar>, batchSize: Int = 256) throws -> Evaluation<Scalar> {
        let scores = try scores(inputs, batchSize: batchSize)
        let value = try loss.evaluate(scores: scores, targets: targets)
        let correct = try loss.correctCount(scores: scores, targets: targets)
        return Evaluation(loss: value.loss, accuracy: Double(correct) / Double(max(inputs.shape[0], 1)), scores: scores)
    }
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
