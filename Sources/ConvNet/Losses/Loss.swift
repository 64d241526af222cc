/// A loss averaged over the batch, with its gradient with respect to the scores.
public struct LossValue<Scalar: KernelScalar> {
    /// The mean loss, computed in Double.
    public var loss: Double
    /// d loss / d scores, same shape as the scores.
    public var gradient: Tensor<Scalar>
}

/// What the targets of a loss are.
public enum TargetKind: Sendable {
    /// Class indices [N] (stored as whole numbers), scores [N, C].
    case classLabels
    /// Values of the scores' shape.
    case values
}

/// A training objective: turns scores and targets into a mean loss and d loss / d scores.
public protocol Loss: Sendable, CustomStringConvertible {
    /// Class indices or values.
    var targetKind: TargetKind { get }
    /// What a checkpoint records for it (nil for a loss it cannot name).
    var kind: LossKind? { get }
    /// The mean loss over the batch and its gradient; throws on bad shapes or labels.
    func evaluate<Scalar: KernelScalar>(scores: Tensor<Scalar>, targets: Tensor<Scalar>) throws -> LossValue<Scalar>
    /// The mean loss, writing d loss / d scores into `gradient` (`scores.count` elements):
    /// what a training step calls, so that a loss can run without allocating. The default
    /// calls `evaluate(scores:targets:)` and copies.
    func evaluate<Scalar: KernelScalar>(
        scores: Tensor<Scalar>, targets: Tensor<Scalar>, gradient: UnsafeMutablePointer<Scalar>
    ) throws -> Double
}

extension Loss {
    public var kind: LossKind? { nil }

    public func evaluate<Scalar: KernelScalar>(
        scores: Tensor<Scalar>, targets: Tensor<Scalar>, gradient: UnsafeMutablePointer<Scalar>
    ) throws -> Double {
        let value = try evaluate(scores: scores, targets: targets)
        value.gradient.withUnsafeBufferPointer { gradient.update(from: $0.baseAddress!, count: $0.count) }
        return value.loss
    }

    /// How many samples are classified correctly: argmax = label for class labels; for values,
    /// every output rounds (threshold 0.5) to its target.
    public func correctCount<Scalar: KernelScalar>(scores: Tensor<Scalar>, targets: Tensor<Scalar>) throws -> Int {
        switch targetKind {
        case .classLabels:
            // Labels are checked in the loop (no [Int] is built: a training step allocates
            // nothing); a bad one is reported by `validatedLabels`.
            guard scores.rank == 2, targets.rank == 1, targets.shape[0] == scores.shape[0] else {
                _ = try validatedLabels(targets, scores: scores)
                return 0
            }
            let (batch, classes) = (scores.shape[0], scores.shape[1])
            var correct = 0
            var bad = false
            scores.withUnsafeBufferPointer { s in
                targets.withUnsafeBufferPointer { t in
                    for row in 0..<batch {
                        guard let label = Int(exactly: t[row].doubleValue), label >= 0, label < classes else {
                            bad = true
                            return
                        }
                        var best = 0
                        for c in 1..<max(classes, 1) where s[row * classes + c] > s[row * classes + best] { best = c }
                        if best == label { correct += 1 }
                    }
                }
            }
            if bad { _ = try validatedLabels(targets, scores: scores) }
            return correct
        case .values:
            try requireSameShape(scores, targets, loss: description)
            let batch = scores.shape.first ?? 0
            let width = batch > 0 ? scores.count / batch : 0
            var correct = 0
            for row in 0..<batch {
                var allRight = true
                for i in (row * width)..<((row + 1) * width)
                where (scores.scalars[i] >= 0.5) != (targets.scalars[i] >= 0.5) {
                    allRight = false
                }
                if allRight { correct += 1 }
            }
            return correct
        }
    }
}

/// Checks scores [N, C] against labels [N] of whole numbers in 0..<C; returns them as Ints.
func validatedLabels<Scalar: KernelScalar>(_ targets: Tensor<Scalar>, scores: Tensor<Scalar>) throws -> [Int] {
    guard scores.rank == 2 else {
        throw ConvNetError.shapeMismatch("class scores must be [N, C], found \(describe(scores.shape))")
    }
    let (batch, classes) = (scores.shape[0], scores.shape[1])
    guard targets.rank == 1, targets.shape[0] == batch else {
        throw ConvNetError.invalidLabels(
            "expected \(batch) labels (shape [\(batch)]) for scores \(describe(scores.shape)), "
                + "found shape \(describe(targets.shape))")
    }
    return try targets.scalars.enumerated().map { index, value in
        let label = Int(exactly: value.doubleValue)
        guard let label, label >= 0, label < classes else {
            throw ConvNetError.invalidLabels(
                "label \(value) at index \(index) is not a class index in 0..<\(classes)")
        }
        return label
    }
}

/// Checks that targets have the scores' shape and are finite.
func requireSameShape<Scalar: KernelScalar>(_ scores: Tensor<Scalar>, _ targets: Tensor<Scalar>, loss: String) throws {
    guard scores.shape == targets.shape, scores.rank >= 1 else {
        throw ConvNetError.shapeMismatch(
            "\(loss) needs targets shaped like the scores \(describe(scores.shape)), found \(describe(targets.shape))")
    }
    try targets.checkFinite("\(loss) targets")
}
