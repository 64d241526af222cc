import Foundation

/// Everything that defines a training run from data on disk: what `convnet train` parses, and
/// what a run directory stores in `config.json` so that `--resume` rebuilds the same run.
public struct TrainingConfiguration: Codable, Sendable, Equatable {
    /// `digits` (bundled), `mnist`, `fashion-mnist`, `cifar10`, `npy`, `imagefolder` or `tinyimagenet`.
    public var dataset = "digits"
    /// Where the files are (not needed for the bundled digits).
    public var dataDirectory: String?
    /// `nchw`, or `nhwc` for `.npy` images stored [N, H, W, C].
    public var layout = "nchw"
    /// imagefolder and tinyimagenet: the sample size, `S` or `HxW` (nil: the initial weights'
    /// input size, else the images' own).
    public var imageSize: String?
    /// imagefolder and tinyimagenet: 1 or 3 channels (nil: the initial weights', else 3 when
    /// any training image has colour).
    public var imageChannels: Int?
    /// Fetch missing files from the dataset's usual location.
    public var download = false
    /// Subsampling as in the classic get_CIFAR10_data (nil: all).
    public var trainingCount: Int?
    public var validationCount: Int?
    public var testCount: Int?
    /// Mean subtraction: `image` (the mean image of the training split), `channel` or `none`.
    public var mean = "image"
    /// Divide by the per-channel standard deviation of the training split.
    public var standardize = false

    /// A preset name (`ModelPreset`); ignored when `spec` is given.
    public var model = ModelPreset.digitsCNN.rawValue
    /// A model spec such as `conv(32,k=7,p=3) relu maxpool(2) flatten dense(100) relu dense(10)`.
    public var spec: String?
    /// Hidden sizes for the `mlp` preset.
    public var hiddenSizes = [100]
    /// Weight scale of the `three-layer-convnet` preset.
    public var weightScale = 1e-3
    /// Start from these weights (a safetensors file).
    public var initialWeights: String?

    /// Update rule and hyper-parameters: by default Adam with learning rate 2e-3 (the bundled
    /// digits' run); a nil learning rate or momentum takes the rule's default
    /// (`OptimizerDefaults`).
    public var updateRule = UpdateRule.adam.rawValue
    public var learningRate: Double? = 2e-3
    public var momentum: Double?
    public var learningRateDecay = 1.0
    public var batchSize = 32
    public var epochs = 15
    public var regularization = 0.0
    public var seed: UInt64 = 0
    public var dropLast = false
    public var printEvery = 0

    // Modern-recipe settings (all optional, so that older config.json files still read).
    /// The learning-rate schedule (nil: the classic per-epoch `learningRateDecay`).
    public var schedule: LearningRateSchedule?
    /// PyTorch's `weight_decay` for the update rule (nil: the rule's default; AdamW's is 0.01).
    public var weightDecay: Double?
    /// Label smoothing of the cross-entropy, in [0, 1).
    public var labelSmoothing: Double?
    /// Clip the gradients' global norm to this.
    public var gradientClipNorm: Double?
    /// Stop when validation stops improving.
    public var earlyStopping: EarlyStopping?
    /// Random transformations of the training batches.
    public var augmentation: Augmentation?
    /// How weights are drawn (`Initializer(named:)`): nil keeps each preset's own scheme
    /// (He normal for specs).
    public var initScheme: String?
    /// Score the test split after every epoch (for time-to-accuracy figures).
    public var trackTestAccuracy: Bool?
    /// The recipe these settings started from, if any (for the record).
    public var recipe: String?
    /// The ranks of the data-parallel run that started these settings (nil: one process), for
    /// the record: `batchSize` is the global batch, which a resumed run keeps with any number of ranks.
    public var ranks: Int?
    /// The kernel threads per process (`ThreadPool.coreCount`) of the run that started these
    /// settings (nil in runs saved before it was recorded). How a long sum is split between
    /// threads (a convolution's per-core weight-gradient partials, a long product's depth
    /// split) follows the thread count, so `convnet train --resume` keeps it where the machine
    /// has the cores: the continuation is then bit-identical to a run that never stopped.
    public var threads: Int?

    public init() {}

