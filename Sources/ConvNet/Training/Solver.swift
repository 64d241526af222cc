import Foundation

/// How the Solver trains (the optimizer is given separately). Defaults follow the classic Solver.
public struct SolverOptions: Sendable {
    /// The learning rate is multiplied by this after every epoch, in (0, 1] (the classic
    /// decay; used when `schedule` is nil).
    public var learningRateDecay: Double = 1
    /// The learning rate over the run, from the optimizer's rate at the start (nil: the
    /// per-epoch `learningRateDecay`).
    public var schedule: LearningRateSchedule?
    /// Rescale the gradients so that their global L2 norm is at most this (PyTorch's
    /// `clip_grad_norm_`), before each step; nil: no clipping.
    public var gradientClipNorm: Double?
    /// Stop when the validation metric has not improved for `patience` epochs.
    public var earlyStopping: EarlyStopping?
    /// Random transformations of each training batch (images only).
    public var augmentation: Augmentation?
    /// Samples per step: N for full-batch gradient descent, 1 for stochastic.
    public var batchSize: Int = 100
    /// Passes over the training data.
    public var epochs: Int = 10
    /// Log the loss every this many steps when verbose (0: never).
    public var printEvery: Int = 0
    /// Log one line per epoch.
    public var verbose: Bool = true
    /// Train accuracy is measured on this many training samples (nil: all of them).
    public var trainAccuracySamples: Int? = 1000
    /// Drop the last batch of an epoch when it is smaller than `batchSize`.
    public var dropLast: Bool = false
    /// Seeds the shuffling.
    public var seed: UInt64 = 0
    /// Batch size for evaluation passes.
    public var evaluationBatchSize: Int = 256

    public init() {}

    /// Throws on values no run could use.
    public func validate() throws {
        guard batchSize > 0 else { throw ConvNetError.invalidArgument("batch size must be > 0, found \(batchSize)") }
        guard epochs >= 0 else { throw ConvNetError.invalidArgument("epochs must be ≥ 0, found \(epochs)") }
        guard learningRateDecay > 0, learningRateDecay <= 1 else {
            throw ConvNetError.invalidArgument("learning-rate decay must be in (0, 1], found \(learningRateDecay)")
        }
        guard printEvery >= 0 else {
            throw ConvNetError.invalidArgument("print-every must be ≥ 0, found \(printEvery)")
        }
        if let samples = trainAccuracySamples, samples <= 0 {
            throw ConvNetError.invalidArgument("train accuracy samples must be > 0, found \(samples)")
        }
        guard evaluationBatchSize > 0 else {
            throw ConvNetError.invalidArgument("evaluation batch size must be > 0, found \(evaluationBatchSize)")
        }
        try schedule?.validate()
        if let gradientClipNorm, !(gradientClipNorm > 0 && gradientClipNorm.isFinite) {
            throw ConvNetError.invalidArgument("gradient clipping norm must be > 0, found \(gradientClipNorm)")
        }
        if let earlyStopping, earlyStopping.patience < 1 {
            throw ConvNetError.invalidArgument(
                "early-stopping patience must be ≥ 1 epoch, found \(earlyStopping.patience)")
        }
    }

    /// The schedule in force.
    public var effectiveSchedule: LearningRateSchedule { schedule ?? .perEpochDecay(learningRateDecay) }
}

/// When to stop before the last epoch: after `patience` epochs in which the validation metric
/// did not improve on its best by more than `minimumDelta` (Keras's and PyTorch Lightning's
/// `EarlyStopping`). The best weights are restored as at the end of any run.
public struct EarlyStopping: Codable, Sendable, Equatable {
    /// What is watched.
    public enum Metric: String, Codable, Sendable, CaseIterable {
        /// Validation accuracy (higher is better).
        case validationAccuracy = "val_acc"
        /// Validation loss (lower is better).
        case validationLoss = "val_loss"
    }

    public var metric: Metric
    public var patience: Int
    public var minimumDelta: Double

