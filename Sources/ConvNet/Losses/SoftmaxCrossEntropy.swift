/// Softmax cross-entropy (PyTorch's `nn.CrossEntropyLoss`): scores [N, C], labels [N].
///
/// loss = −(1/N) Σ_n log softmax(s_n)[y_n], computed stably by subtracting each row's maximum;
/// d loss / d s = (softmax(s) − onehot(y)) / N.
public struct SoftmaxCrossEntropy: Loss {
    public init() {}
    public var description: String { "SoftmaxCrossEntropy" }
    public var targetKind: TargetKind { .classLabels }
    public var kind: LossKind? { .softmaxCrossEntropy }

    public func evaluate<Scalar: KernelScalar>(scores: Tensor<Scalar>, targets: Tensor<Scalar>) throws -> LossValue<Scalar> {
        let labels = try validatedLabels(targets, scores: scores)
        let (batch, classes) = (scores.shape[0], scores.shape[1])
        var gradient = Tensor<Scalar>(zeros: scores.shape)
        var total = 0.0
        var probabilities = [Double](repeating: 0, count: classes)
        scores.withUnsafeBufferPointer { s in
            gradient.withUnsafeMutableBufferPointer { g in
                for row in 0..<batch {
                    let base = row * classes
                    var largest = -Double.infinity
                    for c in 0..<classes { largest = max(largest, s[base + c].doubleValue) }
                    var sum = 0.0
                    for c in 0..<classes {
                        probabilities[c] = Double.exponential(s[base + c].doubleValue - largest)
                        sum += probabilities[c]
                    }
                    let label = labels[row]
                    total -= s[base + label].doubleValue - largest - Double.logarithm(sum)
                    for c in 0..<classes {
                        let p = probabilities[c] / sum - (c == label ? 1 : 0)
                        g[base + c] = Scalar(p / Double(batch))
                    }
                }
            }
        }
        return LossValue(loss: batch > 0 ? total / Double(batch) : 0, gradient: gradient)
    }

    /// The same loss writing d loss / d scores into `gradient` (N·C elements) without
    /// allocating: what `Model.lossAndGradients` uses. Labels are validated as in `evaluate`.
    public func evaluate<Scalar: KernelScalar>(
        scores: Tensor<Scalar>, targets: Tensor<Scalar>, gradient g: UnsafeMutablePointer<Scalar>
    ) throws -> Double {
        guard scores.rank == 2 else { _ = try validatedLabels(targets, scores: scores); return 0 }
        let (batch, classes) = (scores.shape[0], scores.shape[1])
        guard targets.rank == 1, targets.shape[0] == batch else {
            _ = try validatedLabels(targets, scores: scores)
            return 0
        }
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
                    total -= s[base + label].doubleValue - largest - Double.logarithm(sum)
                    for c in 0..<classes {
                        let p = Double.exponential(s[base + c].doubleValue - largest) / sum - (c == label ? 1 : 0)
                        g[base + c] = Scalar(p / Double(batch))
                    }
                }
            }
        }
        if bad { _ = try validatedLabels(targets, scores: scores) }
        return batch > 0 ? total / Double(batch) : 0
    }
}
