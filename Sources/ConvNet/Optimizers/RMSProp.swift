/// RMSProp (`torch.optim.RMSprop`, the classic `rmsprop`): s ← ρ·s + (1 − ρ)·g²;
/// w ← w − lr·g / (√s + ε). Defaults ρ = 0.99, ε = 1e−8.
public final class RMSProp<Scalar: KernelScalar>: Optimizer {
    public var learningRate: Double
    /// ρ, the decay of the running mean of squares, in [0, 1).
    public let decayRate: Double
    /// ε, added to the root for stability, > 0.
    public let epsilon: Double
    /// PyTorch's `weight_decay` (g ← g + wd·w), ≥ 0.
    public let weightDecay: Double
    private var squareAverage = SlotBuffers<Scalar>()

    /// Validates the hyper-parameters.
    public init(
        learningRate: Double = OptimizerDefaults.rmspropLearningRate,
        decayRate: Double = OptimizerDefaults.rmspropDecayRate,
        epsilon: Double = OptimizerDefaults.rmspropEpsilon, weightDecay: Double = OptimizerDefaults.weightDecay
    ) throws {
        try requireHyperparameter(weightDecay, "weight decay", { $0 >= 0 }, "≥ 0")
        self.weightDecay = weightDecay
        try requireHyperparameter(learningRate, "learning rate", { $0 >= 0 }, "≥ 0")
        try requireHyperparameter(decayRate, "decay rate", { $0 >= 0 && $0 < 1 }, "in [0, 1)")
        try requireHyperparameter(epsilon, "epsilon", { $0 > 0 }, "> 0")
        self.learningRate = learningRate
        self.decayRate = decayRate
        self.epsilon = epsilon
    }

    public func update(_ parameters: [Parameter<Scalar>]) throws {
        try squareAverage.prepare(for: parameters)
        addWeightDecay(weightDecay, to: parameters)
        for index in parameters.indices {
            let parameter = parameters[index]
            squareAverage.buffers[index].withUnsafeMutableBufferPointer { s in
                withPointers(parameter) { w, g, count in
                    Scalar.rmspropStep(
                        w, g, squareAverage: s.baseAddress!, count: count, learningRate: Scalar(learningRate),
                        decayRate: Scalar(decayRate), epsilon: Scalar(epsilon))
                }
            }
        }
    }

    public var state: [String: [[Scalar]]] { ["square_average": squareAverage.buffers] }
}

extension RMSProp {
    /// Restores the state captured by `state`; buffers are checked against the parameters at the next step.
    public func restore(state: [String: [[Scalar]]]) throws {
        try squareAverage.restore(state, key: "square_average", optimizer: "RMSProp")
    }
}
