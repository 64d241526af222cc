import Foundation

/// Loss, accuracy, per-class accuracy and confusion matrix of a classifier on labelled data
/// (what `convnet eval` prints).
public struct ClassificationReport: Sendable {
    /// Mean data loss.
    public var loss: Double
    /// Fraction correct.
    public var accuracy: Double
    /// counts[true][predicted].
    public var confusion: [[Int]]
    /// One name per class.
    public var classNames: [String]

    /// Evaluates `model` on `inputs` [N, ...] with class labels [N].
    public init<Scalar: KernelScalar>(
        model: Model<Scalar>, inputs: Tensor<Scalar>, labels: Tensor<Scalar>, classNames: [String]
    ) throws {
        let evaluation = try model.evaluate(inputs: inputs, targets: labels)
        loss = evaluation.loss
        accuracy = evaluation.accuracy
        confusion = ConfusionMatrix.counts(scores: evaluation.scores, labels: labels)
        self.classNames = classNames
    }

    /// Correct / samples for each true class (nil for a class with no samples).
    public var perClassAccuracy: [Double?] {
        confusion.enumerated().map { index, row in
            let total = row.reduce(0, +)
            return total > 0 ? Double(row[index]) / Double(total) : nil
        }
    }

    private func name(_ index: Int) -> String { index < classNames.count ? classNames[index] : String(index) }

    /// A plain-text report.
    public var text: String {
        let total = confusion.flatMap { $0 }.reduce(0, +)
        var lines = [
            String(format: "samples %d, loss %.4f, accuracy %.4f", total, loss, accuracy), "", "per-class accuracy:",
        ]
        let nameWidth = max(5, (0..<confusion.count).map { name($0).count }.max() ?? 0)
        for (index, value) in perClassAccuracy.enumerated() {
            let count = confusion[index].reduce(0, +)
            lines.append(
                "  " + name(index).padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                    + String(format: "  %6d  ", count) + (value.map { String(format: "%.4f", $0) } ?? "-"))
        }
        lines += ["", "confusion matrix (rows: true class, columns: predicted):"]
        let width = max(4, String(confusion.flatMap { $0 }.max() ?? 0).count + 1)
        let pad = { (text: String) in String(repeating: " ", count: max(0, width - text.count)) + text }
        lines.append(
            String(repeating: " ", count: nameWidth + 2) + (0..<confusion.count).map { pad(String($0)) }.joined())
        for (index, row) in confusion.enumerated() {
            lines.append(
                "  " + name(index).padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                    + row.map { pad(String($0)) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
