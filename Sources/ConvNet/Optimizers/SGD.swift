/// Stochastic gradient descent, optionally with momentum or Nesterov momentum, in PyTorch's
/// formulation (`torch.optim.SGD`):
///
///     plain:     w ← w − lr·g
///     momentum:  v ← μ·v + g;  w ← w − lr·v
///     Nesterov:  v ← μ·v + g;  w ← w − lr·(g + μ·v)
///
/// With a constant learning rate these equal the classic cs231n `sgd_momentum`
/// (v ← μ·v − lr·g; w ← w + v) with v scaled by −lr. `weightDecay` first adds wd·w to g
/// (PyTorch's `weight_decay`).
public final class SGD<Scalar: KernelScalar>: Optimizer {
    public var learningRate: Double
    /// μ, in [0, 1); 0 is plain SGD.
    public let momentum: Double
    /// Whether to use Nesterov's look-ahead.
    public let nesterov: Bool
    /// PyTorch's `weight_decay` (g ← g + wd·w), ≥ 0.
    public let weightDecay: Double
    private var velocity = SlotBuffers<Scalar>()

    /// Validates the hyper-parameters: lr ≥ 0, 0 ≤ μ < 1, Nesterov needs μ > 0.
    public init(
        learningRate: Double = OptimizerDefaults.sgdLearningRate, momentum: Double = 0, nesterov: Bool = false,
        weightDecay: Double = OptimizerDefaults.weightDecay
    ) throws {
        try requireHyperparameter(weightDecay, "weight decay", { $0 >= 0 }, "≥ 0")
        self.weightDecay = weightDecay
        try requireHyperparameter(learningRate, "learning rate", { $0 >= 0 }, "≥ 0")
        try requireHyperparameter(momentum, "momentum", { $0 >= 0 && $0 < 1 }, "in [0, 1)")
        if nesterov && momentum == 0 {
            throw ConvNetError.invalidArgument("Nesterov momentum needs momentum > 0")
        }
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
    }

    public func update(_ parameters: [Parameter<Scalar>]) throws {
        addWeightDecay(weightDecay, to: parameters)
        let lr = Scalar(learningRate)
        if momentum == 0 {
            for parameter in parameters {
                withPointers(parameter) { w, g, count in Scalar.sgdStep(w, g, count: count, learningRate: lr) }
            }
            return
        }
        try velocity.prepare(for: parameters)
        for index in parameters.indices {
            let parameter = parameters[index]
            velocity.buffers[index].withUnsafeMutableBufferPointer { v in
                withPointers(parameter) { w, g, count in
                    Scalar.momentumStep(
                        w, g, velocity: v.baseAddress!, count: count, learningRate: lr,
                        momentum: Scalar(momentum), nesterov: nesterov)
                }
            }
        }
    }

    public var state: [String: [[Scalar]]] { ["velocity": velocity.buffers] }
}

extension SGD {
    /// Restores the state captured by `state`; buffers are checked against the parameters at the next step.
    public func restore(state: [String: [[Scalar]]]) throws {
        if momentum == 0 { return }
        try velocity.restore(state, key: "velocity", optimizer: "SGD")
    }
}
