import Foundation

/// One named setting, kept in the order it was given (configuration and hyper-parameters).
public struct KeyValue: Codable, Sendable, Equatable {
    /// The setting's name, e.g. `"learning rate"`.
    public var key: String
    /// Its value as text, e.g. `"0.001"`.
    public var value: String
    /// Creates a pair.
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// One row of the model summary table.
public struct ModelSummaryRow: Codable, Sendable, Equatable {
    /// The layer's name and configuration, e.g. `"Conv2D(3→32, 5×5, pad 2)"`.
    public var layer: String
    /// The output shape for one sample, e.g. `"32×32×32"`.
    public var outputShape: String
    /// The number of trainable parameters.
    public var parameterCount: Int
    /// Creates a row.
    public init(layer: String, outputShape: String, parameterCount: Int) {
        self.layer = layer
        self.outputShape = outputShape
        self.parameterCount = parameterCount
    }
}

/// What happened at one training iteration (one mini-batch update). A line of `metrics.csv`.
public struct IterationRecord: Codable, Sendable, Equatable {
    /// Iteration number, counted from 1 over the whole run.
    public var iteration: Int
    /// The epoch the iteration belongs to, counted from 1.
    public var epoch: Int
    /// The mini-batch loss.
    public var loss: Double
    /// The learning rate used for this update.
    public var learningRate: Double
    /// Creates a record.
    public init(iteration: Int, epoch: Int, loss: Double, learningRate: Double) {
        self.iteration = iteration
        self.epoch = epoch
        self.loss = loss
        self.learningRate = learningRate
    }
}

/// The summary of one epoch. An entry of `history.json`. Accuracies are fractions in 0...1.
public struct EpochRecord: Codable, Sendable, Equatable {
    /// Epoch number, counted from 1.
    public var epoch: Int
    /// Mean training loss over the epoch, if measured.
    public var trainLoss: Double?
    /// Training accuracy (on the whole set or a sample of it), if measured.
    public var trainAccuracy: Double?
    /// Validation loss, if measured.
    public var validationLoss: Double?
    /// Validation accuracy, if measured.
    public var validationAccuracy: Double?
    /// Wall-clock seconds the epoch took.
    public var seconds: Double
    /// Test accuracy after the epoch, when the run watches its test split
    /// (`Solver.testSet`; for time-to-accuracy figures, never for choosing weights).
    public var testAccuracy: Double?
    /// Wall-clock seconds from the start of the run to the end of this epoch's evaluations.
    public var elapsedSeconds: Double?
    /// Creates a record.
    public init(
        epoch: Int, trainLoss: Double? = nil, trainAccuracy: Double? = nil,
        validationLoss: Double? = nil, validationAccuracy: Double? = nil, seconds: Double
    ) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.seconds = seconds
    }
}

/// Final numbers of a run, shown at the top of the report.
public struct FinalMetrics: Codable, Sendable, Equatable {
    /// Loss on the test set, if evaluated.
    public var testLoss: Double?
    /// Accuracy on the test set (0...1), if evaluated.
    public var testAccuracy: Double?
    /// Total wall-clock training time in seconds, if known.
    public var totalSeconds: Double?
    /// Creates final metrics.
    public init(testLoss: Double? = nil, testAccuracy: Double? = nil, totalSeconds: Double? = nil) {
        self.testLoss = testLoss
        self.testAccuracy = testAccuracy
        self.totalSeconds = totalSeconds
    }
}

/// Convolution filters as a flat array in [F][C][kh][kw] order (PyTorch's weight layout).
public struct FilterBank: Codable, Sendable, Equatable {
    /// Number of filters F.
    public var count: Int
    /// Input channels C.
    public var channels: Int
    /// Kernel height kh.
    public var height: Int
    /// Kernel width kw.
    public var width: Int
    /// `count · channels · height · width` values, [F][C][kh][kw] row-major.
    public var values: [Float]

    /// Creates a filter bank, checking that the shape matches the number of values.
    /// - Throws: `ReportError.invalidInput` when a dimension is not positive or
    ///   `values.count != count · channels · height · width`.
    public init(count: Int, channels: Int, height: Int, width: Int, values: [Float]) throws {
        guard count > 0, channels > 0, height > 0, width > 0 else {
            throw ReportError.invalidInput(
                "filter shape must be positive, found [\(count), \(channels), \(height), \(width)]")
        }
        guard values.count == count * channels * height * width else {
            throw ReportError.invalidInput(
                "filter shape [\(count), \(channels), \(height), \(width)] needs \(count * channels * height * width) values, found \(values.count)"
            )
        }
        self.count = count
        self.channels = channels
        self.height = height
        self.width = width
        self.values = values
    }

