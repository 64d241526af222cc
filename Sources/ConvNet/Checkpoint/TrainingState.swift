import Foundation

/// Everything besides the weights that resuming a run needs, saved beside the checkpoint as
/// `NAME.state.safetensors` (see `TrainingState.url(besides:)`): the optimizer's buffers as
/// tensors named `optimizer.KEY.INDEX` (INDEX = the parameter's position in state_dict order),
/// and in the metadata (`training_state` key, JSON) the update rule, its configuration, the
/// current learning rate, epoch, iteration, the shuffling generator's state and the history.
public struct TrainingState: Codable, Sendable, Equatable {
    /// The update rule's name (`adam`, `sgd_momentum`, …).
    public var updateRule: String
    /// Its configuration (`learning_rate`, `beta1`, …).
    public var optimizerConfiguration: [String: Double]
    /// The learning rate in force (after decays).
    public var learningRate: Double
    /// Epochs completed.
    public var epoch: Int
    /// Iterations (optimizer steps) completed.
    public var iteration: Int
    /// The Solver's shuffling generator.
    public var random: SeededRandom
    /// Loss and accuracy records so far.
    public var history: TrainingHistory
    /// The optimizer's buffers by state name (`Optimizer.state`), as Double.
    public var optimizerState: [String: [[Double]]]
    /// The best validation accuracy so far (the Solver's choice of best epoch), if any.
    public var bestScore: Double?
    /// The state of every random stream of the network (Dropout's masks) by its name.
    public var randomStreams: [String: SeededRandom] = [:]
    /// Where the epoch in progress stopped, for a run interrupted between two steps (nil for
    /// a state saved at an epoch's end).
    public var interruptedEpoch: InterruptedEpoch?

    public init(
        updateRule: String, optimizerConfiguration: [String: Double], learningRate: Double, epoch: Int, iteration: Int,
        random: SeededRandom, history: TrainingHistory, optimizerState: [String: [[Double]]]
    ) {
        self.updateRule = updateRule
        self.optimizerConfiguration = optimizerConfiguration
        self.learningRate = learningRate
        self.epoch = epoch
        self.iteration = iteration
        self.random = random
        self.history = history
        self.optimizerState = optimizerState
    }

    private enum CodingKeys: String, CodingKey {
        case updateRule = "update_rule"
        case optimizerConfiguration = "optimizer_configuration"
        case learningRate = "learning_rate"
        case epoch, iteration, random, history
        case bestScore = "best_score"
        case randomStreams = "random_streams"
        case interruptedEpoch = "interrupted_epoch"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        updateRule = try c.decode(String.self, forKey: .updateRule)
        optimizerConfiguration = try c.decode([String: Double].self, forKey: .optimizerConfiguration)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        epoch = try c.decode(Int.self, forKey: .epoch)
        iteration = try c.decode(Int.self, forKey: .iteration)
        random = try c.decode(SeededRandom.self, forKey: .random)
        history = try c.decode(TrainingHistory.self, forKey: .history)
        bestScore = try c.decodeIfPresent(Double.self, forKey: .bestScore)
        randomStreams = try c.decodeIfPresent([String: SeededRandom].self, forKey: .randomStreams) ?? [:]
        interruptedEpoch = try c.decodeIfPresent(InterruptedEpoch.self, forKey: .interruptedEpoch)
        optimizerState = [:]
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(updateRule, forKey: .updateRule)
        try c.encode(optimizerConfiguration, forKey: .optimizerConfiguration)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(iteration, forKey: .iteration)
        try c.encode(random, forKey: .random)
        try c.encode(history, forKey: .history)
        try c.encodeIfPresent(bestScore, forKey: .bestScore)
        if !randomStreams.isEmpty { try c.encode(randomStreams, forKey: .randomStreams) }
        try c.encodeIfPresent(interruptedEpoch, forKey: .interruptedEpoch)
    }

    /// Everything a Solver needs to continue later, captured after an epoch (or between two
    /// steps of an interrupted one). `updateRule` and
    /// `optimizerConfiguration` name the optimizer as the factory made it (`UpdateRule`), or
    /// describe a custom one.
    public init<Scalar: KernelScalar>(
        solver: Solver<Scalar>, updateRule: String, optimizerConfiguration: [String: Double] = [:]
    ) {
        let progress = solver.state
        self.init(
            updateRule: updateRule, optimizerConfiguration: optimizerConfiguration,
            learningRate: progress.learningRate, epoch: progress.completedEpochs,
            iteration: progress.history.iterations.count, random: progress.random, history: progress.history,
            optimizerState: TrainingState.capture(solver.optimizer))
        bestScore = progress.bestScore
        interruptedEpoch = progress.interruptedEpoch
        randomStreams = Dictionary(
            TrainingState.streams(of: solver).map { ($0.name, $0.stream.generator) },
            uniquingKeysWith: { first, _ in first })
    }

