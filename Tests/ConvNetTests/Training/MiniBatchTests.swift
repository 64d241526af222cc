import Testing

@testable import ConvNet

/// The learner's question, answered: one batched call gives the same loss and gradients as a
/// loop over the images of the batch (the batch gradient is the mean of per-sample
/// gradients, because every loss is averaged over the batch).
struct MiniBatchTests {
    @Test func batchEqualsMeanOfPerSampleLoop() throws {
        let network = try ThreeLayerConvNet.make(
            inputShape: [3, 8, 8], filters: 6, filterSize: 3, hiddenSize: 10, classes: 4, weightScale: 0.2, seed: 71,
            scalar: Double.self)
        let model = try Model(network: network, loss: SoftmaxCrossEntropy(), inputShape: [3, 8, 8])
        let batch = 5
        let inputs: Tensor<Double> = randomTensor([batch, 3, 8, 8], seed: 72)
        let labels = try Tensor<Double>(shape: [batch], scalars: [0, 3, 1, 1, 2])

        let batchLoss = try model.lossAndGradients(inputs: inputs, targets: labels)
        let batchGradients = model.parameters.map(\.gradient.scalars)

        var loopLoss = 0.0
        var summed = batchGradients.map { [Double](repeating: 0, count: $0.count) }
        for n in 0..<batch {
            loopLoss += try model.lossAndGradients(
                inputs: inputs.slicing(samples: n..<(n + 1)), targets: labels.slicing(samples: n..<(n + 1)))
            for (index, parameter) in model.parameters.enumerated() {
                for i in 0..<parameter.gradient.count { summed[index][i] += parameter.gradient.scalars[i] }
            }
        }
        #expect(abs(loopLoss / Double(batch) - batchLoss) < 1e-12)
        for (batched, sum) in zip(batchGradients, summed) {
            #expect(relativeError(batched, sum.map { $0 / Double(batch) }) < 1e-9)
        }
    }

    @Test func batchedScoresEqualPerSampleScores() throws {
        let network = try LeNet5.make(seed: 73, scalar: Float.self)
        let model = try Model(network: network, loss: SoftmaxCrossEntropy(), inputShape: [1, 28, 28])
        let inputs: Tensor<Float> = randomTensor([7, 1, 28, 28], seed: 74)
        let batched = try model.scores(inputs, batchSize: 7)
        let single = try model.scores(inputs, batchSize: 1)
        let worst = zip(batched.scalars, single.scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-5)
    }

    @Test func epochVisitsEverySampleOnceAndKeepsOrDropsTheLastBatch() throws {
        let model = try ModelPreset.mlp.makeModel(inputShape: [4], classes: 2, hiddenSizes: [3], scalar: Double.self)
        let inputs: Tensor<Double> = randomTensor([10, 4], seed: 75)
        let labels = try Tensor<Double>(shape: [10], scalars: [0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
        var options = SolverOptions()
        options.batchSize = 4
        options.verbose = false
        let keeping = try Solver(
            model: model, optimizer: SGD<Double>(), trainInputs: inputs, trainTargets: labels, options: options)
        let batches = keeping.epochBatches()
        #expect(batches.map(\.count) == [4, 4, 2])
        #expect(batches.flatMap { $0 }.sorted() == Array(0..<10))
        #expect(keeping.epochBatches().flatMap { $0 } != batches.flatMap { $0 }, "a new shuffle each epoch")
        options.dropLast = true
        let dropping = try Solver(
            model: model, optimizer: SGD<Double>(), trainInputs: inputs, trainTargets: labels, options: options)
        #expect(dropping.epochBatches().map(\.count) == [4, 4])
        options.batchSize = 10
        let full = try Solver(
            model: model, optimizer: SGD<Double>(), trainInputs: inputs, trainTargets: labels, options: options)
        #expect(full.epochBatches().map(\.count) == [10])
        options.batchSize = 1
        let stochastic = try Solver(
            model: model, optimizer: SGD<Double>(), trainInputs: inputs, trainTargets: labels, options: options)
        #expect(stochastic.epochBatches().count == 10)
    }
}

extension MiniBatchTests {
    /// Stopping after epoch 2 and continuing gives bit-identical weights and history to an
    /// uninterrupted run with the same seed.
    @Test func stoppedAndContinuedRunIsBitIdentical() throws {
        func makeSolver() throws -> Solver<Float> {
            let splits = try BundledData.digitsSplits(Float.self)
            let model = try ModelPreset.digitsCNN.makeModel(
                inputShape: [1, 8, 8], classes: 10, seed: 5, scalar: Float.self)
            var options = SolverOptions()
            options.learningRateDecay = 0.9
            options.batchSize = 50
            options.epochs = 4
            options.verbose = false
            return try Solver(
                model: model, optimizer: try Adam<Float>(), trainInputs: splits.train.inputs.slicing(samples: 0..<400),
                trainTargets: splits.train.labels.slicing(samples: 0..<400),
                validationInputs: splits.validation.inputs, validationTargets: splits.validation.labels,
                options: options)
        }
        let whole = try makeSolver()
        try whole.train()
        let stopped = try makeSolver()
        try stopped.train(stopAfterEpoch: 2)
        #expect(stopped.completedEpochs == 2 && stopped.history.epochs.count == 2)
        try stopped.train()
        #expect(stopped.history.iterations == whole.history.iterations)
        #expect(stopped.model.parameters.map(\.value) == whole.model.parameters.map(\.value))
    }
}
