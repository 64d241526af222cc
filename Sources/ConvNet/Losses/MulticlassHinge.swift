/// Multiclass SVM hinge loss with margin 1: scores [N, C], labels [N].
///
/// loss = (1/N) Σ_n Σ_{j ≠ y_n} max(0, s_nj − s_ny + 1), the classic cs231n `svm_loss`.
/// (PyTorch's MultiMarginLoss divides by C as well.) The gradient counts each positive margin
/// as +1/N on j and −1/N on y_n.
public struct MulticlassHinge: Loss {
    public init() {}
    public var description: String { "MulticlassHinge" }
    public var targetKind: TargetKind { .classLabels }
    public var kind: LossKind? { .multiclassHinge }

    public func evaluate<Scalar: KernelScalar>(scores: Tensor<Scalar>, targets: Tensor<Scalar>) throws -> LossValue<
        Scalar
    > {
        let labels = try validatedLabels(targets, scores: scores)
        let (batch, classes) = (scores.shape[0], scores.shape[1])
        var gradient = Tensor<Scalar>(zeros: scores.shape)
        var total = 0.0
        let share = batch > 0 ? 1 / Double(batch) : 0
        scores.withUnsafeBufferPointer { s in
            gradient.withUnsafeMutableBufferPointer { g in
                for row in 0..<batch {
                    let base = row * classes
                    let label = labels[row]
                    let correct = s[base + label].doubleValue
                    var positive = 0
                    for c in 0..<classes where c != label {
                        let margin = s[base + c].doubleValue - correct + 1
                        if margin > 0 {
                            total += margin
                            positive += 1
                            g[base + c] = Scalar(share)
                        }
                    }
                    g[base + label] = Scalar(-Double(positive) * share)
                }
            }
        }
        return LossValue(loss: total * share, gradient: gradient)
    }
}
