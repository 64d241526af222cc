import Foundation

/// One picture of a run, encoded both ways: the PNG bytes and the SVG text of the same `Figure`.
public struct ReportPicture: Sendable {
    /// File stem in the run directory, e.g. `"loss"` for `loss.png` and `loss.svg`.
    public var name: String
    /// Heading shown above the picture in the report.
    public var title: String
    /// One sentence under the picture saying what it shows.
    public var caption: String
    /// PNG file bytes.
    public var png: [UInt8]
    /// SVG document text.
    public var svg: String
    /// Whether `report.html` shows it (the single loss and accuracy charts are left out of the
    /// report when the two-panel figure already shows them; their files are still written).
    public var showInReport: Bool = true

    /// Renders `figure` to PNG and SVG.
    public init(name: String, title: String, caption: String, figure: Figure) {
        self.name = name
        self.title = title
        self.caption = caption
        self.png = figure.pngData()
        self.svg = figure.svgText()
    }

    /// Every picture the record has data for, in report order: the two-panel training summary,
    /// loss per iteration, accuracy per epoch, first-layer filters, confusion matrix.
    /// - Throws: `ReportError.invalidInput` when the confusion matrix or class names are inconsistent.
    public static func all(for record: RunRecord, smoothingWindow: Int? = nil) throws -> [ReportPicture] {
        try record.validate()
        var pictures: [ReportPicture] = []
        let hasAccuracy = record.epochs.contains { $0.trainAccuracy != nil || $0.validationAccuracy != nil }
        if !record.iterations.isEmpty && hasAccuracy {
            pictures.append(
                ReportPicture(
                    name: "training", title: "Loss and accuracy",
                    caption:
                        "Above: mini-batch loss per iteration with its moving average. Below: train and validation accuracy after each epoch.",
                    figure: TrainingPlots.summaryFigure(
                        iterations: record.iterations, epochs: record.epochs, smoothingWindow: smoothingWindow)))
        }
        let hasSummary = !pictures.isEmpty
        if !record.iterations.isEmpty {
            let window = smoothingWindow ?? TrainingPlots.defaultSmoothingWindow(count: record.iterations.count)
            pictures.append(
                ReportPicture(
                    name: "loss", title: "Training loss per iteration",
                    caption:
                        "Light line: loss of each mini-batch. Bold line: trailing moving average over \(window) iterations.",
                    figure: TrainingPlots.lossFigure(record.iterations, smoothingWindow: smoothingWindow)))
            pictures[pictures.count - 1].showInReport = !hasSummary
        }
        if hasAccuracy {
            pictures.append(
                ReportPicture(
                    name: "accuracy", title: "Accuracy per epoch",
                    caption: "Train and validation accuracy measured at the end of each epoch.",
                    figure: TrainingPlots.accuracyFigure(record.epochs)))
            pictures[pictures.count - 1].showInReport = !hasSummary
        }
        if let first = record.iterations.first?.learningRate,
            record.iterations.contains(where: { $0.learningRate != first })
        {
            pictures.append(
                ReportPicture(
                    name: "learning_rate", title: "Learning rate",
                    caption: "The learning rate of every step, as the schedule set it.",
                    figure: TrainingPlots.learningRateFigure(record.iterations)))
        }
        if let filters = record.firstLayerFilters {
            pictures.append(
                ReportPicture(
                    name: "filters", title: "First-layer filters",
                    caption:
                        "Each of the \(filters.count) filters of the first convolution, min-max scaled to 0-255 on its own (\(FilterGrid.channelNote(channels: filters.channels))).",
                    figure: FilterGrid.figure(filters)))
        }
        if !record.confusionMatrix.isEmpty {
            pictures.append(
                ReportPicture(
                    name: "confusion_matrix", title: "Confusion matrix",
                    caption:
                        "Rows: true class; columns: predicted class. Cells show counts, shaded by their share of the row.",
                    figure: try ConfusionMatrixPlot.figure(record.confusionMatrix, classNames: record.classNames)))
        }
        return pictures
    }
}