    public init(metric: Metric = .validationAccuracy, patience: Int, minimumDelta: Double = 0) {
        self.metric = metric
        self.patience = patience
        self.minimumDelta = minimumDelta
    }

    /// Whether training should stop after the epochs recorded in `history`: the epochs since
    /// the best one number `patience` or more. Derived from the history alone, so a resumed
    /// run decides as an uninterrupted one.
    public func shouldStop(_ history: TrainingHistory) -> Bool {
        let values: [Double] = history.epochs.map {
            (metric == .validationAccuracy ? $0.validationAccuracy.map { $0 } : $0.validationLoss.map { -$0 })
                ?? -.infinity
        }
        guard let first = values.first else { return false }
        var best = first
        var bestIndex = 0
        for (index, value) in values.enumerated().dropFirst() where value > best + minimumDelta {
            best = value
            bestIndex = index
        }
        return values.count - 1 - bestIndex >= patience
    }
}

/// Trains a `Model` with mini-batch gradient descent (the classic Solver).
///
/// Each epoch visits every training sample exactly once in a seeded shuffled order, in
/// batches of `batchSize` (the last one may be smaller unless `dropLast`). Full-batch,
/// mini-batch and stochastic gradient descent are this one loop with batchSize = N, B or 1.
/// After each epoch it measures train accuracy (on a subsample), validation loss and accuracy
/// and the epoch's time, keeps the weights with the best validation accuracy, and decays the
/// learning rate. `train()` restores the best weights at the end. Training steps run in
/// training mode, evaluations in inference mode.
///
/// ```swift
/// let solver = try Solver(model: model, optimizer: try Adam(learningRate: 2e-3), trainInputs: x, trainTargets: y)
/// // or by name, as the CLI does: UpdateRule(named: "adam").makeOptimizer(configuration: ["learning_rate": 2e-3])
/// ```
public final class Solver<Scalar: KernelScalar> {
    /// What is trained.
    public let model: Model<Scalar>
    /// The options in force.
    public let options: SolverOptions
    /// The optimizer (any `Optimizer`, a custom one too).
    public let optimizer: any Optimizer<Scalar>
    /// Records so far.
    public private(set) var history = TrainingHistory()
    /// Where verbose lines go (stdout by default).
    public var log: (String) -> Void = { print($0) }
    /// Called before every epoch with (epoch, batches in it), for progress bars.
    public var onEpochStart: ((Int, Int) -> Void)?
    /// Called after every step, for progress bars and metric logs.
    public var onIteration: ((StepProgress) -> Void)?
    /// Called after every epoch.
    public var onEpoch: ((EpochRecord) -> Void)?
    /// A labelled set scored after every epoch into `EpochRecord.testAccuracy` (for
    /// time-to-accuracy measurements; it never influences training or the weights kept).
    public var testSet: (inputs: Tensor<Scalar>, targets: Tensor<Scalar>)?
    /// Checked after every step: once it is requested (by a signal handler, another thread or
    /// a hook), `train` returns at the next step boundary, leaving `interruptedEpoch` set so
    /// that the run can be saved and continued bit for bit.
    public var stopRequest: StopRequest?
    /// Where the epoch in progress stopped when `stopRequest` interrupted it (nil between
    /// epochs); a restored state with one continues from that step.
    public private(set) var interruptedEpoch: InterruptedEpoch?
    /// The validation scores [N, C] of the last epoch with their targets (for per-epoch
    /// confusion matrices); nil without validation data.
    public private(set) var lastValidation: (scores: Tensor<Scalar>, targets: Tensor<Scalar>)?

