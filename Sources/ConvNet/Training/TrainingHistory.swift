// IterationRecord and EpochRecord live in Report/RunRecord.swift: the Solver produces them and
// the run directory stores them.

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
    public var trainAccuracyHistory: [Double] { epochs.compactMap(\.trainAccuracy) }
    /// Validation accuracy per epoch.
    public var validationAccuracyHistory: [Double] { epochs.compactMap(\.validationAccuracy) }
}
