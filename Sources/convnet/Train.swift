import ArgumentParser
import ConvNet
import Foundation

/// `convnet train`: trains a preset network; with no arguments, the digits CNN on the
/// bundled 8×8 digits.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network (default: a small CNN on the bundled 8x8 digits).")

    @Option(help: "Model: \(ModelPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model: String = ModelPreset.digitsCNN.rawValue

    @Option(help: "Update rule: \(UpdateRule.allCases.map(\.rawValue).joined(separator: ", ")).")
    var optimizer: String?

    @Option(name: .customLong("learning-rate"), help: "Learning rate (default depends on the model).")
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
    var reg: Double = 0

    @Option(help: "Random seed (weights and shuffling).")
    var seed: UInt64 = 0

    @Option(name: .customLong("hidden"), help: "Hidden sizes for mlp, comma-separated (e.g. 100,50).")
    var hidden: String = "100"

    @Option(name: .customLong("weight-scale"), help: "Weight scale for three-layer-convnet.")
    var weightScale: Double = 1e-3

    @Option(name: .customLong("print-every"), help: "Print the loss every N iterations (0: never).")
    var printEvery: Int = 0

    @Flag(name: .customLong("drop-last"), help: "Drop the last partial batch of each epoch.")
    var dropLast = false

    @Flag(help: "Print nothing but the final result.")
    var quiet = false

    @Option(help: "Run directory: metrics.csv, history.json, TensorBoard events, pictures, report.html.")
    var out: String?

    @Flag(name: .customLong("no-tensorboard"), help: "Do not write TensorBoard event files into --out.")
    var noTensorBoard = false

    func run() throws {
        let preset = try ModelPreset(named: model)
        let hiddenSizes = try hidden.split(separator: ",").map { part -> Int in
            guard let size = Int(part.trimmingCharacters(in: .whitespaces)), size > 0 else {
                throw ConvNetError.invalidArgument("--hidden takes positive integers separated by commas, found '\(hidden)'")
            }
            return size
        }
        if preset == .xor {
            try trainXOR(hiddenSizes: hiddenSizes)
        } else {
            try trainDigits(preset: preset, hiddenSizes: hiddenSizes)
        }
    }

    private func solverOptions(defaultRule: String, defaultRate: Double, defaultBatch: Int, defaultEpochs: Int) throws -> SolverOptions {
        var options = SolverOptions()
        options.updateRule = optimizer ?? defaultRule
        let rule = try UpdateRule(named: options.updateRule)
        options.optimizerConfiguration["learning_rate"] = learningRate ?? defaultRate
        if let momentum {
            guard rule == .sgdMomentum || rule == .nesterov else {
                throw ConvNetError.invalidArgument("--momentum applies to sgd_momentum and nesterov, not \(rule.rawValue)")
            }
            options.optimizerConfiguration["momentum"] = momentum
        }
        options.learningRateDecay = learningRateDecay ?? 1
        options.batchSize = batchSize ?? defaultBatch
        options.epochs = epochs ?? defaultEpochs
        options.printEvery = printEvery
        options.dropLast = dropLast
        options.seed = seed
        options.verbose = !quiet
        return options
    }

    private func trainDigits(preset: ModelPreset, hiddenSizes: [Int]) throws {
        let splits = try BundledData.digitsSplits(Float.self)
        let model = try preset.makeModel(
            inputShape: splits.train.sampleShape, classes: splits.train.classNames.count,
            hiddenSizes: hiddenSizes, weightScale: weightScale, regularization: reg, seed: seed, scalar: Float.self)
        let options = try solverOptions(defaultRule: "adam", defaultRate: 2e-3, defaultBatch: 32, defaultEpochs: 15)
        let solver = try Solver(
            model: model, trainInputs: splits.train.inputs, trainTargets: splits.train.labels,
            validationInputs: splits.validation.inputs, validationTargets: splits.validation.labels, options: options)
        let dataText = "digits (bundled): \(splits.train.count) train, \(splits.validation.count) val, \(splits.test.count) test"
        let recorder = try RunRecorder(
            model: model, title: "\(preset.rawValue) on the bundled 8x8 digits",
            directory: out.map { URL(fileURLWithPath: $0) },
            configuration: [
                KeyValue("data", dataText), KeyValue("model", preset.rawValue),
                KeyValue("input", "[1, 8, 8], pixels / 16"), KeyValue("seed", String(seed)),
                KeyValue("command", CommandLine.arguments.joined(separator: " ")),
            ],
            hyperParameters: hyperParameters(options),
            classNames: splits.train.classNames, progress: .standardOutput(quiet: quiet),
            tensorBoard: !noTensorBoard)
        recorder.attach(to: solver)
        if !quiet {
            print("\(dataText); model \(preset.rawValue), \(options.updateRule), batch \(options.batchSize), \(options.epochs) epochs")
        }
        let started = Date()
        let history = try solver.train()
        let seconds = Date().timeIntervalSince(started)
        let test = try recorder.finish(testInputs: splits.test.inputs, testLabels: splits.test.labels)!
        print(String(
            format: "test accuracy %.4f (%d images), test loss %.4f, best epoch %d, training %.1f s",
            test.accuracy, splits.test.count, test.loss, history.bestEpoch, seconds))
        if let out, !quiet {
            print("run directory: \(out) (report.html, pictures, metrics.csv, history.json, TensorBoard events)")
        }
    }

    private func hyperParameters(_ options: SolverOptions) -> [KeyValue] {
        var pairs = [KeyValue("update rule", options.updateRule)]
        for (key, value) in options.optimizerConfiguration.sorted(by: { $0.key < $1.key }) {
            pairs.append(KeyValue(key, "\(value)"))
        }
        pairs += [
            KeyValue("learning-rate decay", "\(options.learningRateDecay)"), KeyValue("batch size", "\(options.batchSize)"),
            KeyValue("epochs", "\(options.epochs)"), KeyValue("L2 regularisation", "\(reg)"),
            KeyValue("drop last batch", "\(options.dropLast)"),
        ]
        return pairs
    }

    private func trainXOR(hiddenSizes: [Int]) throws {
        let model = try ModelPreset.xor.makeModel(inputShape: [2], classes: 1, regularization: reg, seed: seed, scalar: Double.self)
        var options = try solverOptions(defaultRule: "sgd", defaultRate: 2, defaultBatch: 4, defaultEpochs: 5000)
        options.verbose = false
        options.trainAccuracySamples = nil
        let solver = try Solver(model: model, trainInputs: XORNet.inputs(), trainTargets: XORNet.targets(), options: options)
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