    private let trainInputs: Tensor<Scalar>
    private let trainTargets: Tensor<Scalar>
    private let validationInputs: Tensor<Scalar>?
    private let validationTargets: Tensor<Scalar>?
    private var random: SeededRandom
    /// Epochs finished so far (a resumed run starts after them).
    public private(set) var completedEpochs = 0
    /// The parameters and buffers of the best epoch so far.
    public private(set) var bestWeights: ModelSnapshot<Scalar>?
    private var bestScore: Double?
    /// The optimizer's learning rate when the run started: what the schedule scales.
    public let baseLearningRate: Double
    /// Applies `options.augmentation` to each training batch (its stream is saved with the run).
    public let augmenter: BatchAugmenter<Scalar>?
    /// Whether early stopping ended the run before its last epoch.
    public private(set) var stoppedEarly = false
    /// Mini-batch storage reused from step to step (alternating, so the buffer written is never
    /// the one the first layer still holds): gathering a batch allocates nothing.
    private var batchInputs = TensorPair<Scalar>()
    private var batchTargets = TensorPair<Scalar>()
    /// The ranks this Solver trains with, data-parallel (`DataParallel`: rank 0's weights to
    /// every rank at the start, each rank its share of every batch, gradients summed in buckets
    /// during the backward pass). `options.batchSize` is the global batch. Every rank runs the
    /// same Solver; only rank 0 evaluates (the figures are sent to the others). Default: this
    /// process alone.
    public var communicator: any Communicator = SingleProcess() {
        didSet { dataParallel = nil }
    }
    /// The gradient bucket size of data-parallel training, in bytes.
    public var bucketBytes = DataParallel<Scalar>.defaultBucketBytes {
        didSet { dataParallel = nil }
    }
    private var dataParallel: DataParallel<Scalar>?

    /// The data-parallel engine when training with other ranks (nil alone).
    public var parallel: DataParallel<Scalar>? {
        guard communicator.size > 1 else { return nil }
        if let dataParallel { return dataParallel }
        let made = DataParallel(model: model, communicator: communicator, bucketBytes: bucketBytes)
        dataParallel = made
        return made
    }

    /// Validates data (shapes, label counts and ranges, finiteness) and options once.
    public init(
        model: Model<Scalar>, optimizer: any Optimizer<Scalar>, trainInputs: Tensor<Scalar>,
        trainTargets: Tensor<Scalar>,
        validationInputs: Tensor<Scalar>? = nil, validationTargets: Tensor<Scalar>? = nil,
        options: SolverOptions = SolverOptions()
    ) throws {
        try options.validate()
        try model.validate(inputs: trainInputs, name: "training input")
        try Solver.validate(targets: trainTargets, count: trainInputs.shape[0], model: model, name: "training")
        guard trainInputs.shape[0] > 0 else { throw ConvNetError.invalidArgument("the training set is empty") }
        if (validationInputs == nil) != (validationTargets == nil) {
            throw ConvNetError.invalidArgument("give validation inputs and targets together")
        }
        if let validationInputs, let validationTargets {
            try model.validate(inputs: validationInputs, name: "validation input")
            try Solver.validate(
                targets: validationTargets, count: validationInputs.shape[0], model: model, name: "validation")
        }
        self.model = model
        self.options = options
        self.optimizer = optimizer
        self.baseLearningRate = optimizer.learningRate
        if let augmentation = options.augmentation, !augmentation.isIdentity {
            guard model.inputShape.count == 3 else {
                throw ConvNetError.invalidArgument(
                    "augmentation (\(augmentation)) needs image samples [C, H, W]; the model takes \(describe(model.inputShape))"
                )
            }
            augmenter = BatchAugmenter(augmentation, seed: options.seed ^ 0x6175_676D_656E_7421)
        } else {
            augmenter = nil
        }
        self.trainInputs = trainInputs
        self.trainTargets = trainTargets
        self.validationInputs = validationInputs
        self.validationTargets = validationTargets
        self.random = SeededRandom(seed: options.seed)
    }

    private static func validate(targets: Tensor<Scalar>, count: Int, model: Model<Scalar>, name: String) throws {
        guard targets.shape.first == count else {
            throw ConvNetError.invalidLabels(
                "\(name) set has \(count) samples but \(targets.shape.first ?? 0) targets (shape \(describe(targets.shape)))"
            )
        }
        try targets.checkFinite("\(name) targets")
        // A zero-score pass checks label ranges and target shapes through the loss itself.
        let probe = Tensor<Scalar>(repeating: 0.5, shape: [count] + model.outputShape)
        _ = try model.loss.evaluate(scores: probe, targets: targets)
    }

