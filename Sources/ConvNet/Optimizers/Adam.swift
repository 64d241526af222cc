import Foundation

/// Adam with bias correction (`torch.optim.Adam`, the classic `adam`), at step t = 1, 2, …:
/// m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²; m̂ = m / (1 − β1ᵗ); v̂ = v / (1 − β2ᵗ);
/// w ← w − lr·m̂ / (√v̂ + ε). Defaults lr = 1e−3, β1 = 0.9, β2 = 0.999, ε = 1e−8.
///
/// `weightDecay` as PyTorch's Adam (g ← g + wd·w first) or, with `decoupled`, as AdamW
/// (`torch.optim.AdamW`: w ← w·(1 − lr·wd) before the step; the `adamw` rule, wd 0.01).
public final class Adam<Scalar: KernelScalar>: Optimizer {
    public var learningRate: Double
    /// β1, in [0, 1).
    public let beta1: Double
    /// β2, in [0, 1).
    public let beta2: Double
    /// ε, > 0.
    public let epsilon: Double
    /// The weight decay, ≥ 0.
    public let weightDecay: Double
    /// AdamW's decoupled decay instead of Adam's L2 term.
    public let decoupled: Bool
    /// Steps taken so far.
    public private(set) var step = 0
    private var firstMoment = SlotBuffers<Scalar>()
    private var secondMoment = SlotBuffers<Scalar>()

    /// Validates the hyper-parameters.
    public init(
        learningRate: Double = OptimizerDefaults.adamLearningRate, beta1: Double = OptimizerDefaults.adamBeta1,
        beta2: Double = OptimizerDefaults.adamBeta2, epsilon: Double = OptimizerDefaults.adamEpsilon,
        weightDecay: Double = OptimizerDefaults.weightDecay, decoupled: Bool = false
    ) throws {
        try requireHyperparameter(weightDecay, "weight decay", { $0 >= 0 }, "≥ 0")
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        try requireHyperparameter(learningRate, "learning rate", { $0 >= 0 }, "≥ 0")
        try requireHyperparameter(beta1, "beta1", { $0 >= 0 && $0 < 1 }, "in [0, 1)")
        try requireHyperparameter(beta2, "beta2", { $0 >= 0 && $0 < 1 }, "in [0, 1)")
        try requireHyperparameter(epsilon, "epsilon", { $0 > 0 }, "> 0")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public func update(_ parameters: [Parameter<Scalar>]) throws {
        try firstMoment.prepare(for: parameters)
        try secondMoment.prepare(for: parameters)
        if decoupled {
            if weightDecay > 0 {
                let factor = Scalar(1 - learningRate * weightDecay)
                for parameter in parameters {
                    parameter.value.withUnsafeMutableBufferPointer {
                        Scalar.scale($0.baseAddress!, by: factor, count: $0.count)
                    }
                }
            }
        } else {
            addWeightDecay(weightDecay, to: parameters)
        }
        step += 1
        let correction1 = 1 - pow(beta1, Double(step))
        let correction2 = 1 - pow(beta2, Double(step))
        for index in parameters.indices {
            let parameter = parameters[index]
            firstMoment.buffers[index].withUnsafeMutableBufferPointer { m in
                secondMoment.buffers[index].withUnsafeMutableBufferPointer { v in
                    withPointers(parameter) { w, g, count in
                        Scalar.adamStep(
                            w, g, firstMoment: m.baseAddress!, secondMoment: v.baseAddress!, count: count,
                            learningRate: Scalar(learningRate), beta1: Scalar(beta1), beta2: Scalar(beta2),
                            epsilon: Scalar(epsilon), correction1: Scalar(correction1),
                            correction2: Scalar(correction2))
                    }
                }
            }
        }
    }

    public var state: [String: [[Scalar]]] {
        ["first_moment": firstMoment.buffers, "second_moment": secondMoment.buffers, "step": [[Scalar(step)]]]
    }
}

extension Adam {
    /// Restores the state captured by `state`; buffers are checked against the parameters at the next step.
    public func restore(state: [String: [[Scalar]]]) throws {
        let stepValue = state["step"]?.first?.first ?? 0
        guard let steps = Int(exactly: stepValue.doubleValue), steps >= 0 else {
            throw ConvNetError.invalidData("Adam state 'step' is \(stepValue), not a whole number ≥ 0")
        }
        try firstMoment.restore(state, key: "first_moment", optimizer: "Adam")
        try secondMoment.restore(state, key: "second_moment", optimizer: "Adam")
        step = steps
    }
}
