import Foundation
import Testing

@testable import ConvNet

/// Full MNIST from ../shared/data: LeNet-5, 2 epochs of Adam, ≥ 98.5 % test accuracy; then
/// the checkpoint (with its preprocessing) is saved, reloaded and gives the same accuracy.
struct MNISTEndToEndTests {
    @Test func lenet5ReachesNinetyEightAndAHalfPercentInTwoEpochs() throws {
        guard let shared = sharedDataDirectory() else {
            print("skipped: ../shared/data is absent (full MNIST needed)")
            return
        }
        let started = Date()
        let raw = try DatasetLoader.load(.mnist, directory: shared.appendingPathComponent("mnist"))
        let data = try raw.prepared(
            PreparationOptions(trainingCount: 59_000, validationCount: 1_000, mean: .channel, standardize: true),
            as: Float.self)
        let loaded = Date()
        let model = try ModelPreset.lenet5.makeModel(inputShape: [1, 28, 28], classes: 10, seed: 1, scalar: Float.self)
        var options = SolverOptions()
        options.learningRateDecay = 0.5
        options.batchSize = 64
        options.epochs = 2
        options.verbose = true
        let solver = try Solver(
            model: model, optimizer: try Adam<Float>(learningRate: 2e-3), trainInputs: data.splits.train.inputs,
            trainTargets: data.splits.train.labels,
            validationInputs: data.splits.validation.inputs, validationTargets: data.splits.validation.labels,
            options: options)
        try solver.train()
        let trained = Date()
        let test = try model.evaluate(inputs: data.splits.test.inputs, targets: data.splits.test.labels)
        print(
            "MNIST LeNet-5, 2 epochs adam: test accuracy \(String(format: "%.2f", 100 * test.accuracy)) %, "
                + "load \(String(format: "%.1f", loaded.timeIntervalSince(started))) s, train \(String(format: "%.1f", trained.timeIntervalSince(loaded))) s"
        )
        #expect(test.accuracy >= 0.985)

        // Save, reload, re-apply the stored preprocessing to the raw test images: same accuracy.
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("lenet5-mnist.safetensors")
        try Checkpoint.save(
            model, to: url, classNames: raw.classNames, preprocessing: data.preprocessing, preset: "lenet5")
        let checkpoint = try Checkpoint.load(from: url, as: Float.self)
        let preprocessing = try #require(checkpoint.metadata.preprocessing)
        let inputs: Tensor<Float> = try preprocessing.apply(to: raw.test!.images)
        let again = try checkpoint.model.evaluate(inputs: inputs, targets: data.splits.test.labels)
        #expect(abs(again.accuracy - test.accuracy) < 1e-9)
    }

    /// Opt-in (CONVNET_SLOW=1): the documented Fashion-MNIST recipe, read from the `.gz` files:
    /// LeNet-5, per-channel standardisation, Adam lr 2e-3 halved each epoch, batch 64, 3 epochs.
    @Test func slowFashionMNISTRecipe() throws {
        guard ProcessInfo.processInfo.environment["CONVNET_SLOW"] == "1" else {
            print("skipped: set CONVNET_SLOW=1 to run the Fashion-MNIST recipe")
            return
        }
        guard let shared = sharedDataDirectory() else {
            print("skipped: ../shared/data is absent")
            return
        }
        let started = Date()
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in DatasetLoader.idxFileNames {
            try FileManager.default.copyItem(
                at: shared.appendingPathComponent("fashion-mnist/\(name).gz"),
                to: folder.appendingPathComponent("\(name).gz"))
        }
        let raw = try DatasetLoader.load(.fashionMNIST, directory: folder)
        let data = try raw.prepared(
            PreparationOptions(trainingCount: 59_000, validationCount: 1_000, mean: .channel, standardize: true),
            as: Float.self)
        let loaded = Date()
        let model = try ModelPreset.lenet5.makeModel(inputShape: [1, 28, 28], classes: 10, seed: 1, scalar: Float.self)
        var options = SolverOptions()
        options.learningRateDecay = 0.5
        options.batchSize = 64
        options.epochs = 3
        let solver = try Solver(
            model: model, optimizer: try Adam<Float>(learningRate: 2e-3), trainInputs: data.splits.train.inputs,
            trainTargets: data.splits.train.labels,
            validationInputs: data.splits.validation.inputs, validationTargets: data.splits.validation.labels,
            options: options)
        try solver.train()
        let test = try model.evaluate(inputs: data.splits.test.inputs, targets: data.splits.test.labels)
        print(
            "Fashion-MNIST LeNet-5, 3 epochs adam: test accuracy \(String(format: "%.2f", 100 * test.accuracy)) %, "
                + "load (gunzip) \(String(format: "%.1f", loaded.timeIntervalSince(started))) s, train \(String(format: "%.1f", Date().timeIntervalSince(loaded))) s"
        )
        #expect(test.accuracy >= 0.88)
    }

    /// Opt-in (CONVNET_SLOW=1, minutes): the named recipes as `convnet train --recipe NAME`
    /// runs them reach their published test accuracy (BENCHMARKS.md, "Recipes").
    @Test(arguments: [(TrainingRecipe.mnist, 0.995), (TrainingRecipe.fashionMNIST, 0.935)])
    func slowNamedRecipeReachesItsAccuracy(recipe: TrainingRecipe, target: Double) throws {
        guard ProcessInfo.processInfo.environment["CONVNET_SLOW"] == "1" else {
            print("skipped: set CONVNET_SLOW=1 to run the \(recipe.rawValue) recipe")
            return
        }
        guard let shared = sharedDataDirectory() else {
            print("skipped: ../shared/data is absent")
            return
        }
        var configuration = recipe.configuration
        configuration.dataDirectory = shared.appendingPathComponent(recipe == .mnist ? "mnist" : "fashion-mnist").path
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let started = Date()
        let job = try TrainingJob(
            configuration: configuration, directory: folder, progress: ProgressBar(mode: .quiet) { _ in })
        let test = try #require(try job.run())
        print(
            "recipe \(recipe.rawValue): test accuracy \(String(format: "%.2f", 100 * test.accuracy)) % in "
                + "\(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        #expect(test.accuracy >= target)
    }
}
