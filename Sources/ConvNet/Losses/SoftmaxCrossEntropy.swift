/// Softmax cross-entropy (PyTorch's `nn.CrossEntropyLoss(label_smoothing=ε)`): scores [N, C],
/// labels [N].
///
/// With the smoothed target q_c = (1 − ε)·[c = y] + ε/C:
/// loss = −(1/N) Σ_n Σ_c q_c log softmax(s_n)_c, computed stably by subtracting each row's
/// maximum; d loss / d s = (softmax(s) − q) / N. ε = 0 is the plain loss, −log softmax(s)_y.
public struct SoftmaxCrossEntropy: Loss {
    /// ε, in [0, 1).
    public let labelSmoothing: Double

    /// The loss with label smoothing `labelSmoothing` (0: none).
    public init(labelSmoothing: Double = 0) {
        precondition(labelSmoothing >= 0 && labelSmoothing < 1, "label smoothing must be in [0, 1)")
        self.labelSmoothing = labelSmoothing
    }

    /// Validates a user-given ε.
    public init(validatingLabelSmoothing labelSmoothing: Double) throws {
        guard labelSmoothing.isFinite, labelSmoothing >= 0, labelSmoothing < 1 else {
            throw ConvNetError.invalidArgument("label smoothing must be in [0, 1), found \(labelSmoothing)")
        }
        self.init(labelSmoothing: labelSmoothing)
    }

    public var description: String {
        labelSmoothing == 0 ? "SoftmaxCrossEntropy" : "SoftmaxCrossEntropy(label smoothing \(labelSmoothing))"
    }
    public var targetKind: TargetKind { .classLabels }
    public var kind: LossKind? { .softmaxCrossEntropy }

    public func evaluate<Scalar: KernelScalar>(scores: Tensor<Scalar>, targets: Tensor<Scalar>) throws -> LossValue<
        Scalar
    > {
        _ = try validatedLabels(targets, scores: scores)
        var gradient = Tensor<Scalar>(zeros: scores.shape)
        let loss = try gradient.withUnsafeMutableBufferPointer {
            try evaluate(scores: scores, targets: targets, gradient: $0.baseAddress!)
        }
        return LossValue(loss: loss, gradient: gradient)
    }

    /// The same loss writing d loss / d scores into `gradient` (N·C elements) without
    /// allocating: what `Model.lossAndGradients` uses. Labels are validated as in `evaluate`.
    public func evaluate<Scalar: KernelScalar>(
        scores: Tensor<Scalar>, targets: Tensor<Scalar>, gradient g: UnsafeMutablePointer<Scalar>
    ) throws -> Double {
        guard scores.rank == 2 else {
            _ = try validatedLabels(targets, scores: scores)
            return 0
        }
        let (batch, classes) = (scores.shape[0], scores.shape[1])
        guard targets.rank == 1, targets.shape[0] == batch else {
            _ = try validatedLabels(targets, scores: scores)
            return 0
        }
        let smoothing = labelSmoothing
        let share = labelSmoothing / Double(max(classes, 1))
        var total = 0.0
        var bad = false
        scores.withUnsafeBufferPointer { s in
            targets.withUnsafeBufferPointer { t in
                for row in 0..<batch {
                    let labelValue = t[row].doubleValue
                    guard let label = Int(exactly: labelValue), label >= 0, label < classes else {
                        bad = true
                        return
                    }
                    let base = row * classes
                    var largest = -Double.infinity
                    for c in 0..<classes { largest = max(largest, s[base + c].doubleValue) }
                    var sum = 0.0
                    for c in 0..<classes { sum += Double.exponential(s[base + c].doubleValue - largest) }
                    let logSum = Double.logarithm(sum)
                    // −log p_c = logSum − (s_c − largest)
                    total += (1 - smoothing) * (logSum - (s[base + label].doubleValue - largest))
                    if smoothing > 0 {
                        var all = 0.0
                        for c in 0..<classes { all += logSum - (s[base + c].doubleValue - largest) }
                        total += share * all
                    }
                    for c in 0..<classes {
                        let target = (c == label ? 1 - smoothing : 0) + share
                        let p = Double.exponential(s[base + c].doubleValue - largest) / sum - target
                        g[base + c] = Scalar(p / Double(batch))
                    }
                }
            }
        }
        if bad { _ = try validatedLabels(targets, scores: scores) }
        return batch > 0 ? total / Double(batch) : 0
    }
}
