import ArgumentParser
import ConvNet
import Foundation

#if CONVNET_MPI
import ConvNetMPI
#endif

/// `convnet train`: trains a preset network or a spec on a dataset; with no arguments, the
/// digits CNN on the bundled 8×8 digits.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network (default: a small CNN on the bundled 8x8 digits).",
        discussion: """
            Datasets: digits (bundled), mnist, fashion-mnist, cifar10 (binary or python batches), \
            npy (a folder of x_train.npy, y_train.npy, optional x_val/y_val, x_test/y_test, or an .npz), \
            imagefolder (DIR/<class>/*.png|jpg|jpeg, optionally under train/ val/ test/), \
            tinyimagenet (tiny-imagenet-200: wnids.txt, words.txt, train/, val/).
            Model specs: layers separated by spaces, e.g. \
            'conv(32,k=7,p=3) relu maxpool(2) flatten dense(100) relu dense(10)'. Layers: \
            \(LayerRegistry.kinds.map(\.usage).joined(separator: ", ")).
            """)

    @Option(
        help:
            "A named recipe (every setting of a published run; explicit options override it): \(TrainingRecipe.allCases.map(\.rawValue).joined(separator: ", "))."
    )
    var recipe: String?

    @Option(help: "Dataset: \(DatasetName.allCases.map(\.rawValue).joined(separator: ", ")) (default digits).")
    var dataset: String?

    @Option(name: .customLong("data-dir"), help: "Folder with the dataset's files.")
    var dataDirectory: String?

    @Option(help: "Layout of .npy images: nchw or nhwc.")
    var layout: String?

    @Option(
        name: .customLong("image-size"),
        help:
            "imagefolder, tinyimagenet: resize (bilinear) and center-crop images to S or HxW (default: the --init checkpoint's size, else the images' own)."
    )
    var imageSize: String?

    @Option(
        name: .customLong("image-channels"),
        help: "imagefolder, tinyimagenet: 1 (gray) or 3 (RGB) channels (default: 3 when any training image has colour)."
    )
    var imageChannels: Int?

    @Flag(help: "Download missing dataset files (MNIST, Fashion-MNIST, CIFAR-10) and check their checksums.")
    var download = false

    @Option(name: .customLong("num-training"), help: "Use only this many training samples.")
    var trainingCount: Int?

    @Option(
        name: .customLong("num-validation"),
        help: "Validation samples (taken from the end of the training split when the dataset has none).")
    var validationCount: Int?

    @Option(name: .customLong("num-test"), help: "Use only this many test samples.")
    var testCount: Int?

    @Option(
        help:
            "Mean subtraction: image (mean image of the training split), channel, none (default: none for the bundled digits, image otherwise)."
    )
    var mean: String?

    @Flag(help: "Divide by the per-channel standard deviation of the training split.")
    var standardize = false

    @Option(help: "Model: \(ModelPreset.allCases.map(\.rawValue).joined(separator: ", ")) (default digits-cnn).")
    var model: String?

    @Option(help: "A model spec instead of a preset (input shape inferred from the data).")
    var spec: String?

    @Option(name: .customLong("init"), help: "Start from the weights of this checkpoint.")
    var initialWeights: String?

    @Option(help: "Continue the stopped run in this run directory (all other options come from it).")
    var resume: String?

    @Option(
        name: .customLong("stop-after-epoch"), help: "Stop after this epoch, leaving a run that --resume continues.")
    var stopAfterEpoch: Int?

    @Option(help: "Update rule: \(UpdateRule.allCases.map(\.rawValue).joined(separator: ", ")).")
    var optimizer: String?

    @Option(name: .customLong("learning-rate"), help: "Learning rate (default depends on the update rule).")
    var learningRate: Double?

    @Option(name: .customLong("lr-decay"), help: "Multiply the learning rate by this after each epoch, in (0, 1].")
    var learningRateDecay: Double?

    @Option(help: "Momentum for sgd_momentum and nesterov.")
    var momentum: Double?

    @Option(name: .customLong("batch-size"), help: "Samples per step: N = full batch, 1 = stochastic.")
    var batchSize: Int?

    @Option(help: "Epochs.")
    var epochs: Int?

    @Option(help: "L2 regularisation strength (0.5·reg·ΣW² on weights).")
    var reg: Double?

    @Option(help: "Random seed (weights, shuffling, dropout).")
    var seed: UInt64?

    @Option(name: .customLong("hidden"), help: "Hidden sizes for mlp, comma-separated (e.g. 100,50; default 100).")
    var hidden: String?

    @Option(
        name: .customLong("init-scheme"),
        help:
            "Weight initialisation: pytorch, he-normal, he-uniform, xavier, weight-scale (default: each preset's; he-normal for specs)."
    )
    var initScheme: String?

    @Option(
        help:
            "Learning-rate schedule: constant, step, multistep, exponential, cosine, onecycle (the learning rate is its base, one-cycle's peak)."
    )
    var schedule: String?

    @Option(
        name: .customLong("schedule-unit"),
        help: "Whether the schedule counts epochs or iterations (default: iterations for onecycle, epochs otherwise).")
    var scheduleUnit: String?

    @Option(name: .customLong("step-size"), help: "step: multiply by --gamma every this many epochs (or iterations).")
    var stepSize: Int?

    @Option(help: "step, multistep, exponential: the factor (default 0.1 for step and multistep).")
    var gamma: Double?

    @Option(help: "multistep: comma-separated epochs (or iterations) at which to multiply by --gamma.")
    var milestones: String?

    @Option(name: .customLong("min-lr"), help: "cosine: the final learning rate (default 0).")
    var minimumLearningRate: Double?

    @Option(help: "Linear warm-up over this many epochs (or iterations), from --warmup-start times the rate.")
    var warmup: Int?

    @Option(name: .customLong("warmup-start"), help: "The warm-up's first factor (default 0.1).")
    var warmupStart: Double?

    @Option(name: .customLong("pct-start"), help: "onecycle: the fraction of the run spent rising (default 0.3).")
    var pctStart: Double?

    @Option(
        name: .customLong("weight-decay"),
        help: "PyTorch's weight_decay for the update rule (adamw: decoupled, default 0.01).")
    var weightDecay: Double?

    @Option(name: .customLong("label-smoothing"), help: "Label smoothing of the cross-entropy, in [0, 1).")
    var labelSmoothing: Double?

    @Option(name: .customLong("clip-norm"), help: "Clip the gradients' global L2 norm to this before each step.")
    var clipNorm: Double?

    @Option(
        name: .customLong("early-stopping"), help: "Stop after this many epochs without a better validation metric.")
    var earlyStopping: Int?

    @Option(name: .customLong("early-stopping-metric"), help: "val_acc (default) or val_loss.")
    var earlyStoppingMetric: String?

    @Option(
        help:
            "Augment training batches: crop=P (random crop, zero padding P), flip (horizontal), translate=F (fraction), comma-separated; none."
    )
    var augment: String?

    @Flag(
        name: .customLong("print-config"),
        help: "Print the run's full configuration (recipe and options resolved) as JSON and exit.")
    var printConfiguration = false

    @Flag(
        name: .customLong("track-test"),
        help: "Score the test split after every epoch (time-to-accuracy; never used to pick weights).")
    var trackTest = false

    @Option(name: .customLong("weight-scale"), help: "Weight scale for three-layer-convnet.")
    var weightScale: Double?

    @Option(name: .customLong("print-every"), help: "Print the loss every N iterations (0: never).")
    var printEvery: Int?

    @Flag(name: .customLong("drop-last"), help: "Drop the last partial batch of each epoch.")
    var dropLast = false

    @Flag(help: "Print nothing but the final result.")
    var quiet = false

    @Option(help: "Run directory: checkpoints, metrics.csv, history.json, TensorBoard events, pictures, report.html.")
    var out: String?

    @OptionGroup var compute: ComputeOptions

    #if CONVNET_MPI
    @Flag(
        help:
            "Data-parallel training on MPI: mpirun -np N convnet train --distributed ... (--batch-size is per rank, the global batch N times it; rank 0 writes --out; threads per rank default to the cores / the ranks on each machine)."
    )
    var distributed = false

    @Option(name: .customLong("bucket-kib"), help: "--distributed: the gradient bucket size in KiB (default 1024).")
    var bucketKiB: Int?
    #endif

    func run() throws {
        #if CONVNET_MPI
        if distributed {
            try runDistributed()
            return
        }
        if bucketKiB != nil { throw ConvNetError.invalidArgument("--bucket-kib applies to --distributed") }
        #endif
        let note = resumedThreads(available: ThreadPool.onlineCores)
        try compute.apply()
        try train(communicator: SingleProcess(), threadNote: note)
    }

    /// With `--resume`: the thread count the run started with (`TrainingConfiguration.threads`)
    /// is set for the kernels when neither `--threads` nor `CONVNET_THREADS` chose one and the
    /// machine has the cores for it (`available`), so that the continuation is bit-identical to
    /// a run that never stopped. Returns a note for the log when the count changes from what
    /// this process would have used, or when the bits will differ. Call before `compute.apply()`.
    private func resumedThreads(available: Int) -> String? {
        func threads(_ count: Int) -> String { count == 1 ? "1 thread" : "\(count) threads" }
        guard let resume,
            let data = try? Data(
                contentsOf: URL(fileURLWithPath: resume).appendingPathComponent(TrainingJob.configurationFileName)),
            let saved = (try? JSONDecoder().decode(TrainingConfiguration.self, from: data))?.threads
        else { return nil }  // an unreadable run is reported by TrainingJob
        if let chosen = compute.threads ?? ThreadPool.requestedCount {
            guard chosen != saved else { return nil }
            return "note: \(threads(chosen)) where the run started with \(threads(saved)): "
                + "the last bits may differ from a run that never stopped"
        }
        guard saved <= available else {
            return "note: the run started with \(threads(saved)) and \(available) cores are free here: continuing "
                + "with \(threads(available)), so the last bits may differ from a run that never stopped"
        }
        setenv("CONVNET_THREADS", String(saved), 1)
        guard saved != available else { return nil }
        return "note: continuing with the \(threads(saved)) the run started with (\(available) cores here), "
            + "bit-identical to a run that never stopped; --threads N chooses"
    }

    #if CONVNET_MPI
    /// One rank of `mpirun -np N convnet train --distributed ...`: any error ends every rank.
    private func runDistributed() throws {
        let note = resumedThreads(available: MPICommunicator.defaultThreadsPerRank())
        if compute.threads == nil, ProcessInfo.processInfo.environment["CONVNET_THREADS"] == nil {
            setenv("CONVNET_THREADS", String(MPICommunicator.defaultThreadsPerRank()), 1)
        }
        try compute.apply()
        if let bucketKiB, !(1...(1 << 20)).contains(bucketKiB) {
            throw ConvNetError.invalidArgument("--bucket-kib must be between 1 and 1048576, found \(bucketKiB)")
        }
        let communicator = try MPICommunicator()
        communicator.installTerminationMessage(directory: resume ?? out)
        do {
            try train(communicator: communicator, threadNote: note)
        } catch let code as ExitCode {
            communicator.finish()
            throw code
        } catch {
            communicator.fail("\(error)")
        }
        communicator.finish()
    }
    #endif

    /// Trains as this process's part of `communicator`'s ranks (alone: `SingleProcess`), first
    /// printing `threadNote` (from `resumedThreads`) to standard error on the writing rank.
    private func train(communicator: any Communicator, threadNote: String?) throws {
        if let threadNote, communicator.isWriter {
            FileHandle.standardError.write(Data((threadNote + "\n").utf8))
        }
        let distributed = communicator.size > 1
        let quiet = self.quiet || !communicator.isWriter
        if recipe == nil, spec == nil, let model, try ModelPreset(named: model) == .xor {
            guard !distributed else {
                throw ConvNetError.invalidArgument("--model xor trains in one process; run it without mpirun")
            }
            guard dataset == nil, dataDirectory == nil, resume == nil, out == nil else {
                throw ConvNetError.invalidArgument(
                    "--model xor trains on its own four points; --dataset, --data-dir, --out and --resume do not apply")
            }
            try trainXOR()
            return
        }
        if let stopAfterEpoch {
            guard stopAfterEpoch >= 1 else {
                throw ConvNetError.invalidArgument(
                    "--stop-after-epoch must be ≥ 1 (a run resumes after a complete epoch), found \(stopAfterEpoch)")
            }
            guard out != nil || resume != nil else {
                throw ConvNetError.invalidArgument(
                    "--stop-after-epoch needs --out DIR (or --resume DIR), where the run is saved to continue")
            }
        }
        let log: (String) -> Void = { if !quiet { print($0) } }
        let job: TrainingJob
        if let resume {
            job = try TrainingJob(
                resuming: URL(fileURLWithPath: resume), progress: .standardOutput(quiet: quiet), log: log,
                communicator: communicator)
        } else {
            var configuration =
                try recipe.map { try TrainingRecipe(named: $0).configuration } ?? TrainingConfiguration()
            if let dataset { configuration.dataset = dataset }
            if let dataDirectory { configuration.dataDirectory = dataDirectory }
            if let layout { configuration.layout = layout }
            if let imageSize { configuration.imageSize = imageSize }
            if let imageChannels { configuration.imageChannels = imageChannels }
            if download { configuration.download = true }
            if let trainingCount { configuration.trainingCount = trainingCount }
            if let validationCount { configuration.validationCount = validationCount }
            if let testCount { configuration.testCount = testCount }
            if let mean {
                configuration.mean = mean
            } else if recipe == nil {
                configuration.mean = configuration.dataset.lowercased() == "digits" ? "none" : "image"
            }
            if standardize { configuration.standardize = true }
            if let model {
                configuration.model = model
                configuration.spec = nil
            }
            if let spec { configuration.spec = spec }
            if let hidden { configuration.hiddenSizes = try Self.hiddenSizes(hidden) }
            if let initialWeights { configuration.initialWeights = initialWeights }
            try apply(to: &configuration)
            if distributed {
                // --batch-size is per rank; the run (and config.json) keeps the global batch.
                let (global, overflow) = configuration.batchSize.multipliedReportingOverflow(by: communicator.size)
                guard !overflow, configuration.batchSize > 0 else {
                    throw ConvNetError.invalidArgument(
                        "batch size must be > 0 and its product with \(communicator.size) ranks must fit, found \(configuration.batchSize)"
                    )
                }
                configuration.batchSize = global
                configuration.ranks = communicator.size
            }
            _ = try configuration.solverOptions()  // options are checked before any data is read
            _ = try configuration.imageLoadOptions()
            if printConfiguration {
                guard communicator.isWriter else { return }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(configuration), as: UTF8.self))
                return
            }
            configuration.threads = ThreadPool.coreCount
            if let out, communicator.isWriter {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            }
            job = try TrainingJob(
                configuration: configuration, directory: out.map { URL(fileURLWithPath: $0) },
                progress: .standardOutput(quiet: quiet), log: log, communicator: communicator)
        }
        #if CONVNET_MPI
        if let bucketKiB { job.solver.bucketBytes = bucketKiB * 1024 }
        #endif
        let configuration = job.configuration
        if !quiet {
            let resumed = job.solver.completedEpochs > 0 ? " (resumed after epoch \(job.solver.completedEpochs))" : ""
            print(
                "\(job.dataDescription); model \(configuration.spec ?? configuration.model), \(configuration.updateRule), "
                    + "batch \(configuration.batchSize), \(configuration.epochs) epochs\(resumed)")
            if let parallel = job.solver.parallel {
                let ranks = communicator.size
                print(
                    "data-parallel: \(ranks) ranks, batch \(configuration.batchSize / ranks)"
                        + (configuration.batchSize % ranks == 0 ? "" : "-\(configuration.batchSize / ranks + 1)")
                        + " per rank, \(ThreadPool.coreCount) threads per rank, \(parallel.bucketCount) gradient "
                        + "bucket(s) of ~\(parallel.bucketBytes / 1024) KiB; BatchNorm: per-rank batch statistics, "
                        + "rank 0's running statistics")
            }
        }
        // Ctrl-C / SIGTERM while training: stop at the next step, commit, say how to continue.
        // (Under mpirun, mpirun ends every rank on a signal; see MPICommunicator.)
        let trap = distributed ? nil : SignalTrap()
        job.solver.stopRequest = trap?.stopRequest
        let started = Date()
        trap?.armed = true
        let test = try job.run(stopAfterEpoch: stopAfterEpoch)
        trap?.armed = false
        let seconds = Date().timeIntervalSince(started)
        if let parallel = job.solver.parallel, !quiet {
            print(
                String(
                    format: "data-parallel: %.2f s of %.2f s waiting for gradient sums after the backward pass",
                    parallel.waitSeconds, seconds))
        }
        guard communicator.isWriter else { return }
        let continuation = job.directory.map { "continue with: convnet train --resume \($0.path)" }
        if let signal = job.interruptingSignal {
            let solver = job.solver
            let position =
                solver.interruptedEpoch.map {
                    "at iteration \(solver.history.iterations.count) (epoch \($0.epoch), batch \($0.completedBatches) of \($0.batches))"
                } ?? "after epoch \(solver.completedEpochs) of \(configuration.epochs)"
            let saved =
                continuation.map { "saved; " + $0 }
                ?? "nothing saved (train with --out DIR to keep a run that can be continued)"
            FileHandle.standardError.write(
                Data("interrupted by \(SignalTrap.name(of: signal)) \(position): \(saved)\n".utf8))
            throw ExitCode(SignalTrap.exitStatus(for: signal))
        }
        if !job.solver.isFinished {
            print(
                "stopped after epoch \(job.solver.completedEpochs) of \(configuration.epochs); \(continuation ?? "continue with --resume")"
            )
        } else if let test {
            if job.solver.stoppedEarly {
                print(
                    "stopped early after epoch \(job.solver.completedEpochs) (no better \(configuration.earlyStopping?.metric.rawValue ?? "") for \(configuration.earlyStopping?.patience ?? 0) epochs)"
                )
            }
            print(
                String(
                    format: "test accuracy %.4f (%d images), test loss %.4f, best epoch %d, training %.1f s",
                    test.accuracy, job.data.splits.test.count, test.loss, job.solver.history.bestEpoch, seconds))
        } else {
            print(
                String(format: "best epoch %d, training %.1f s (no test data)", job.solver.history.bestEpoch, seconds))
        }
        if let warning = job.chanceWarning {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        if let directory = job.directory, !quiet {
            print(
                "run directory: \(directory.path) (best.safetensors, last.safetensors, report.html, pictures, metrics)")
        }
    }

    static func hiddenSizes(_ text: String) throws -> [Int] {
        try text.split(separator: ",").map { part -> Int in
            guard let size = Int(part.trimmingCharacters(in: .whitespaces)), size > 0 else {
                throw ConvNetError.invalidArgument(
                    "--hidden takes positive integers separated by commas, found '\(text)'")
            }
            return size
        }
    }

    /// The training options given on the command line, over `configuration`'s defaults.
    private func apply(to configuration: inout TrainingConfiguration) throws {
        if let optimizer {
            configuration.updateRule = optimizer
            configuration.learningRate = nil  // the rule's default unless given
        }
        if let learningRate { configuration.learningRate = learningRate }
        if let momentum { configuration.momentum = momentum }
        if let learningRateDecay { configuration.learningRateDecay = learningRateDecay }
        if let batchSize { configuration.batchSize = batchSize }
        if let epochs { configuration.epochs = epochs }
        if let reg { configuration.regularization = reg }
        if let seed { configuration.seed = seed }
        if let weightScale { configuration.weightScale = weightScale }
        if let printEvery { configuration.printEvery = printEvery }
        if dropLast { configuration.dropLast = true }
        if let initScheme { configuration.initScheme = initScheme }
        if let weightDecay { configuration.weightDecay = weightDecay }
        if let labelSmoothing { configuration.labelSmoothing = labelSmoothing }
        if let clipNorm { configuration.gradientClipNorm = clipNorm }
        if let augment { configuration.augmentation = try Augmentation(parsing: augment) }
        if trackTest { configuration.trackTestAccuracy = true }
        if let earlyStopping {
            let metric =
                try earlyStoppingMetric.map { name -> EarlyStopping.Metric in
                    guard let metric = EarlyStopping.Metric(rawValue: name) else {
                        throw ConvNetError.invalidArgument(
                            "--early-stopping-metric takes val_acc or val_loss, found '\(name)'")
                    }
                    return metric
                } ?? .validationAccuracy
            configuration.earlyStopping = EarlyStopping(metric: metric, patience: earlyStopping)
        }
        if let schedule {
            let unit = try scheduleUnit.map { name -> LearningRateSchedule.Unit in
                guard let unit = LearningRateSchedule.Unit(rawValue: name) else {
                    throw ConvNetError.invalidArgument("--schedule-unit takes epoch or iteration, found '\(name)'")
                }
                return unit
            }
            let milestoneList = try milestones.map { text in
                try text.split(separator: ",").map { part -> Int in
                    guard let value = Int(part.trimmingCharacters(in: .whitespaces)) else {
                        throw ConvNetError.invalidArgument(
                            "--milestones takes whole numbers separated by commas, found '\(text)'")
                    }
                    return value
                }
            }
            configuration.schedule = try LearningRateSchedule(
                named: schedule, unit: unit, stepSize: stepSize, gamma: gamma, milestones: milestoneList,
                minimum: minimumLearningRate, warmup: warmup, warmupStartFactor: warmupStart, pctStart: pctStart)
        } else if warmup != nil || stepSize != nil || milestones != nil || pctStart != nil || minimumLearningRate != nil
        {
            throw ConvNetError.invalidArgument(
                "--warmup, --step-size, --milestones, --pct-start and --min-lr need --schedule")
        }
        if learningRateDecay != nil, configuration.schedule != nil, schedule == nil {
            configuration.schedule = nil  // an explicit --lr-decay replaces the recipe's schedule
        }
    }

    private func trainXOR() throws {
        var configuration = XORNet.trainingDefaults
        try apply(to: &configuration)
        let model = try ModelPreset.xor.makeModel(
            inputShape: [2], classes: 1, regularization: configuration.regularization, seed: configuration.seed,
            scalar: Double.self)
        var options = try configuration.solverOptions()
        options.verbose = false
        options.trainAccuracySamples = nil
        let solver = try Solver(
            model: model, optimizer: configuration.makeOptimizer(), trainInputs: XORNet.inputs(),
            trainTargets: XORNet.targets(),
            options: options)
        let history = try solver.train()
        let mode = options.batchSize >= 4 ? "full-batch" : options.batchSize == 1 ? "stochastic" : "mini-batch"
        let scores = try model.scores(XORNet.inputs())
        let final = try solver.evaluate(XORNet.inputs(), XORNet.targets())
        print(
            "xor, \(mode) gradient descent (batch \(options.batchSize)), \(options.epochs) epochs, "
                + "\(history.iterations.count) iterations")
        for (index, pair) in [(0, 0), (0, 1), (1, 0), (1, 1)].enumerated() {
            print(
                String(
                    format: "  %d xor %d -> %.4f (target %d)", pair.0, pair.1, scores.scalars[index], pair.0 ^ pair.1))
        }
        print(String(format: "loss %.5f, accuracy %.2f", final.loss, final.accuracy))
    }
}