    /// The batches of one epoch: a seeded permutation cut into `epochBatchCount` runs of
    /// `batchSize` (the last one shorter when the count does not divide).
    public func epochBatches() -> [ArraySlice<Int>] {
        let count = trainInputs.shape[0]
        let order = random.permutation(count)
        let size = options.batchSize
        return (0..<epochBatchCount).map { index in order[(index * size)..<min((index + 1) * size, count)] }
    }

    /// Batches per epoch: every whole batch of the training split, and the partial last one
    /// unless `dropLast` drops it (never the only one).
    var epochBatchCount: Int {
        let count = trainInputs.shape[0]
        let size = options.batchSize
        return options.dropLast ? max(1, count / size) : (count + size - 1) / size
    }

    /// Runs the remaining epochs up to `options.epochs` (or stops after epoch `stopAfterEpoch`,
    /// to be resumed later), then, once all epochs are done, restores the best weights.
    /// Returns the history.
    @discardableResult
    public func train(stopAfterEpoch: Int? = nil) throws -> TrainingHistory {
        let lastEpoch = min(options.epochs, stopAfterEpoch ?? options.epochs)
        var epoch = completedEpochs + 1
        stoppedEarly = options.earlyStopping?.shouldStop(history) ?? false
        stopRequested = false
        try parallel?.synchronize()  // rank 0's weights and buffers on every rank
        while try epoch <= lastEpoch && !stoppedEarly && !shouldStopBeforeEpoch() {
            guard try trainEpoch(epoch) else { break }  // interrupted between two steps
            stoppedEarly = options.earlyStopping?.shouldStop(history) ?? false
            epoch += 1
        }
        if isFinished, let bestWeights {
            try model.restore(bestWeights)
        }
        return history
    }

    /// Whether a stop was asked for (on any rank, when data-parallel: all ranks then agree).
    private func shouldStopBeforeEpoch() throws -> Bool {
        let asked = stopRequested || (stopRequest?.isRequested ?? false)
        guard let parallel else { return asked }
        var flag = [asked ? 1.0 : 0]
        try parallel.communicator.sum(&flag)
        return flag[0] > 0
    }

    /// Set by `requestStop()`: `train` returns after the current epoch.
    public private(set) var stopRequested = false

    /// Asks `train` to return after the epoch in progress (e.g. from an `onEpoch` hook whose
    /// checkpoint could not be saved). The run is not finished; it can be continued.
    public func requestStop() { stopRequested = true }

    /// Whether the run is over: every epoch done, or stopped early.
    public var isFinished: Bool { completedEpochs >= options.epochs || stoppedEarly }

    /// Rescales every gradient by min(1, maxNorm / (‖g‖ + 1e−6)), ‖g‖ the L2 norm over all
    /// parameters together (PyTorch's `clip_grad_norm_`); returns ‖g‖.
    @discardableResult
    public static func clipGradients(_ parameters: [Parameter<Scalar>], maxNorm: Double) -> Double {
        var squares = 0.0
        for index in parameters.indices {
            squares += parameters[index].gradient.withUnsafeBufferPointer {
                Scalar.sumOfSquares($0.baseAddress!, count: $0.count)
            }
        }
        let norm = squares.squareRoot()
        let factor = maxNorm / (norm + 1e-6)
        if factor < 1 {
            for index in parameters.indices {
                parameters[index].gradient.withUnsafeMutableBufferPointer {
                    Scalar.scale($0.baseAddress!, by: Scalar(factor), count: $0.count)
                }
            }
        }
        return norm
    }

