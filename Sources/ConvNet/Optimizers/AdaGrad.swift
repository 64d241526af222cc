/// AdaGrad (`torch.optim.Adagrad` with no decay): s ← s + g²; w ← w − lr·g / (√s + ε).
/// Defaults lr = 1e−2, ε = 1e−10 (PyTorch's).
public final class AdaGrad<Scalar: KernelScalar>: Optimizer {
    public var learningRate: Double
    /// ε, > 0.
    public let epsilon: Double
    /// PyTorch's `weight_decay` (g ← g + wd·w), ≥ 0.
    public let weightDecay: Double
    private var sumOfSquares = SlotBuffers<Scalar>()

    /// Validates the hyper-parameters.
    public init(
        learningRate: Double = OptimizerDefaults.adagradLearningRate,
        epsilon: Double = OptimizerDefaults.adagradEpsilon,
        weightDecay: Double = OptimizerDefaults.weightDecay
    ) throws {
        try requireHyperparameter(weightDecay, "weight decay", { $0 >= 0 }, "≥ 0")
        self.weightDecay = weightDecay
        try requireHyperparameter(learningRate, "learning rate", { $0 >= 0 }, "≥ 0")
        try requireHyperparameter(epsilon, "epsilon", { $0 > 0 }, "> 0")
        self.learningRate = learningRate
        self.epsilon = epsilon
    }

    public func update(_ parameters: [Parameter<Scalar>]) throws {
        try sumOfSquares.prepare(for: parameters)
        addWeightDecay(weightDecay, to: parameters)
        for index in parameters.indices {
            let parameter = parameters[index]
            sumOfSquares.buffers[index].withUnsafeMutableBufferPointer { s in
                withPointers(parameter) { w, g, count in
                    Scalar.adagradStep(
                        w, g, sumOfSquares: s.baseAddress!, count: count, learningRate: Scalar(learningRate),
                        epsilon: Scalar(epsilon))
                }
            }
        }
    }

    public var state: [String: [[Scalar]]] { ["sum_of_squares": sumOfSquares.buffers] }
}

extension AdaGrad {
    /// Restores the state captured by `state`; buffers are checked against the parameters at the next step.
    public func restore(state: [String: [[Scalar]]]) throws {
        try sumOfSquares.restore(state, key: "sum_of_squares", optimizer: "AdaGrad")
    }
}
