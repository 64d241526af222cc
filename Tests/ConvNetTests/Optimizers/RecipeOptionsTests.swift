import Foundation
import Testing

@testable import ConvNet

/// The modern-recipe options against PyTorch, run live by `torch_options.py` beside this file
/// (skipped with a reason without PyTorch): weight decay for every update rule and AdamW over six
/// steps, every learning-rate schedule step by step, label smoothing's loss and gradient,
/// gradient clipping by global norm — all in Double, to 1e-12. Then the options without a
/// PyTorch counterpart to compare with: early stopping, augmentation, the recipes.
struct RecipeOptionsTests {
    static func reference() throws -> [String: Any]? {
        guard let python = torchPython() else { return nil }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "torch_options.py")
        let result = try #require(runPython(try String(contentsOf: script, encoding: .utf8), python: python))
        #expect(result.status == 0, "\(result.output)")
        guard result.status == 0, let line = result.output.split(separator: "\n").last else { return nil }
        return try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }

    static func doubles(_ value: Any?) -> [Double] {
        (value as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.doubleValue }
    }

    @Test func optimizersSchedulesLossAndClippingMatchPyTorch() throws {
        guard let reference = try Self.reference() else {
            print("skipped: no python with torch (set CONVNET_TORCH_PYTHON or make .venv)")
            return
        }
        // Weight decay and AdamW, six steps on ½ Σ aᵢ wᵢ².
        let optimizers: [(String, String, [String: Double])] = [
            ("sgd_wd", "sgd", ["learning_rate": 0.1, "weight_decay": 0.05]),
            ("sgd_momentum_wd", "sgd_momentum", ["learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.05]),
            ("nesterov_wd", "nesterov", ["learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.05]),
            ("rmsprop_wd", "rmsprop", ["learning_rate": 0.01, "weight_decay": 0.05]),
            ("adam_wd", "adam", ["learning_rate": 0.01, "weight_decay": 0.05]),
            ("adamw", "adamw", ["learning_rate": 0.01]),
            ("adamw_wd", "adamw", ["learning_rate": 0.01, "weight_decay": 0.3]),
            ("adagrad_wd", "adagrad", ["learning_rate": 0.1, "weight_decay": 0.05]),
        ]
        let expectedSteps = try #require(reference["optimizers"] as? [String: [[Double]]])
        for (key, rule, configuration) in optimizers {
            let optimizer = try UpdateRule(named: rule).makeOptimizer(configuration: configuration, scalar: Double.self)
            let curvature = Tensor<Double>(linearlySpacedFrom: 0.5, to: 2.0, shape: [12])
            let parameter = Parameter(
                name: "weight", value: Tensor<Double>(linearlySpacedFrom: -0.4, to: 0.6, shape: [12]),
                isRegularized: true)
            for step in 0..<6 {
                parameter.gradient.scalars = zip(curvature.scalars, parameter.value.scalars).map { $0 * $1 }
                try optimizer.update([parameter])
                let error = relativeError(parameter.value.scalars, try #require(expectedSteps[key])[step])
                #expect(error < 1e-12, "\(key) step \(step + 1): relative error \(error)")
            }
        }
        // Schedules: 5 epochs of 7 iterations at base 0.1.
        let schedules: [(String, LearningRateSchedule)] = [
            ("step", LearningRateSchedule(.step(every: 2, gamma: 0.5))),
            ("multistep", LearningRateSchedule(.multistep(milestones: [1, 3], gamma: 0.3))),
            ("exponential", LearningRateSchedule(.exponential(gamma: 0.8))),
            ("cosine", LearningRateSchedule(.cosine(minimum: 0.001))),
            (
                "cosine_iteration_warmup",
                LearningRateSchedule(.cosine(minimum: 0), unit: .iteration, warmup: 6, warmupStartFactor: 0.2)
            ),
            (
                "onecycle",
                LearningRateSchedule(.oneCycle(pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4), unit: .iteration)
            ),
        ]
        let expectedRates = try #require(reference["schedules"] as? [String: [Double]])
        for (key, schedule) in schedules {
            let rates = (0..<35).map {
                schedule.rate(base: 0.1, iteration: $0, epoch: $0 / 7, epochs: 5, iterationsPerEpoch: 7)
            }
            let error = relativeError(rates, try #require(expectedRates[key]))
            #expect(error < 1e-12, "schedule \(key): relative error \(error)\n\(rates)\n\(expectedRates[key]!)")
        }
        // Label smoothing 0.1.
        let smoothing = try #require(reference["label_smoothing"] as? [String: Any])
        let scores = try Tensor<Double>(shape: [4, 5], scalars: (smoothing["scores"] as! [[Double]]).flatMap { $0 })
        let labels = try Tensor<Double>(shape: [4], scalars: Self.doubles(smoothing["labels"]))
        let value = try SoftmaxCrossEntropy(labelSmoothing: 0.1).evaluate(scores: scores, targets: labels)
        let expectedLoss = (smoothing["loss"] as! NSNumber).doubleValue
        #expect(
            abs(value.loss - expectedLoss) < 1e-12 * abs(expectedLoss),
            "label smoothing loss \(value.loss) vs \(expectedLoss)")
        #expect(relativeError(value.gradient.scalars, (smoothing["gradient"] as! [[Double]]).flatMap { $0 }) < 1e-12)
        // Gradient clipping by global norm (clipping, and a bound it does not reach).
        for case let entry as [String: Any] in try #require(reference["clip"] as? [Any]) {
            let first = Parameter(name: "a", value: Tensor<Double>(zeros: [6]), isRegularized: true)
            let second = Parameter(name: "b", value: Tensor<Double>(zeros: [4]), isRegularized: true)
            first.gradient = Tensor(linearlySpacedFrom: -1, to: 2, shape: [6])
            second.gradient = Tensor(linearlySpacedFrom: 0.5, to: -3, shape: [4])
            let norm = Solver<Double>.clipGradients(
                [first, second], maxNorm: (entry["max_norm"] as! NSNumber).doubleValue)
            #expect(abs(norm - (entry["norm"] as! NSNumber).doubleValue) < 1e-12)
            #expect(relativeError(first.gradient.scalars, Self.doubles(entry["g1"])) < 1e-12)
            #expect(relativeError(second.gradient.scalars, Self.doubles(entry["g2"])) < 1e-12)
        }
    }

    @Test func earlyStoppingCountsEpochsSinceTheBest() {
        func history(_ accuracies: [Double], losses: [Double]? = nil) -> TrainingHistory {
            var history = TrainingHistory()
            history.epochs = accuracies.enumerated().map {
                EpochRecord(
                    epoch: $0.offset + 1, validationLoss: losses?[$0.offset], validationAccuracy: $0.element, seconds: 1
                )
            }
            return history
        }
        let patience2 = EarlyStopping(patience: 2)
        #expect(!patience2.shouldStop(history([0.5, 0.6, 0.6])))
        #expect(patience2.shouldStop(history([0.5, 0.6, 0.6, 0.59])))
        #expect(!patience2.shouldStop(history([0.5, 0.6, 0.6, 0.61])))
        #expect(EarlyStopping(patience: 1, minimumDelta: 0.02).shouldStop(history([0.5, 0.51])))
        let byLoss = EarlyStopping(metric: .validationLoss, patience: 1)
        #expect(!byLoss.shouldStop(history([0.5, 0.5], losses: [1.0, 0.9])))
        #expect(byLoss.shouldStop(history([0.5, 0.9], losses: [1.0, 1.1])))
    }

    @Test func augmentationShiftsFlipsAndIsSeeded() throws {
        // One 1×3×4 image with values 1…12; a translation by up to 1 pixel (25 % of 4).
        let image = try Tensor<Float>(shape: [1, 1, 3, 4], scalars: (1...12).map(Float.init))
        let flip = BatchAugmenter<Float>(Augmentation(horizontalFlip: true), seed: 3)
        var seen = Set<[Float]>()
        for _ in 0..<40 { seen.insert(try flip.apply(image).scalars) }
        #expect(seen == [image.scalars, [4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9]])
        let shift = BatchAugmenter<Float>(Augmentation(translate: 0.25), seed: 4)
        var shifted = Set<[Float]>()
        for _ in 0..<200 {
            let out = try shift.apply(image).scalars
            // Every pixel is either 0 or the pixel one step away in each axis at most.
            shifted.insert(out)
        }
        #expect(shifted.contains([0, 0, 0, 0, 0, 1, 2, 3, 0, 5, 6, 7]))  // dy = −1, dx = −1
        #expect(shifted.contains([6, 7, 8, 0, 10, 11, 12, 0, 0, 0, 0, 0]))  // dy = +1, dx = +1
        #expect(shifted.count == 9)  // dy, dx ∈ {−1, 0, 1}
        // Crop with padding 2 on a batch: each sample drawn on its own; same seed, same batch.
        let batch: Tensor<Float> = randomTensor([16, 2, 5, 5], seed: 5)
        let a = BatchAugmenter<Float>(Augmentation(cropPadding: 2, horizontalFlip: true), seed: 9)
        let b = BatchAugmenter<Float>(Augmentation(cropPadding: 2, horizontalFlip: true), seed: 9)
        let first = try a.apply(batch)
        #expect(try b.apply(batch) == first)
        #expect(try a.apply(batch) != first)
        #expect(first.scalars.filter { $0 == 0 }.count > 0)
        #expect(
            try Augmentation(parsing: "crop=4, flip,translate=0.1")
                == Augmentation(cropPadding: 4, horizontalFlip: true, translate: 0.1))
        #expect(try Augmentation(parsing: "none").isIdentity)
        #expect(
            thrownMessage { _ = try Augmentation(parsing: "rotate=10") }?.contains("unknown augmentation 'rotate=10'")
                == true)
        #expect(
            thrownMessage {
                _ = try BatchAugmenter<Float>(Augmentation(horizontalFlip: true), seed: 1).apply(Tensor(zeros: [2, 6]))
            } != nil)
    }

    /// A short recipe in the suite: augmentation (crop + flip), a one-cycle schedule per
    /// iteration with warm-up, weight decay, label smoothing, gradient clipping and BatchNorm +
    /// Dropout on a subset of the bundled digits train and resume bit-identically.
    @Test func shortRecipeResumesBitIdentically() throws {
        func configuration() -> TrainingConfiguration {
            var configuration = TrainingConfiguration()
            configuration.trainingCount = 320
            configuration.validationCount = 100
            configuration.spec =
                "conv(8,k=3,p=1,bias=false) bn relu conv(16,k=3,s=2,p=1,bias=false) bn relu dropout(0.2) flatten dense(10)"
            configuration.initScheme = "pytorch"
            configuration.updateRule = "nesterov"
            configuration.learningRate = 0.1
            configuration.momentum = 0.9
            configuration.weightDecay = 5e-4
            configuration.labelSmoothing = 0.1
            configuration.gradientClipNorm = 5
            configuration.schedule = LearningRateSchedule(
                .oneCycle(pctStart: 0.3, divFactor: 10, finalDivFactor: 100), unit: .iteration, warmup: 3)
            configuration.augmentation = Augmentation(cropPadding: 1, horizontalFlip: true)
            configuration.earlyStopping = EarlyStopping(patience: 10)
            configuration.trackTestAccuracy = true
            configuration.batchSize = 32
            configuration.epochs = 4
            configuration.seed = 5
            return configuration
        }
        let quiet = ProgressBar(mode: .quiet) { _ in }
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("convnet-recipe-\(getpid())")
        let whole = base.appendingPathComponent("whole")
        let parts = base.appendingPathComponent("parts")
        defer { try? FileManager.default.removeItem(at: base) }
        for directory in [whole, parts] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        let uninterrupted = try TrainingJob(configuration: configuration(), directory: whole, progress: quiet)
        let expected = try #require(try uninterrupted.run())
        let first = try TrainingJob(configuration: configuration(), directory: parts, progress: quiet)
        #expect(try first.run(stopAfterEpoch: 2) == nil)
        let resumed = try TrainingJob(resuming: parts, progress: quiet)
        let result = try #require(try resumed.run())
        #expect(result.accuracy == expected.accuracy && result.loss == expected.loss)
        #expect(resumed.solver.history.iterations == uninterrupted.solver.history.iterations)
        #expect(resumed.model.snapshot() == uninterrupted.model.snapshot())
        for name in [TrainingJob.lastCheckpointName, TrainingJob.bestCheckpointName, "metrics.csv"] {
            #expect(
                try Data(contentsOf: whole.appendingPathComponent(name))
                    == Data(contentsOf: parts.appendingPathComponent(name)), "\(name)")
        }
        // The schedule shaped the rates: warm-up, a peak of 0.1, a final rate far below it.
        let rates = uninterrupted.solver.history.iterations.map(\.learningRate)
        #expect(abs((rates.max() ?? 0) - 0.1) < 0.01 && rates.last! < 0.01 && rates[0] < rates[5])
        #expect(uninterrupted.solver.history.epochs.allSatisfy { $0.testAccuracy != nil && $0.elapsedSeconds != nil })
        #expect(expected.accuracy > 0.5, "the short recipe learns: test accuracy \(expected.accuracy)")
    }

    @Test func recipesAreCompleteAndOverridable() throws {
        for recipe in TrainingRecipe.allCases {
            let configuration = recipe.configuration
            _ = try configuration.solverOptions()
            #expect(try ModelSpec(parsing: configuration.spec!).outputShape(forInputShape: [1, 28, 28]) == [10])
            #expect(recipe.summary.contains(recipe.rawValue) && recipe.summary.contains("epochs"))
        }
        #expect(thrownMessage { _ = try TrainingRecipe(named: "cifar") }?.contains("unknown recipe 'cifar'") == true)
        var both = TrainingRecipe.mnist.configuration
        both.learningRateDecay = 0.9
        #expect(thrownMessage { _ = try both.solverOptions() }?.contains("not both") == true)
    }
}
