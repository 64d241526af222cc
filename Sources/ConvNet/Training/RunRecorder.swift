import Foundation

/// Watches a Solver and leaves everything a person needs to see the run: a progress bar (or
/// one plain line per epoch), and, with a run directory, metrics.csv, history.json, run.json,
/// TensorBoard events, the pictures (PNG + SVG) and report.html.
///
/// ```swift
/// let recorder = try RunRecorder(model: model, title: "digits", directory: url)
/// recorder.attach(to: solver)
/// try solver.train()
/// try recorder.finish(testInputs: x, testLabels: y)
/// ```
public final class RunRecorder<Scalar: KernelScalar> {
    /// The record being built (also what is saved).
    public private(set) var record: RunRecord
    /// The run directory, when artifacts are written.
    public let directory: RunDirectory?
    private let model: Model<Scalar>
    private let progress: ProgressBar
    private var events: TensorBoardEventWriter?
    private let started = Date()
    /// Whether the recorder writes `metrics.csv` and `history.json` itself (false when a
    /// `TrainingJob` commits them with each checkpoint, see `CheckpointStore`).
    public var writesHistoryFiles = true

    /// A recorder for one run of `model`.
    ///
    /// - Parameters:
    ///   - model: the model being trained (its summary goes into the record and TensorBoard).
    ///   - title: the run's title, shown in the report.
    ///   - directory: where to write artifacts (created if missing); nil for console only.
    ///   - configuration: the run's settings (data set, model, command line, seed, …), in display order.
    ///   - hyperParameters: optimizer, learning rate, batch size, epochs, …, in display order.
    ///   - classNames: class names, indexed by label (empty: labels are shown as numbers).
    ///   - progress: the console output (default: a bar on a terminal, plain lines otherwise).
    ///   - tensorBoard: whether to write `events.out.tfevents.*` into the directory.
    public init(
        model: Model<Scalar>, title: String, directory: URL?, configuration: [KeyValue] = [],
        hyperParameters: [KeyValue] = [], classNames: [String] = [],
        progress: ProgressBar = .standardOutput(), tensorBoard: Bool = true
    ) throws {
        self.model = model
        self.progress = progress
        let summary = try ModelSummary(model.network, inputShape: model.inputShape)
        record = RunRecord(
            title: title, startedAt: Date(), configuration: configuration, hyperParameters: hyperParameters,
            modelSummary: summary.layers.map {
                ModelSummaryRow(
                    layer: "\($0.index): \($0.layer)", outputShape: describe($0.outputShape),
                    parameterCount: $0.parameters)
            },
            classNames: classNames)
        if let directory {
            do {
                self.directory = try RunDirectory(url: directory, create: true)
                if tensorBoard { events = try TensorBoardEventWriter(directory: directory) }
            } catch let error as ReportError {
                throw ConvNetError.fileSystem(error.description)
            }
        } else {
            self.directory = nil
        }
        writeDescriptions()
    }

    /// The model summary and the run's settings as Markdown tables in TensorBoard's Text tab.
    private func writeDescriptions() {
        guard let events else { return }
        var summary = "| layer | output shape | parameters |\n|---|---|---|\n"
        for row in record.modelSummary { summary += "| \(row.layer) | \(row.outputShape) | \(row.parameterCount) |\n" }
        try? events.addText(tag: "model/summary", text: summary, step: 0)
        var settings = "| setting | value |\n|---|---|\n"
        for row in record.configuration + record.hyperParameters { settings += "| \(row.key) | \(row.value) |\n" }
        try? events.addText(tag: "run/configuration", text: settings, step: 0)
    }

    /// After an epoch: histograms of every parameter and of its last gradient, the first
    /// convolution's filters and the validation confusion matrix as images.
    private func writeEpochPictures(step: Int, solver: Solver<Scalar>) {
        guard let events else { return }
        for (name, parameter) in model.network.namedParameters {
            try? events.addHistogram(
                tag: "weights/\(name)", values: parameter.value.scalars.map(\.doubleValue), step: step)
            try? events.addHistogram(
                tag: "gradients/\(name)", values: parameter.gradient.scalars.map(\.doubleValue), step: step)
        }
        if let filters = firstLayerFilters() {
            try? events.addImage(tag: "filters/first_layer", image: FilterGrid.image(filters).scaled(by: 4), step: step)
        }
        if let validation = solver.lastValidation, model.loss.targetKind == .classLabels {
            let matrix = ConfusionMatrix.counts(scores: validation.scores, labels: validation.targets)
            if let figure = try? ConfusionMatrixPlot.figure(matrix, classNames: record.classNames) {
                try? events.addImage(tag: "confusion_matrix/validation", image: figure.rasterize(), step: step)
            }
        }
    }

    /// The first convolution's filters: the first 4-D weight in state_dict order.
    private func firstLayerFilters() -> FilterBank? {
        guard let w = model.network.namedParameters.first(where: { $0.parameter.value.rank == 4 })?.parameter.value
        else {
            return nil
        }
        return try? FilterBank(
            count: w.shape[0], channels: w.shape[1], height: w.shape[2], width: w.shape[3],
            values: w.scalars.map { Float($0.doubleValue) })
    }

