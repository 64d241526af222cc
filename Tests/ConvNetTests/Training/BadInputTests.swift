import Testing

@testable import ConvNet

/// Bad input to the public API is a thrown `ConvNetError` with a message, never a trap.
struct BadInputTests {
    func makeModel() throws -> Model<Float> {
        try ModelPreset.digitsCNN.makeModel(inputShape: [1, 8, 8], classes: 10, scalar: Float.self)
    }

    @Test func shapeMismatch() throws {
        let model = try makeModel()
        let text = thrownMessage { _ = try model.scores(Tensor(zeros: [2, 3, 8, 8])) }
        #expect(text?.contains("[N, 1, 8, 8]") == true, "\(text ?? "no error")")
        #expect(
            thrownMessage { _ = try Tensor<Float>(shape: [2, 3], scalars: [1, 2]) }?.contains("needs 6 elements")
                == true)
        var random = SeededRandom(seed: 0)
        let dense = try Dense<Float>(inputSize: 4, outputSize: 2, random: &random)
        #expect(
            thrownMessage { _ = try dense.forward(Tensor(zeros: [3, 5])) }?.contains("expects samples of 4 values")
                == true)
        #expect(thrownMessage { _ = try ReLU<Float>().backward(Tensor(zeros: [2])) } != nil)
    }

    @Test func labelCountAndRange() throws {
        let model = try makeModel()
        let inputs = Tensor<Float>(zeros: [4, 1, 8, 8])
        let countText = thrownMessage {
            _ = try Solver(model: model, optimizer: SGD<Float>(), trainInputs: inputs, trainTargets: Tensor(zeros: [3]))
        }
        #expect(countText?.contains("4 samples but 3 targets") == true, "\(countText ?? "no error")")
        let rangeText = thrownMessage {
            _ = try Solver(
                model: model, optimizer: SGD<Float>(), trainInputs: inputs,
                trainTargets: try Tensor(shape: [4], scalars: [0, 1, 10, 2]))
        }
        #expect(rangeText?.contains("label 10.0 at index 2") == true, "\(rangeText ?? "no error")")
        #expect(
            thrownMessage {
                _ = try SoftmaxCrossEntropy().evaluate(
                    scores: Tensor<Float>(zeros: [2, 3]), targets: try Tensor(shape: [2], scalars: [0.5, 1]))
            } != nil)
        #expect(
            thrownMessage {
                _ = try MeanSquaredError().evaluate(
                    scores: Tensor<Float>(zeros: [2, 3]), targets: Tensor(zeros: [2, 2]))
            } != nil)
    }

    @Test func nonFiniteInput() throws {
        let model = try makeModel()
        var inputs = Tensor<Float>(zeros: [4, 1, 8, 8])
        inputs[2, 0, 3, 3] = .nan
        let text = thrownMessage {
            _ = try Solver(model: model, optimizer: SGD<Float>(), trainInputs: inputs, trainTargets: Tensor(zeros: [4]))
        }
        #expect(text?.contains("nan") == true, "\(text ?? "no error")")
        #expect(thrownMessage { _ = try model.scores(inputs) } != nil)
    }

    @Test func unknownOptionsAndRules() throws {
        let model = try makeModel()
        let inputs = Tensor<Float>(zeros: [4, 1, 8, 8])
        #expect(thrownMessage { _ = try UpdateRule(named: "lion") }?.contains("unknown update rule 'lion'") == true)
        #expect(
            thrownMessage { _ = try UpdateRule.sgd.makeOptimizer(configuration: ["beta1": 0.9], scalar: Float.self) }?
                .contains("unknown option 'beta1'") == true)
        var options = SolverOptions()
        options.batchSize = 0
        #expect(
            thrownMessage {
                _ = try Solver(
                    model: model, optimizer: SGD<Float>(), trainInputs: inputs, trainTargets: Tensor(zeros: [4]),
                    options: options)
            } != nil)
        options.batchSize = 4
        options.learningRateDecay = 1.5
        #expect(
            thrownMessage {
                _ = try Solver(
                    model: model, optimizer: SGD<Float>(), trainInputs: inputs, trainTargets: Tensor(zeros: [4]),
                    options: options)
            } != nil)
        #expect(thrownMessage { _ = try ModelPreset(named: "resnet") }?.contains("unknown model 'resnet'") == true)
    }

    @Test func divergenceIsReported() throws {
        let model = try ModelPreset.mlp.makeModel(inputShape: [4], classes: 2, hiddenSizes: [8], scalar: Float.self)
        var options = SolverOptions()
        options.verbose = false
        options.epochs = 5
        let inputs: Tensor<Float> = randomTensor([8, 4], seed: 91, scale: 100)
        let solver = try Solver(
            model: model, optimizer: SGD<Float>(learningRate: 1e30), trainInputs: inputs,
            trainTargets: try Tensor(shape: [8], scalars: [0, 1, 0, 1, 0, 1, 0, 1]), options: options)
        #expect(throws: ConvNetError.self) { try solver.train() }
    }
}