    /// The optimizer's configuration by key (`learning_rate`, `momentum`), as the update-rule
    /// factory takes it; missing keys take `OptimizerDefaults`.
    public func optimizerConfiguration() throws -> [String: Double] {
        let rule = try UpdateRule(named: updateRule)
        var configuration: [String: Double] = [:]
        if let learningRate { configuration["learning_rate"] = learningRate }
        if let momentum {
            guard rule == .sgdMomentum || rule == .nesterov else {
                throw ConvNetError.invalidArgument(
                    "momentum applies to sgd_momentum and nesterov, not \(rule.rawValue)")
            }
            configuration["momentum"] = momentum
        }
        if let weightDecay { configuration["weight_decay"] = weightDecay }
        return configuration
    }

    /// The optimizer these settings name.
    public func makeOptimizer<Scalar: KernelScalar>(scalar: Scalar.Type = Scalar.self) throws -> any Optimizer<Scalar> {
        try UpdateRule(named: updateRule).makeOptimizer(configuration: optimizerConfiguration())
    }

    /// The Solver options these settings give (the optimizer is checked too).
    public func solverOptions() throws -> SolverOptions {
        _ = try makeOptimizer(scalar: Float.self)
        if let learningRate, learningRate == 0, epochs > 0 {
            throw ConvNetError.invalidArgument("learning rate must be > 0: a rate of 0 never changes the weights")
        }
        for (name, value) in [("training", trainingCount), ("validation", validationCount), ("test", testCount)] {
            if let value, value < 0 {
                throw ConvNetError.invalidArgument("the \(name) count must be ≥ 0, found \(value)")
            }
        }
        var options = SolverOptions()
        options.learningRateDecay = learningRateDecay
        options.batchSize = batchSize
        options.epochs = epochs
        options.printEvery = printEvery
        options.dropLast = dropLast
        options.seed = seed
        if let schedule {
            guard learningRateDecay == 1 else {
                throw ConvNetError.invalidArgument("give either a learning-rate schedule or --lr-decay, not both")
            }
            options.schedule = schedule
        }
        options.gradientClipNorm = gradientClipNorm
        options.earlyStopping = earlyStopping
        options.augmentation = augmentation
        try options.validate()
        _ = try lossFunction()
        _ = try initializer()
        return options
    }

    /// How image files become samples (imagefolder, tinyimagenet): `imageSize` and
    /// `imageChannels`, each defaulting to the input shape [C, H, W] of the initial weights when
    /// those are given. Throws when an image option is given for another dataset.
    public func imageLoadOptions() throws -> ImageLoadOptions {
        let name = try DatasetName(named: dataset)
        let isImageDataset = name == .imageFolder || name == .tinyImageNet
        guard isImageDataset || (imageSize == nil && imageChannels == nil) else {
            throw ConvNetError.invalidArgument(
                "--image-size and --image-channels apply to imagefolder and tinyimagenet, not \(name.rawValue)")
        }
        var options = ImageLoadOptions(size: try imageSize.map { try ImageSize(parsing: $0) }, channels: imageChannels)
        if let channels = imageChannels, channels != 1 && channels != 3 {
            throw ConvNetError.invalidArgument("--image-channels takes 1 or 3, found \(channels)")
        }
        if isImageDataset, options.size == nil || options.channels == nil, let weights = initialWeights,
            let shape = try Checkpoint.metadata(at: URL(fileURLWithPath: weights))?.inputShape, shape.count == 3
        {
            let fromModel = try ImageTransform(inputShape: shape)
            options.size = options.size ?? fromModel.size
            options.channels = options.channels ?? fromModel.channels
        }
        return options
    }

    /// The training loss: softmax cross-entropy with the configured label smoothing.
    public func lossFunction() throws -> SoftmaxCrossEntropy {
        try SoftmaxCrossEntropy(validatingLabelSmoothing: labelSmoothing ?? 0)
    }

    /// The weight initialisation, when one is configured.
    public func initializer() throws -> Initializer? {
        try initScheme.map { try Initializer(named: $0, weightScale: weightScale) }
    }

