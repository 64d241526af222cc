import ArgumentParser
import ConvNet
import Foundation

/// `convnet train`: trains a preset network or a spec on a dataset; with no arguments, the
/// digits CNN on the bundled 8×8 digits.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network (default: a small CNN on the bundled 8x8 digits).",
        discussion: """
            Datasets: digits (bundled), mnist, fashion-mnist, cifar10 (binary or python batches), \
            npy (a folder of x_train.npy, y_train.npy, optional x_val/y_val, x_test/y_test, or an .npz).
            Model specs: layers separated by spaces, e.g. \
            'conv(32,k=7,p=3) relu maxpool(2) flatten dense(100) relu dense(10)'. Layers: \
            \(LayerRegistry.kinds.map(\.usage).joined(separator: ", ")).
            """)

    @Option(help: "Dataset: \(DatasetName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var dataset: String = "digits"

    @Option(name: .customLong("data-dir"), help: "Folder with the dataset's files.")
    var dataDirectory: String?

    @Option(help: "Layout of .npy images: nchw or nhwc.")
    var layout: String = "nchw"

    @Flag(help: "Download missing dataset files (MNIST, Fashion-MNIST, CIFAR-10) and check their checksums.")
    var download = false

    @Option(name: .customLong("num-training"), help: "Use only this many training samples.")
    var trainingCount: Int?

    @Option(name: .customLong("num-validation"), help: "Validation samples (taken from the end of the training split when the dataset has none).")
    var validationCount: Int?

    @Option(name: .customLong("num-test"), help: "Use only this many test samples.")
    var testCount: Int?

    @Option(help: "Mean subtraction: image (mean image of the training split), channel, none (default: none for the bundled digits, image otherwise).")
    var mean: String?

    @Flag(help: "Divide by the per-channel standard deviation of the training split.")
    var standardize = false

    @Option(help: "Model: \(ModelPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model: String = ModelPreset.digitsCNN.rawValue

    @Option(help: "A model spec instead of a preset (input shape inferred from the data).")
    var spec: String?

    @Option(name: .customLong("init"), help: "Start from the weights of this checkpoint.")
    var initialWeights: String?

    @Option(help: "Continue the stopped run in this run directory (all other options come from it).")
    var resume: String?

    @Option(name: .customLong("stop-after-epoch"), help: "Stop after this epoch, leaving a run that --resume continues.")
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

    @Option(name: .customLong("hidden"), help: "Hidden sizes for mlp, comma-separated (e.g. 100,50).")
    var hidden: String = "100"

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

    func run() throws {
        let hiddenSizes = try hidden.split(separator: ",").map { part -> Int in
            guard let size = Int(part.trimmingCharacters(in: .whitespaces)), size > 0 else {
                throw ConvNetError.invalidArgument("--hidden takes positive integers separated by commas, found '\(hidden)'")
            }
            return size
        }
        if spec == nil, try ModelPreset(named: model) == .xor {
            try trainXOR()
            return
        }
        let log: (String) -> Void = { if !quiet { print($0) } }
        let job: TrainingJob
        if let resume {
            job = try TrainingJob(resuming: URL(fileURLWithPath: resume), progress: .standardOutput(quiet: quiet), log: log)
        } else {
            var configuration = TrainingConfiguration()
            configuration.dataset = dataset
            configuration.dataDirectory = dataDirectory
            configuration.layout = layout
            configuration.download = download
            configuration.trainingCount = trainingCount
            configuration.validationCount = validationCount
            configuration.testCount = testCount
            configuration.mean = mean ?? (dataset.lowercased() == "digits" ? "none" : "image")
            configuration.standardize = standardize
            configuration.model = model
            configuration.spec = spec
            configuration.hiddenSizes = hiddenSizes
            configuration.initialWeights = initialWeights
            apply(to: &configuration)
            _ = try configuration.solverOptions()  // options are checked before any data is read
            if let out { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
            job = try TrainingJob(
                configuration: configuration, directory: out.map { URL(fileURLWithPath: $0) },
                progress: .standardOutput(quiet: quiet), log: log)
        }
        let configuration = job.configuration
        if !quiet {
            let resumed = job.solver.completedEpochs > 0 ? " (resumed after epoch \(job.solver.completedEpochs))" : ""
            print("\(job.dataDescription); model \(configuration.spec ?? configuration.model), \(configuration.updateRule), "
                + "batch \(configuration.batchSize), \(configuration.epochs) epochs\(resumed)")
        }
        let started = Date()
        let test = try job.run(stopAfterEpoch: stopAfterEpoch)
        let seconds = Date().timeIntervalSince(started)
        if job.solver.completedEpochs < configuration.epochs {
            print("stopped after epoch \(job.solver.completedEpochs) of \(configuration.epochs); continue with --resume")
        } else if let test {
            print(String(
                format: "test accuracy %.4f (%d images), test loss %.4f, best epoch %d, training %.1f s",
                test.accuracy, job.data.splits.test.count, test.loss, job.solver.history.bestEpoch, seconds))
        } else {
            print(String(format: "best epoch %d, training %.1f s (no test data)", job.solver.history.bestEpoch, seconds))
        }
        if let directory = job.directory, !quiet {
            print("run directory: \(directory.path) (best.safetensors, last.safetensors, report.html, pictures, metrics)")
        }
    }

    /// The training options given on the command line, over `configuration`'s defaults.
    private func apply(to configuration: inout TrainingConfiguration) {
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
    }

    private func trainXOR() throws {
        var configuration = XORNet.trainingDefaults
        apply(to: &configuration)
        let model = try ModelPreset.xor.makeModel(
            inputShape: [2], classes: 1, regularization: configuration.regularization, seed: configuration.seed,
            scalar: Double.self)
        var options = try configuration.solverOptions()
        options.verbose = false
        options.trainAccuracySamples = nil
        let solver = try Solver(
            model: model, optimizer: configuration.makeOptimizer(), trainInputs: XORNet.inputs(), trainTargets: XORNet.targets(),
            options: options)
        let history = try solver.train()
        let mode = options.batchSize >= 4 ? "full-batch" : options.batchSize == 1 ? "stochastic" : "mini-batch"
        let scores = try model.scores(XORNet.inputs())
        let final = try solver.evaluate(XORNet.inputs(), XORNet.targets())
        print("xor, \(mode) gradient descent (batch \(options.batchSize)), \(options.epochs) epochs, "
            + "\(history.iterations.count) iterations")
        for (index, pair) in [(0, 0), (0, 1), (1, 0), (1, 1)].enumerated() {
            print(String(format: "  %d xor %d -> %.4f (target %d)", pair.0, pair.1, scores.scalars[index], pair.0 ^ pair.1))
        }
        print(String(format: "loss %.5f, accuracy %.2f", final.loss, final.accuracy))
    }
}