    /// Puts this state back into a Solver built with the same options for the same model
    /// (whose weights were restored separately), with the best weights so far. `updateRule`
    /// names the solver's optimizer, which must be the saved one.
    public func restore<Scalar: KernelScalar>(
        into solver: Solver<Scalar>, updateRule: String, bestWeights: ModelSnapshot<Scalar>?
    ) throws {
        guard updateRule == self.updateRule else {
            throw ConvNetError.invalidArgument(
                "the saved run used update rule '\(self.updateRule)', this one '\(updateRule)'")
        }
        try restore(into: solver.optimizer)
        try solver.restore(
            SolverState(
                completedEpochs: epoch, random: random, history: history, learningRate: learningRate,
                bestScore: bestScore,
                interruptedEpoch: interruptedEpoch),
            bestWeights: bestWeights)
        for (name, stream) in TrainingState.streams(of: solver) {
            guard let saved = randomStreams[name] else {
                throw ConvNetError.invalidData("the saved training state has no random stream '\(name)' for this model")
            }
            guard saved.state.count == 4 else {
                throw ConvNetError.invalidData("the saved random stream '\(name)' is malformed")
            }
            stream.generator = saved
        }
    }

    /// The random streams a run draws from: the network's (Dropout) and the augmenter's.
    static func streams<Scalar: KernelScalar>(of solver: Solver<Scalar>) -> [(name: String, stream: RandomStream)] {
        solver.model.network.namedRandomStreams
            + (solver.augmenter.map { [(name: "solver.augmentation", stream: $0.stream)] } ?? [])
    }

    /// Captures an optimizer's buffers (kinds not yet created, such as a velocity before the
    /// first step, are left out).
    public static func capture<Scalar: KernelScalar>(_ optimizer: any Optimizer<Scalar>) -> [String: [[Double]]] {
        optimizer.state.filter { !$0.value.isEmpty }.mapValues { buffers in buffers.map { $0.map(\.doubleValue) } }
    }

    /// Puts the saved buffers and learning rate back into `optimizer` (made from the same
    /// update rule and configuration, for the same parameters).
    public func restore<Scalar: KernelScalar>(into optimizer: any Optimizer<Scalar>) throws {
        try optimizer.restore(state: optimizerState.mapValues { buffers in buffers.map { $0.map { Scalar($0) } } })
        optimizer.learningRate = learningRate
    }

    /// `model.safetensors` → `model.state.safetensors`.
    public static func url(besides checkpoint: URL) -> URL {
        let base = checkpoint.pathExtension == "safetensors" ? checkpoint.deletingPathExtension() : checkpoint
        return base.appendingPathExtension("state.safetensors")
    }

    /// Writes the state file atomically; buffers as F32, or F64 with `float64`.
    public func write(to url: URL, float64: Bool = false) throws {
        try file(float64: float64).write(to: url)
    }

    /// The state file `write(to:)` writes, in memory.
    public func file(float64: Bool = false) throws -> SafeTensorsFile {
        var file = SafeTensorsFile()
        for key in optimizerState.keys.sorted() {
            for (index, buffer) in optimizerState[key]!.enumerated() {
                let tensor =
                    float64
                    ? try SafeTensor(shape: [buffer.count], float64: buffer)
                    : try SafeTensor(shape: [buffer.count], float32: buffer.map { Float($0) })
                try file.set("optimizer.\(key).\(index)", tensor)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        file.metadata = [
            "format": "convnet-training-state", "format_version": "1",
            "training_state": String(decoding: try encoder.encode(self), as: UTF8.self),
        ]
        return file
    }

    /// Reads a state file written by `write(to:)`.
    public init(contentsOf url: URL) throws {
        try self.init(file: try SafeTensorsFile(contentsOf: url), name: url.lastPathComponent)
    }

    /// Reads a state file already in memory (`name` for messages).
    public init(file: SafeTensorsFile, name: String) throws {
        guard let json = file.metadata["training_state"] else {
            throw ConvNetError.invalidData("\(name): not a ConvNet training-state file (no 'training_state' metadata)")
        }
        do {
            self = try JSONDecoder().decode(TrainingState.self, from: Data(json.utf8))
        } catch {
            throw ConvNetError.invalidData("\(name): training_state metadata is not valid: \(reason(error))")
        }
        var state: [String: [(Int, [Double])]] = [:]
        for (tensorName, tensor) in file.tensors {
            let parts = tensorName.split(separator: ".")
            guard parts.count == 3, parts[0] == "optimizer", let index = Int(parts[2]), index >= 0 else {
                throw ConvNetError.invalidData("\(name): unexpected tensor '\(tensorName)'")
            }
            state[String(parts[1]), default: []].append(
                (index, try tensor.doubleValues(name: "\(name): \(tensorName)")))
        }
        optimizerState = [:]
        for (key, entries) in state {
            let sorted = entries.sorted { $0.0 < $1.0 }
            guard sorted.map(\.0) == Array(0..<sorted.count) else {
                throw ConvNetError.invalidData("\(name): optimizer.\(key) buffers are not numbered 0..<\(sorted.count)")
            }
            optimizerState[key] = sorted.map(\.1)
        }
    }
}