    /// The hyper-parameters as report rows.
    var hyperParameterRows: [KeyValue] {
        [
            KeyValue("update rule", updateRule),
            KeyValue("learning rate", learningRate.map { "\($0)" } ?? "default"),
            KeyValue("momentum", momentum.map { "\($0)" } ?? "default"),
            KeyValue("learning-rate decay", "\(learningRateDecay)"), KeyValue("batch size", "\(batchSize)"),
            KeyValue("epochs", "\(epochs)"), KeyValue("L2 regularisation", "\(regularization)"),
            KeyValue("drop last batch", "\(dropLast)"), KeyValue("seed", "\(seed)"),
        ]
            + [
                schedule.map { KeyValue("learning-rate schedule", $0.summary) },
                weightDecay.map { KeyValue("weight decay", "\($0)") },
                labelSmoothing.map { KeyValue("label smoothing", "\($0)") },
                gradientClipNorm.map { KeyValue("gradient clipping (global norm)", "\($0)") },
                earlyStopping.map { KeyValue("early stopping", "\($0.metric.rawValue), patience \($0.patience)") },
                augmentation.map { KeyValue("augmentation", $0.description) },
                initScheme.map { KeyValue("initialisation", $0) },
                recipe.map { KeyValue("recipe", $0) },
                ranks.map { KeyValue("data-parallel ranks (started with)", "\($0), batch \(batchSize) in all") },
                threads.map { KeyValue("kernel threads (started with)", "\($0)") },
            ].compactMap { $0 }
    }
}

/// A training run from a `TrainingConfiguration`: loads and preprocesses the data, builds the
/// model, trains with a progress display, and with a run directory commits after every epoch
/// `last.safetensors` (+ `last.state.safetensors`, for `--resume`), `best.safetensors` (the
/// best validation accuracy so far), `metrics.csv` and `history.json` as one generation of a
/// `CheckpointStore` (one atomic commit: a process killed at any moment leaves the previous
/// epoch or the new one, never a mix); at the end it writes the pictures and report.
///
/// A resumed run (`TrainingJob(resuming:)`) reloads the configuration, the last weights, the
/// optimizer's buffers, the shuffling generator and the history, and continues bit for bit
/// as if it had never stopped. A run interrupted between two steps (`Solver.stopRequest`,
/// e.g. Ctrl-C through `SignalTrap`) commits its state at that step and continues from it.
public final class TrainingJob {
    /// The settings in force.
    public let configuration: TrainingConfiguration
    /// The model being trained.
    public let model: Model<Float>
    /// The solver.
    public let solver: Solver<Float>
    /// The prepared data.
    public let data: PreparedData<Float>
    /// The run directory, if any.
    public let directory: URL?
    /// A line describing the data.
    public let dataDescription: String
    private let recorder: RunRecorder<Float>
    private let classNames: [String]
    private var saveError: Error?
    /// The signal that interrupted the last `run`, when one did (see `Solver.stopRequest`); the
    /// run was then committed (with a run directory) at the step or epoch where it stopped.
    public private(set) var interruptingSignal: Int32?

    /// The file names inside a run directory.
    public static let configurationFileName = "config.json"
    public static let lastCheckpointName = "last.safetensors"
    public static let bestCheckpointName = "best.safetensors"

    /// The ranks of a data-parallel run (`Solver.communicator`); only rank 0 writes the run
    /// directory (checkpoints, metrics, TensorBoard, pictures, report), and every rank reads it
    /// to resume (so it must be on a file system they all see).
    public let communicator: any Communicator

    /// Prepares a new run (writing `config.json` into `directory` when given). With a
    /// `communicator` of several ranks, `configuration.batchSize` is the global batch.
    public convenience init(
        configuration: TrainingConfiguration, directory: URL?, progress: ProgressBar = .standardOutput(),
        log: (String) -> Void = { _ in }, communicator: any Communicator = SingleProcess()
    ) throws {
        try self.init(
            configuration: configuration, directory: directory, progress: progress, log: log, resume: false,
            communicator: communicator)
    }

    /// Prepares to continue the run saved in `directory` (with any number of ranks: the global
    /// batch is the saved one).
    public convenience init(
        resuming directory: URL, progress: ProgressBar = .standardOutput(), log: (String) -> Void = { _ in },
        communicator: any Communicator = SingleProcess()
    ) throws {
        let url = directory.appendingPathComponent(TrainingJob.configurationFileName)
        guard let data = try? Data(contentsOf: url) else {
            throw ConvNetError.fileSystem("cannot resume: \(url.path) is missing (was the run started with --out?)")
        }
        let configuration: TrainingConfiguration
        do {
            configuration = try JSONDecoder().decode(TrainingConfiguration.self, from: data)
        } catch {
            throw ConvNetError.invalidData(
                "cannot resume: \(url.path) is not a valid run configuration: \(reason(error))")
        }
        try self.init(
            configuration: configuration, directory: directory, progress: progress, log: log, resume: true,
            communicator: communicator)
    }