    /// Continues a resumed run's records from its saved history. The TensorBoard events are
    /// written anew from that history (older event files are removed), so that steps a killed
    /// process logged after its last checkpoint do not appear twice.
    public func resume(with history: TrainingHistory) {
        record.iterations = history.iterations
        record.epochs = history.epochs
        guard let events, let directory else { return }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.url.path)) ?? []
        for name in names where name.hasPrefix("events.out.tfevents.") && name != events.fileURL.lastPathComponent {
            try? FileManager.default.removeItem(at: directory.url.appendingPathComponent(name))
        }
        for iteration in history.iterations {
            try? events.addScalars(
                [("loss", iteration.loss), ("learning_rate", iteration.learningRate)], step: iteration.iteration)
        }
        var iterationCount = 0
        for epoch in history.epochs {
            iterationCount =
                history.iterations.lastIndex { $0.epoch == epoch.epoch }.map { history.iterations[$0].iteration }
                ?? iterationCount
            try? events.addScalars(Self.epochScalars(epoch), step: iterationCount)
        }
        try? events.flush()
    }

    /// The per-epoch TensorBoard scalars.
    static func epochScalars(_ epoch: EpochRecord) -> [(tag: String, value: Double)] {
        var scalars: [(tag: String, value: Double)] = []
        if let accuracy = epoch.trainAccuracy { scalars.append(("accuracy/train", accuracy)) }
        if let accuracy = epoch.validationAccuracy { scalars.append(("accuracy/val", accuracy)) }
        if let loss = epoch.validationLoss { scalars.append(("loss/val", loss)) }
        if let accuracy = epoch.testAccuracy { scalars.append(("accuracy/test", accuracy)) }
        return scalars
    }

    /// Hooks the recorder into the solver's callbacks (replacing any set before) and turns the
    /// solver's own epoch lines off.
    public func attach(to solver: Solver<Scalar>) {
        solver.log = { _ in }
        solver.onEpochStart = { [progress] epoch, batches in
            progress.startEpoch(epoch, of: solver.options.epochs, batches: batches)
        }
        solver.onIteration = { [weak self] step in
            guard let self else { return }
            self.progress.update(
                batch: step.batch, batchSize: step.samples, loss: step.record.loss,
                accuracy: Double(step.correct) / Double(max(step.samples, 1)))
            self.record.iterations.append(step.record)
            try? self.events?.addScalars(
                [("loss", step.record.loss), ("learning_rate", step.record.learningRate)], step: step.record.iteration)
        }
        solver.onEpoch = { [weak self, weak solver] epoch in
            guard let self else { return }
            var extra: [String] = []
            if let accuracy = epoch.trainAccuracy { extra.append("train acc " + format(accuracy, 4)) }
            if let accuracy = epoch.validationAccuracy { extra.append("val acc " + format(accuracy, 4)) }
            if let loss = epoch.validationLoss { extra.append("val loss " + format(loss, 4)) }
            if let accuracy = epoch.testAccuracy { extra.append("test acc " + format(accuracy, 4)) }
            if let elapsed = epoch.elapsedSeconds { extra.append("at " + format(elapsed, 1) + " s") }
            self.progress.finishEpoch(extra: extra.joined(separator: "  "))
            self.record.epochs.append(epoch)
            let step = self.record.iterations.last?.iteration ?? 0
            try? self.events?.addScalars(Self.epochScalars(epoch), step: step)
            if let solver { self.writeEpochPictures(step: step, solver: solver) }
            try? self.events?.flush()
            try? self.directory?.write(self.record, includingHistory: self.writesHistoryFiles)
        }
    }

    /// After training: evaluates the test set (when given), fills the confusion matrix, the
    /// first layer's filters and the final metrics, saves everything and renders the pictures
    /// and report. Returns the test evaluation.
    @discardableResult
    public func finish(testInputs: Tensor<Scalar>? = nil, testLabels: Tensor<Scalar>? = nil) throws -> Evaluation<
        Scalar
    >? {
        var evaluation: Evaluation<Scalar>?
        if let testInputs, let testLabels {
            let result = try model.evaluate(inputs: testInputs, targets: testLabels)
            evaluation = result
            record.finalMetrics.testLoss = result.loss
            record.finalMetrics.testAccuracy = result.accuracy
            if model.loss.targetKind == .classLabels {
                record.confusionMatrix = ConfusionMatrix.counts(scores: result.scores, labels: testLabels)
            }
        }
        record.finalMetrics.totalSeconds = Date().timeIntervalSince(started)
        record.firstLayerFilters = firstLayerFilters()
        try events?.close()
        if let directory {
            do {
                try directory.write(record, includingHistory: writesHistoryFiles)
                _ = try directory.renderArtifacts(for: record)
            } catch let error as ReportError {
                throw ConvNetError.fileSystem(error.description)
            }
        }
        return evaluation
    }
}

/// Confusion counts from scores and labels.
public enum ConfusionMatrix {
    /// counts[true][predicted] for scores [N, C] and labels [N].
    public static func counts<Scalar: KernelScalar>(scores: Tensor<Scalar>, labels: Tensor<Scalar>) -> [[Int]] {
        guard scores.rank == 2 else { return [] }
        let (count, classes) = (scores.shape[0], scores.shape[1])
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for n in 0..<min(count, labels.count) {
            let row = scores.scalars[(n * classes)..<((n + 1) * classes)]
            let predicted = row.indices.max { row[$0] < row[$1] }! - n * classes
            let truth = Int(labels.scalars[n].doubleValue)
            if truth >= 0 && truth < classes { matrix[truth][predicted] += 1 }
        }
        return matrix
    }
}