    /// Trains one epoch (or the rest of an interrupted one); false when `stopRequest`
    /// interrupted it between two steps.
    private func trainEpoch(_ epoch: Int) throws -> Bool {
        let started = Date()
        model.mode = .training
        let resumed = interruptedEpoch.flatMap { $0.epoch == epoch ? $0 : nil }
        interruptedEpoch = nil
        if let resumed { random = resumed.shuffleState }
        let shuffleState = random
        let batches = epochBatches()
        let firstBatch = min(resumed?.completedBatches ?? 0, batches.count)
        let secondsBefore = resumed?.seconds ?? 0
        onEpochStart?(epoch, batches.count)
        var lossSum = resumed?.lossSum ?? 0.0
        history.iterations.reserveCapacity(history.iterations.count + batches.count - firstBatch)
        let schedule = options.effectiveSchedule
        let parallel = self.parallel
        for (batchIndex, indices) in batches.enumerated() where batchIndex >= firstBatch {
            let shard = parallel?.shard(of: indices) ?? indices
            var inputs = trainInputs.gathering(samples: shard, into: &batchInputs)
            if let augmenter, !shard.isEmpty { inputs = try augmenter.apply(inputs) }
            let targets = trainTargets.gathering(samples: shard, into: &batchTargets)
            optimizer.learningRate = schedule.rate(
                base: baseLearningRate, iteration: history.iterations.count, epoch: epoch - 1, epochs: options.epochs,
                iterationsPerEpoch: batches.count)
            let loss: Double
            let correct: Int
            var stop = false
            if let parallel {
                (loss, correct, stop) = try parallel.lossAndGradients(
                    inputs: shard.isEmpty ? nil : inputs, targets: shard.isEmpty ? nil : targets,
                    share: Double(shard.count) / Double(indices.count), stop: stopRequest?.isRequested ?? false)
            } else {
                loss = try model.lossAndGradients(inputs: inputs, targets: targets)
                correct = model.lastCorrectCount
            }
            if let maxNorm = options.gradientClipNorm { Solver.clipGradients(model.parameters, maxNorm: maxNorm) }
            guard loss.isFinite else {
                throw ConvNetError.diverged(
                    "loss is \(loss) at iteration \(history.iterations.count + 1) (epoch \(epoch)); "
                        + "try a smaller learning rate")
            }
            let record = IterationRecord(
                iteration: history.iterations.count + 1, epoch: epoch, loss: loss,
                learningRate: optimizer.learningRate)
            try optimizer.update(model.parameters)
            history.iterations.append(record)
            lossSum += loss
            onIteration?(
                StepProgress(
                    record: record, batch: batchIndex + 1, batches: batches.count, samples: indices.count,
                    correct: correct))
            if options.verbose && options.printEvery > 0 && record.iteration % options.printEvery == 0 {
                log("(iteration \(record.iteration)) loss \(format(loss, 6))")
            }
            FaultInjection.point("step")
            if parallel == nil, let stopRequest, stopRequest.isRequested { stop = true }
            if batchIndex + 1 < batches.count, stop {
                interruptedEpoch = InterruptedEpoch(
                    epoch: epoch, completedBatches: batchIndex + 1, batches: batches.count, shuffleState: shuffleState,
                    lossSum: lossSum, seconds: secondsBefore + Date().timeIntervalSince(started))
                return false
            }
        }
        try checkFiniteState(epoch: epoch)
        let seconds = secondsBefore + Date().timeIntervalSince(started)
        // Data-parallel: every rank takes rank 0's weights and BatchNorm running statistics;
        // rank 0 alone evaluates and sends the figures, so that every rank decides alike.
        try parallel?.synchronize()
        let evaluates = parallel?.communicator.isWriter ?? true
        let trainAccuracy = evaluates ? try subsampleAccuracy() : nil
        var record = EpochRecord(
            epoch: epoch, trainLoss: lossSum / Double(max(batches.count, 1)), trainAccuracy: trainAccuracy,
            validationLoss: nil, validationAccuracy: nil, seconds: seconds)
        if evaluates, let validationInputs, let validationTargets {
            let evaluation = try model.evaluate(
                inputs: validationInputs, targets: validationTargets, batchSize: options.evaluationBatchSize)
            record.validationLoss = evaluation.loss
            record.validationAccuracy = evaluation.accuracy
            lastValidation = (evaluation.scores, validationTargets)
        }
        if evaluates, let testSet {
            record.testAccuracy = try model.evaluate(
                inputs: testSet.inputs, targets: testSet.targets, batchSize: options.evaluationBatchSize
            ).accuracy
        }
        if let parallel {
            var figures = [record.trainAccuracy, record.validationLoss, record.validationAccuracy, record.testAccuracy]
                .map { $0 ?? .nan }
            try parallel.communicator.broadcast(&figures, root: 0)
            (record.trainAccuracy, record.validationLoss, record.validationAccuracy, record.testAccuracy) = (
                figures[0].isNaN ? nil : figures[0], figures[1].isNaN ? nil : figures[1],
                figures[2].isNaN ? nil : figures[2], figures[3].isNaN ? nil : figures[3]
            )
        }
        record.elapsedSeconds =
            (history.epochs.last?.elapsedSeconds ?? 0) + secondsBefore + Date().timeIntervalSince(started)
        history.epochs.append(record)
        let score = record.validationAccuracy ?? Double(epoch)
        if bestScore.map({ score > $0 }) ?? true {
            bestScore = score
            bestWeights = model.snapshot()
            history.bestEpoch = epoch
            history.bestValidationAccuracy = record.validationAccuracy
        }
        completedEpochs = epoch
        if options.verbose { log(Solver.epochSummary(record, of: options.epochs)) }
        onEpoch?(record)
        return true
    }