    private init(
        configuration: TrainingConfiguration, directory: URL?, progress: ProgressBar, log: (String) -> Void,
        resume: Bool, communicator: any Communicator
    ) throws {
        self.configuration = configuration
        self.directory = directory
        self.communicator = communicator
        let options = try configuration.solverOptions()
        let name = try DatasetName(named: configuration.dataset)
        guard let layout = ImageLayout(rawValue: configuration.layout.lowercased()) else {
            throw ConvNetError.invalidArgument("unknown layout '\(configuration.layout)'; use nchw or nhwc")
        }
        guard let mean = Preprocessing.MeanMode(rawValue: configuration.mean) else {
            throw ConvNetError.invalidArgument(
                "unknown mean mode '\(configuration.mean)'; use "
                    + Preprocessing.MeanMode.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let raw = try DatasetLoader.load(
            name, directory: configuration.dataDirectory.map { URL(fileURLWithPath: $0) },
            download: configuration.download,
            layout: layout, images: configuration.imageLoadOptions(), log: log)
        data = try raw.prepared(
            PreparationOptions(
                trainingCount: configuration.trainingCount, validationCount: configuration.validationCount,
                testCount: configuration.testCount, mean: mean, standardize: configuration.standardize),
            as: Float.self)
        classNames = raw.classNames
        let splits = data.splits
        dataDescription =
            "\(name.rawValue): \(splits.train.count) train, \(splits.validation.count) val, \(splits.test.count) test, "
            + "samples \(describe(splits.train.sampleShape))"

        let network: Sequential<Float>
        let initializer = try configuration.initializer()
        if let spec = configuration.spec {
            network = try ModelSpec(parsing: spec).makeNetwork(
                inputShape: splits.train.sampleShape, initializer: initializer ?? .heNormal, seed: configuration.seed,
                scalar: Float.self)
        } else {
            let preset = try ModelPreset(named: configuration.model)
            guard preset != .xor else {
                throw ConvNetError.invalidArgument(
                    "the xor model trains on its own four points; run it without --dataset")
            }
            if let initializer {
                // The preset's architecture with the chosen initialisation.
                network = try preset.spec(classes: raw.classNames.count, hiddenSizes: configuration.hiddenSizes)
                    .makeNetwork(
                        inputShape: splits.train.sampleShape, initializer: initializer, seed: configuration.seed)
            } else {
                network = try preset.makeModel(
                    inputShape: splits.train.sampleShape, classes: raw.classNames.count,
                    hiddenSizes: configuration.hiddenSizes,
                    weightScale: configuration.weightScale, seed: configuration.seed, scalar: Float.self
                ).network
            }
        }
        model = try Model(
            network: network, loss: configuration.lossFunction(), inputShape: splits.train.sampleShape,
            regularization: configuration.regularization)
        guard model.classCount == raw.classNames.count else {
            throw ConvNetError.shapeMismatch(
                "the model outputs \(model.classCount) scores but the data has \(raw.classNames.count) classes")
        }
        if let weights = configuration.initialWeights, !resume {
            try Checkpoint.loadWeights(from: URL(fileURLWithPath: weights), into: network)
        }
        solver = try Solver(
            model: model, optimizer: configuration.makeOptimizer(), trainInputs: splits.train.inputs,
            trainTargets: splits.train.labels,
            validationInputs: splits.validation.count > 0 ? splits.validation.inputs : nil,
            validationTargets: splits.validation.count > 0 ? splits.validation.labels : nil, options: options)
        solver.communicator = communicator
        if configuration.trackTestAccuracy == true, splits.test.count > 0 {
            solver.testSet = (splits.test.inputs, splits.test.labels)
        }
        let title = (configuration.spec ?? configuration.model) + " on " + name.rawValue
        recorder = try RunRecorder(
            model: model, title: title, directory: communicator.isWriter ? directory : nil,
            configuration: [
                KeyValue("data", dataDescription), KeyValue("model", configuration.spec ?? configuration.model),
                KeyValue(
                    "preprocessing",
                    "pixels / \(raw.scale), mean \(configuration.mean)"
                        + (configuration.standardize ? ", standardised" : "")),
                KeyValue("command", CommandLine.arguments.joined(separator: " ")),
            ],
            hyperParameters: configuration.hyperParameterRows, classNames: raw.classNames, progress: progress)
        recorder.writesHistoryFiles = false  // committed with the checkpoints instead
        if resume, let directory {
            try restore(from: directory)
        } else if let directory, communicator.isWriter {
            let store = CheckpointStore(directory: directory)
            if store.holdsRun {
                throw ConvNetError.invalidArgument(
                    "\(directory.path) already holds a run's checkpoints; continue it with --resume \(directory.path), "
                        + "or choose another --out (or remove that folder)")
            }
            TrainingJob.removeLeftoverTemporaryFiles(in: directory)
            store.removeUncommitted()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(
                String(decoding: try encoder.encode(configuration), as: UTF8.self),
                to: directory.appendingPathComponent(TrainingJob.configurationFileName))
        }
        recorder.attach(to: solver)
        if directory != nil, communicator.isWriter {
            // Checkpoints first, then metrics.csv / history.json: the metrics never run ahead
            // of what a resume can continue from. A failed save stops training (the previous
            // epoch stays resumable) and `run` throws it.
            let recorderHook = solver.onEpoch
            solver.onEpoch = { [weak self] record in
                guard let self else { return }
                if self.saveError == nil {
                    do { try self.saveCheckpoints(after: record) } catch {
                        self.saveError = error
                        self.solver.requestStop()
                        return
                    }
                }
                recorderHook?(record)
            }
        }
    }

    /// Removes the temporary files of writes that a killed process left behind
    /// (`.NAME.tmp-PID-RANDOM`, see `AtomicFile`).
    static func removeLeftoverTemporaryFiles(in directory: URL) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names where name.hasPrefix(".") && name.contains(".tmp-") {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    private func restore(from directory: URL) throws {
        let store = CheckpointStore(directory: directory)
        if communicator.isWriter {
            TrainingJob.removeLeftoverTemporaryFiles(in: directory)
            store.removeUncommitted()
        }
        if let generation = try store.current() {
            try restore(from: generation, of: store)
            return
        }
        // A run directory written before checkpoints were committed as generations.
        let last = directory.appendingPathComponent(TrainingJob.lastCheckpointName)
        let stateURL = TrainingState.url(besides: last)
        guard FileManager.default.fileExists(atPath: last.path), FileManager.default.fileExists(atPath: stateURL.path)
        else {
            throw ConvNetError.fileSystem(
                "cannot resume \(directory.path): nothing was saved there yet (the run stopped before its first "
                    + "checkpoint); start it again with the same options")
        }
        let lastFile = try SafeTensorsFile(contentsOf: last)
        try Checkpoint.loadWeights(lastFile, into: model.network, name: last.lastPathComponent)
        let state = try TrainingState(contentsOf: stateURL)
        // The files are written one by one; a process killed between them leaves a set that
        // does not belong together. Say so instead of continuing from mixed epochs.
        func epoch(of file: SafeTensorsFile) -> Int? { file.metadata["epoch"].flatMap { Int($0) } }
        if let saved = epoch(of: lastFile), saved != state.epoch {
            throw ConvNetError.invalidData(
                "cannot resume \(directory.path): \(TrainingJob.lastCheckpointName) holds epoch \(saved) but "
                    + "\(stateURL.lastPathComponent) epoch \(state.epoch) (the run was stopped while saving); "
                    + "start again, or train from these weights with --init \(last.path)")
        }
        var bestWeights: ModelSnapshot<Float>?
        let best = directory.appendingPathComponent(TrainingJob.bestCheckpointName)
        if FileManager.default.fileExists(atPath: best.path) {
            let bestFile = try SafeTensorsFile(contentsOf: best)
            if let saved = epoch(of: bestFile), state.history.bestEpoch > 0, saved != state.history.bestEpoch {
                throw ConvNetError.invalidData(
                    "cannot resume \(directory.path): \(TrainingJob.bestCheckpointName) holds epoch \(saved) but the history's "
                        + "best epoch is \(state.history.bestEpoch) (the run was stopped while saving)")
            }
            let loaded = try Checkpoint.load(from: best, as: Float.self)
            bestWeights = loaded.model.snapshot()
        }
        try state.restore(into: solver, updateRule: configuration.updateRule, bestWeights: bestWeights)
        recorder.resume(with: state.history)
        try? recorder.directory?.write(recorder.record)  // metrics.csv and history.json as of the resumed epoch
    }

    /// Continues from a committed generation: every file is checked against the manifest, and
    /// the files against each other (epoch, iteration, best epoch), before anything is used.
    private func restore(from generation: CheckpointStore.Generation, of store: CheckpointStore) throws {
        let manifest = generation.manifest
        let context = "cannot resume \(store.directory.path) (generation \(manifest.generation))"
        let lastName = TrainingJob.lastCheckpointName
        let stateName = TrainingState.url(besides: URL(fileURLWithPath: lastName)).lastPathComponent
        let lastFile = try SafeTensorsFile(bytes: try store.contents(of: lastName, in: generation), name: lastName)
        let state = try TrainingState(
            file: try SafeTensorsFile(bytes: try store.contents(of: stateName, in: generation), name: stateName),
            name: stateName)
        guard state.epoch == manifest.epoch, state.iteration == manifest.iteration,
            state.interruptedEpoch?.epoch == manifest.interruptedEpoch
        else {
            throw ConvNetError.invalidData(
                "\(context): \(stateName) holds epoch \(state.epoch), iteration \(state.iteration) but the manifest "
                    + "says epoch \(manifest.epoch), iteration \(manifest.iteration)")
        }
        func number(_ key: String, of file: SafeTensorsFile) -> Int? { file.metadata[key].flatMap { Int($0) } }
        if let saved = number("iteration", of: lastFile), saved != manifest.iteration {
            throw ConvNetError.invalidData(
                "\(context): \(lastName) holds iteration \(saved) but the manifest says \(manifest.iteration)")
        }
        var bestWeights: ModelSnapshot<Float>?
        let bestName = TrainingJob.bestCheckpointName
        if manifest.files[bestName] != nil {
            let bestFile = try SafeTensorsFile(bytes: try store.contents(of: bestName, in: generation), name: bestName)
            if let saved = number("epoch", of: bestFile), saved != state.history.bestEpoch {
                throw ConvNetError.invalidData(
                    "\(context): \(bestName) holds epoch \(saved) but the history's best epoch is \(state.history.bestEpoch)"
                )
            }
            try Checkpoint.loadWeights(bestFile, into: model.network, name: bestName)
            bestWeights = model.snapshot()
        } else if state.history.bestEpoch > 0 {
            throw ConvNetError.invalidData(
                "\(context): the history's best epoch is \(state.history.bestEpoch) but the generation has no \(bestName)"
            )
        }
        try Checkpoint.loadWeights(lastFile, into: model.network, name: lastName)
        try state.restore(into: solver, updateRule: configuration.updateRule, bestWeights: bestWeights)
        if communicator.isWriter {
            try store.publish(manifest)  // in case a process was killed between its commit and this step
        }
        recorder.resume(with: state.history)
        try? recorder.directory?.write(recorder.record, includingHistory: false)
    }

    private func metadata(extra: [String: String]) throws -> CheckpointMetadata {
        var extra = extra
        if configuration.spec == nil { extra["preset"] = configuration.model }
        return CheckpointMetadata(
            spec: try ModelSpec(describing: model.network), inputShape: model.inputShape, classNames: classNames,
            loss: .softmaxCrossEntropy, preprocessing: data.preprocessing,
            preset: configuration.spec == nil ? configuration.model : nil, extra: extra)
    }

    /// Commits the run as it stands, after an epoch (`record`) or between two steps of an
    /// interrupted one (nil): the last weights, the training state, the best weights (when
    /// this epoch is the best, else the committed ones are kept), metrics.csv and history.json.
    private func saveCheckpoints(after record: EpochRecord?, initialWeights: Bool = false) throws {
        guard let directory, communicator.isWriter else { return }
        let iteration = solver.history.iterations.count
        var extra = ["epoch": String(solver.completedEpochs), "iteration": String(iteration)]
        if let accuracy = record?.validationAccuracy { extra["validation_accuracy"] = String(accuracy) }
        if let interrupted = solver.interruptedEpoch {
            extra["interrupted_epoch"] = String(interrupted.epoch)
            extra["interrupted_after_batch"] = String(interrupted.completedBatches)
        }
        let lastName = TrainingJob.lastCheckpointName
        let stateName = TrainingState.url(besides: URL(fileURLWithPath: lastName)).lastPathComponent
        let lastBytes = try Checkpoint.stateDict(of: model.network, metadata: metadata(extra: extra)).encoded()
        let state = try TrainingState(
            solver: solver, updateRule: configuration.updateRule,
            optimizerConfiguration: configuration.optimizerConfiguration())
        var files: [(name: String, bytes: [UInt8])] = [(lastName, lastBytes), (stateName, try state.file().encoded())]
        var kept: [String] = []
        if initialWeights || (record.map { solver.history.bestEpoch == $0.epoch } ?? false) {
            files.append((TrainingJob.bestCheckpointName, lastBytes))
        } else if solver.history.bestEpoch > 0 {
            kept.append(TrainingJob.bestCheckpointName)
        }
        files.append((RunDirectory.metricsFileName, Array(RunDirectory.metricsCSV(solver.history.iterations).utf8)))
        files.append((RunDirectory.historyFileName, Array(try RunDirectory.historyJSON(solver.history.epochs))))
        try CheckpointStore(directory: directory).commit(
            files: files, kept: kept, epoch: solver.completedEpochs, iteration: iteration,
            interruptedEpoch: solver.interruptedEpoch?.epoch)
    }

    /// What follows a divergence message: what was kept, and what to try.
    private var divergenceAdvice: String {
        guard let directory else { return "" }
        let epochs = solver.completedEpochs
        guard epochs > 0 else { return "; no epoch was saved in \(directory.path)" }
        return "; \(directory.path) keeps the last good checkpoint (after epoch \(epochs)): train from it with "
            + "--init \(directory.appendingPathComponent(TrainingJob.lastCheckpointName).path) and a smaller --learning-rate, "
            + "or add --clip-norm"
    }

    /// A warning when the finished run is no better than chance on its own validation split:
    /// its best validation accuracy does not beat always answering the most frequent class
    /// (by a point). Nil when it does, or when there is no validation data.
    public var chanceWarning: String? {
        let labels = data.splits.validation.labels.scalars
        guard solver.isFinished, !labels.isEmpty, let best = solver.history.bestValidationAccuracy else { return nil }
        var counts: [Float: Int] = [:]
        for label in labels { counts[label, default: 0] += 1 }
        let chance = Double(counts.values.max() ?? 0) / Double(labels.count)
        guard best <= chance + 0.01 else { return nil }
        return String(
            format:
                "the best validation accuracy, %.4f, is no better than always answering the most frequent class (%.4f): "
                + "the model learned nothing; try a smaller learning rate (now %g) or check the labels",
            best, chance, solver.baseLearningRate)
    }

    /// Trains the remaining epochs (stopping after `stopAfterEpoch` if given), then evaluates
    /// the test split and writes the report. Returns the test evaluation (nil when stopped early
    /// or when there is no test data).
    @discardableResult
    public func run(stopAfterEpoch: Int? = nil) throws -> Evaluation<Float>? {
        interruptingSignal = nil
        do {
            try solver.train(stopAfterEpoch: stopAfterEpoch)
        } catch ConvNetError.diverged(let message) {
            throw ConvNetError.diverged(message + divergenceAdvice)
        }
        if let saveError { throw saveError }
        if solver.interruptedEpoch != nil {
            interruptingSignal = solver.stopRequest?.signal
            try solver.checkFiniteState(epoch: solver.completedEpochs + 1)
            try saveCheckpoints(after: nil)
            return nil
        }
        if solver.stopRequest?.isRequested == true { interruptingSignal = solver.stopRequest?.signal }
        guard solver.isFinished, communicator.isWriter else { return nil }
        if configuration.epochs == 0, let directory, try CheckpointStore(directory: directory).current() == nil {
            // A run of 0 epochs (e.g. `--init torch.safetensors --epochs 0`) saves the weights
            // it starts from, as last and best, with the checkpoint metadata a ConvNet run has.
            try saveCheckpoints(after: nil, initialWeights: true)
        }
        let test = data.splits.test
        return try recorder.finish(
            testInputs: test.count > 0 ? test.inputs : nil, testLabels: test.count > 0 ? test.labels : nil)
    }
}