    /// The value of filter `f`, channel `c`, row `y`, column `x`.
    public subscript(f: Int, c: Int, y: Int, x: Int) -> Float {
        values[((f * channels + c) * height + y) * width + x]
    }
}

/// Everything the report, the pictures and the TensorBoard files are made from: plain values,
/// independent of the layer and solver types. Build one during training, save it with
/// `RunDirectory.write(_:)`, and render it with `RunDirectory.renderArtifacts()`.
public struct RunRecord: Codable, Sendable, Equatable {
    /// Title of the report, e.g. `"ThreeLayerConvNet on CIFAR-10"`.
    public var title: String
    /// When the run started.
    public var startedAt: Date?
    /// Run configuration (data set, model, command line, seed, ...), in display order.
    public var configuration: [KeyValue]
    /// Hyper-parameters (optimizer, learning rate, batch size, epochs, ...), in display order.
    public var hyperParameters: [KeyValue]
    /// The model summary table.
    public var modelSummary: [ModelSummaryRow]
    /// One record per iteration; saved in `metrics.csv`.
    public var iterations: [IterationRecord]
    /// One record per epoch; saved in `history.json`.
    public var epochs: [EpochRecord]
    /// Test-set results and total time.
    public var finalMetrics: FinalMetrics
    /// Class names, indexed by label. May be empty (labels are then shown as numbers).
    public var classNames: [String]
    /// Confusion matrix: `confusionMatrix[true][predicted]` counts, or empty when not computed.
    public var confusionMatrix: [[Int]]
    /// The first convolution layer's weights, if the model has one.
    public var firstLayerFilters: FilterBank?

    /// Creates a record; every part but the title may be filled in later.
    public init(
        title: String, startedAt: Date? = nil, configuration: [KeyValue] = [],
        hyperParameters: [KeyValue] = [], modelSummary: [ModelSummaryRow] = [],
        iterations: [IterationRecord] = [], epochs: [EpochRecord] = [],
        finalMetrics: FinalMetrics = FinalMetrics(), classNames: [String] = [],
        confusionMatrix: [[Int]] = [], firstLayerFilters: FilterBank? = nil
    ) {
        self.title = title
        self.startedAt = startedAt
        self.configuration = configuration
        self.hyperParameters = hyperParameters
        self.modelSummary = modelSummary
        self.iterations = iterations
        self.epochs = epochs
        self.finalMetrics = finalMetrics
        self.classNames = classNames
        self.confusionMatrix = confusionMatrix
        self.firstLayerFilters = firstLayerFilters
    }

    /// The display name of class `index`: its name when known, otherwise the number.
    public func className(_ index: Int) -> String {
        index < classNames.count ? classNames[index] : String(index)
    }

    /// Per-class accuracy (recall) from the confusion matrix: for each true class, the number of
    /// samples, the number predicted correctly, and their ratio (nil for a class with no samples).
    public var perClassAccuracy: [(name: String, samples: Int, correct: Int, accuracy: Double?)] {
        confusionMatrix.enumerated().map { index, row in
            let samples = row.reduce(0, +)
            let correct = index < row.count ? row[index] : 0
            return (className(index), samples, correct, samples > 0 ? Double(correct) / Double(samples) : nil)
        }
    }

    /// Checks that the confusion matrix is square with non-negative counts and that the class
    /// names (when given) match its size.
    /// - Throws: `ReportError.invalidInput` describing the first problem found.
    public func validate() throws {
        let k = confusionMatrix.count
        for (i, row) in confusionMatrix.enumerated() {
            guard row.count == k else {
                throw ReportError.invalidInput(
                    "confusion matrix must be square: row \(i) has \(row.count) entries, expected \(k)")
            }
            guard row.allSatisfy({ $0 >= 0 }) else {
                throw ReportError.invalidInput("confusion matrix row \(i) has a negative count")
            }
        }
        if k > 0 && !classNames.isEmpty && classNames.count != k {
            throw ReportError.invalidInput("\(classNames.count) class names for a \(k)×\(k) confusion matrix")
        }
        if let f = firstLayerFilters, f.values.count != f.count * f.channels * f.height * f.width {
            throw ReportError.invalidInput("filter values do not match their shape")
        }
    }
}