    /// Throws `diverged` when a weight or buffer is no longer finite (an update overflowed),
    /// so that such a model is never recorded as best or saved.
    func checkFiniteState(epoch: Int) throws {
        for (name, parameter) in model.network.namedParameters where parameter.value.firstNonFiniteIndex != nil {
            throw ConvNetError.diverged(
                "the weights \(name) are no longer finite after iteration \(history.iterations.count) (epoch \(epoch))")
        }
        for (name, buffer) in model.network.namedBuffers
        where !buffer.isInteger && buffer.values.firstNonFiniteIndex != nil {
            throw ConvNetError.diverged(
                "the buffer \(name) is no longer finite after iteration \(history.iterations.count) (epoch \(epoch))")
        }
    }

    /// Everything besides the weights and the optimizer's buffers that a stopped run needs to
    /// continue exactly where it stopped.
    public var state: SolverState {
        SolverState(
            completedEpochs: completedEpochs, random: random, history: history,
            learningRate: optimizer.learningRate, bestScore: bestScore, interruptedEpoch: interruptedEpoch)
    }

    /// Continues from `state` (and the best weights so far, when known); the model's weights
    /// and the optimizer's buffers are restored separately.
    public func restore(_ state: SolverState, bestWeights: ModelSnapshot<Scalar>? = nil) throws {
        guard state.completedEpochs >= 0, state.completedEpochs <= options.epochs else {
            throw ConvNetError.invalidArgument(
                "the saved run completed \(state.completedEpochs) epochs; this run has \(options.epochs)")
        }
        if let interrupted = state.interruptedEpoch {
            guard interrupted.epoch == state.completedEpochs + 1, interrupted.completedBatches >= 1,
                interrupted.completedBatches < interrupted.batches, interrupted.seconds.isFinite,
                interrupted.lossSum.isFinite
            else {
                throw ConvNetError.invalidData(
                    "the saved interrupted epoch (\(interrupted.epoch), batch \(interrupted.completedBatches) of "
                        + "\(interrupted.batches)) does not follow the \(state.completedEpochs) completed epochs")
            }
            let batches = epochBatchCount
            guard batches == interrupted.batches else {
                throw ConvNetError.invalidData(
                    "the saved interrupted epoch had \(interrupted.batches) batches; this run's epochs have \(batches)")
            }
        }
        if let bestWeights {
            guard bestWeights.parameters.map(\.shape) == model.parameters.map(\.value.shape),
                bestWeights.buffers.map(\.shape) == model.buffers.map(\.values.shape)
            else {
                throw ConvNetError.shapeMismatch("the saved best weights do not fit this model")
            }
        }
        completedEpochs = state.completedEpochs
        random = state.random
        history = state.history
        optimizer.learningRate = state.learningRate
        bestScore = state.bestScore
        interruptedEpoch = state.interruptedEpoch
        self.bestWeights = bestWeights
    }

