/// Mean squared error (PyTorch's `nn.MSELoss()`): the mean over every element,
/// loss = (1/M) Σ (s − t)², d loss / d s = 2 (s − t) / M, M = number of elements.
public struct MeanSquaredError: Loss {
    public init() {}
    public var description: String { "MeanSquaredError" }
    public var kind: LossKind? { .meanSquaredError }
    public var targetKind: TargetKind { .values }

    public func evaluate<Scalar: KernelScalar>(scores: Tensor<Scalar>, targets: Tensor<Scalar>) throws -> LossValue<
        Scalar
    > {
        try requireSameShape(scores, targets, loss: description)
        let count = Double(max(scores.count, 1))
        var gradient = Tensor<Scalar>(zeros: scores.shape)
        var total = 0.0
        for i in 0..<scores.count {
            let difference = scores.scalars[i].doubleValue - targets.scalars[i].doubleValue
            total += difference * difference
            gradient.scalars[i] = Scalar(2 * difference / count)
        }
        return LossValue(loss: total / count, gradient: gradient)
    }
}

/// Binary cross-entropy on probabilities (PyTorch's `nn.BCELoss()`: put a `Sigmoid` before it):
/// loss = −(1/M) Σ [t·ln p + (1 − t)·ln(1 − p)], each log clamped at −100 as PyTorch does;
/// d loss / d p = (p − t) / max(p (1 − p), 1e−12) / M. Scores must lie in [0, 1] and targets
/// in [0, 1].
public struct BinaryCrossEntropy: Loss {
    public init() {}
    public var description: String { "BinaryCrossEntropy" }
    public var kind: LossKind? { .binaryCrossEntropy }
    public var targetKind: TargetKind { .values }

    public func evaluate<Scalar: KernelScalar>(scores: Tensor<Scalar>, targets: Tensor<Scalar>) throws -> LossValue<
        Scalar
    > {
        try requireSameShape(scores, targets, loss: description)
        let count = Double(max(scores.count, 1))
        var gradient = Tensor<Scalar>(zeros: scores.shape)
        var total = 0.0
        for i in 0..<scores.count {
            let p = scores.scalars[i].doubleValue
            let t = targets.scalars[i].doubleValue
            guard p >= 0, p <= 1 else {
                throw ConvNetError.invalidArgument(
                    "BinaryCrossEntropy needs probabilities in [0, 1] (add a Sigmoid), found \(p) at index \(i)")
            }
            guard t >= 0, t <= 1 else {
                throw ConvNetError.invalidLabels(
                    "BinaryCrossEntropy targets must lie in [0, 1], found \(t) at index \(i)")
            }
            let logP = max(Double.logarithm(p), -100)
            let logQ = max(Double.logarithm(1 - p), -100)
            total -= t * logP + (1 - t) * logQ
            gradient.scalars[i] = Scalar((p - t) / max(p * (1 - p), 1e-12) / count)
        }
        return LossValue(loss: total / count, gradient: gradient)
    }
}
