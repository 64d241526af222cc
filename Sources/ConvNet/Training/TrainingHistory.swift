/// One optimisation step.
public struct IterationRecord: Codable, Sendable, Equatable {
    /// 1-based step count over the whole run.
    public var iteration: Int
    /// 1-based epoch the step belongs to.
    public var epoch: Int
    /// Training loss of the batch (data + regularisation).
    public var loss: Double
    /// Learning rate used for the step.
    public var learningRate: Double
}

/// The summary of one epoch.
public struct EpochRecord: Codable, Sendable, Equatable {
    /// 1-based epoch.
    public var epoch: Int
    /// Mean training loss over the epoch's batches.
    public var trainLoss: Double
    /// Accuracy on (a subsample of) the training data after the epoch.
    public var trainAccuracy: Double
    /// Validation data loss, when there is validation data.
    public var validationLoss: Double?
    /// Validation accuracy, when there is validation data.
    public var validationAccuracy: Double?
    /// Wall-clock seconds of the epoch's training steps.
    public var seconds: Double
}

/// Everything the Solver records (the classic `loss_history`, `train_acc_history`,
/// `val_acc_history`).
public struct TrainingHistory: Codable, Sendable, Equatable {
    /// One record per step.
    public var iterations: [IterationRecord] = []
    /// One record per epoch.
    public var epochs: [EpochRecord] = []
    /// The epoch whose weights were kept (best validation accuracy; the last when there is no
    /// validation data).
    public var bestEpoch: Int = 0
    /// Its validation accuracy.
    public var bestValidationAccuracy: Double?

    public init() {}

    /// Loss per iteration.
    public var lossHistory: [Double] { iterations.map(\.loss) }
    /// Train accuracy per epoch.
    public var trainAccuracyHistory: [Double] { epochs.map(\.trainAccuracy) }
    /// Validation accuracy per epoch.
    public var validationAccuracyHistory: [Double] { epochs.compactMap(\.validationAccuracy) }
}