    /// The classic one-line epoch summary.
    public static func epochSummary(_ record: EpochRecord, of epochs: Int) -> String {
        var line = "epoch \(record.epoch)/\(epochs)  loss \(format(record.trainLoss ?? .nan, 4))"
        if let accuracy = record.trainAccuracy { line += "  train acc \(format(accuracy, 4))" }
        if let accuracy = record.validationAccuracy { line += "  val acc \(format(accuracy, 4))" }
        return line + "  \(format(record.seconds, 2)) s"
    }

    private func subsampleAccuracy() throws -> Double {
        var inputs = trainInputs
        var targets = trainTargets
        let count = trainInputs.shape[0]
        if let limit = options.trainAccuracySamples, limit < count {
            var sampler = SeededRandom(seed: options.seed &+ UInt64(history.epochs.count) &+ 1)
            let indices = Array(sampler.permutation(count).prefix(limit))
            inputs = trainInputs.gathering(samples: indices)
            targets = trainTargets.gathering(samples: indices)
        }
        return try model.evaluate(inputs: inputs, targets: targets, batchSize: options.evaluationBatchSize).accuracy
    }

    /// Loss and accuracy on any dataset, in batches.
    public func evaluate(_ inputs: Tensor<Scalar>, _ targets: Tensor<Scalar>) throws -> (loss: Double, accuracy: Double)
    {
        try model.validate(inputs: inputs)
        let evaluation = try model.evaluate(inputs: inputs, targets: targets, batchSize: options.evaluationBatchSize)
        return (evaluation.loss, evaluation.accuracy)
    }
}

/// The Solver's progress, saved beside a checkpoint so that `--resume` continues a stopped run
/// bit for bit.
public struct SolverState: Codable, Sendable, Equatable {
    /// Epochs finished.
    public var completedEpochs: Int
    /// The shuffling generator, as it stands after those epochs.
    public var random: SeededRandom
    /// Records so far.
    public var history: TrainingHistory
    /// The (decayed) learning rate for the next epoch.
    public var learningRate: Double
    /// The best validation accuracy so far (or the best epoch number without validation data).
    public var bestScore: Double?
    /// Where the epoch in progress stopped, when training was interrupted between two steps.
    public var interruptedEpoch: InterruptedEpoch? = nil
}

/// An epoch stopped between two steps (Ctrl-C, SIGTERM): enough to continue it exactly. The
/// epoch's batches are drawn again from `shuffleState` (the shuffling generator as it stood
/// before the epoch's permutation) and training continues after `completedBatches` of them.
public struct InterruptedEpoch: Codable, Sendable, Equatable {
    /// The epoch in progress (1-based).
    public var epoch: Int
    /// Batches of it done.
    public var completedBatches: Int
    /// Batches in the epoch.
    public var batches: Int
    /// The shuffling generator before the epoch's permutation was drawn.
    public var shuffleState: SeededRandom
    /// The sum of the losses of the batches done (the epoch's mean train loss continues from it).
    public var lossSum: Double
    /// Seconds spent on the epoch so far.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case epoch
        case completedBatches = "completed_batches"
        case batches
        case shuffleState = "shuffle_state"
        case lossSum = "loss_sum"
        case seconds
    }
}

/// What `Solver.onIteration` reports after each step.
public struct StepProgress: Sendable {
    /// The step's record (iteration, epoch, loss, learning rate).
    public var record: IterationRecord
    /// 1-based batch index within the epoch.
    public var batch: Int
    /// Batches in the epoch.
    public var batches: Int
    /// Samples in this batch.
    public var samples: Int
    /// Samples of this batch classified correctly (before the update).
    public var correct: Int
}

/// A number with `digits` decimals.
func format(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}
