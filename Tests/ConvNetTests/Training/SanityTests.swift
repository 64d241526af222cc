import Foundation
import Testing

@testable import ConvNet

/// The classic sanity checks that catch real bugs.
struct SanityTests {
    /// With tiny weights every class gets probability ≈ 1/10, so the loss is ≈ ln 10.
    @Test func initialSoftmaxLossIsLogOfClassCount() throws {
        let network = try ThreeLayerConvNet.make(
            inputShape: [3, 16, 16], weightScale: 1e-3, seed: 81, scalar: Double.self)
        let model = try Model(network: network, loss: SoftmaxCrossEntropy(), inputShape: [3, 16, 16])
        let inputs: Tensor<Double> = randomTensor([20, 3, 16, 16], seed: 82)
        let labels = try Tensor<Double>(shape: [20], scalars: (0..<20).map { Double($0 % 10) })
        let loss = try model.lossAndGradients(inputs: inputs, targets: labels)
        #expect(abs(loss - log(10)) < 1e-3, "initial loss \(loss), ln 10 = \(log(10.0))")
        // Regularisation adds to it.
        model.regularization = 10
        #expect(try model.lossAndGradients(inputs: inputs, targets: labels) > loss)
    }

    /// The classic ThreeLayerConvNet overfits 50 samples to 100 % (weight scale 1e-2 and Adam, as in
    /// the classic overfitting check).
    @Test func threeLayerConvNetOverfitsFiftySamples() throws {
        let digits = try BundledData.digits(Float.self).subset(0..<50)
        let model = try ModelPreset.threeLayerConvNet.makeModel(
            inputShape: digits.sampleShape, classes: 10, weightScale: 1e-2, seed: 83, scalar: Float.self)
        var options = SolverOptions()
        options.batchSize = 10
        options.epochs = 30
        options.verbose = false
        let solver = try Solver(
            model: model, optimizer: UpdateRule(named: "adam").makeOptimizer(configuration: ["learning_rate": 2e-3]),
            trainInputs: digits.inputs, trainTargets: digits.labels, options: options)
        let history = try solver.train()
        let final = try solver.evaluate(digits.inputs, digits.labels)
        print("overfit 50 samples: train accuracy \(final.accuracy), loss \(history.iterations.last!.loss)")
        #expect(final.accuracy == 1)
    }

    /// XOR with the 2-4-1 sigmoid net converges with full-batch, mini-batch and stochastic
    /// gradient descent: one code path, three batch sizes.
    @Test(arguments: [4, 2, 1])
    func xorConverges(batchSize: Int) throws {
        let model = try ModelPreset.xor.makeModel(inputShape: [2], classes: 1, seed: 1, scalar: Double.self)
        var options = SolverOptions()
        options.batchSize = batchSize
        options.epochs = 5000
        options.verbose = false
        let solver = try Solver(
            model: model, optimizer: UpdateRule(named: "sgd").makeOptimizer(configuration: ["learning_rate": 2]),
            trainInputs: XORNet.inputs(), trainTargets: XORNet.targets(), options: options)
        try solver.train()
        let result = try solver.evaluate(XORNet.inputs(), XORNet.targets())
        let scores = try model.scores(XORNet.inputs()).scalars
        print("xor batch \(batchSize): outputs \(scores.map { (($0 * 1e4).rounded() / 1e4) }), loss \(result.loss)")
        #expect(result.accuracy == 1)
        #expect(result.loss < 0.05)
    }

    /// The bundled digits train to high accuracy quickly (the main job, in small).
    @Test func digitsCNNLearns() throws {
        let splits = try BundledData.digitsSplits(Float.self)
        #expect(splits.train.count == 1257 && splits.validation.count == 270 && splits.test.count == 270)
        let model = try ModelPreset.digitsCNN.makeModel(inputShape: [1, 8, 8], classes: 10, scalar: Float.self)
        var options = SolverOptions()
        options.batchSize = 32
        options.epochs = 4
        options.verbose = false
        let solver = try Solver(
            model: model, optimizer: try Adam<Float>(learningRate: 2e-3), trainInputs: splits.train.inputs,
            trainTargets: splits.train.labels,
            validationInputs: splits.validation.inputs, validationTargets: splits.validation.labels, options: options)
        let history = try solver.train()
        #expect(history.epochs.count == 4)
        #expect(history.iterations.count == 4 * 40)
        #expect(history.bestValidationAccuracy! > 0.9)
        // The best epoch's weights are the ones left in the model.
        let validation = try solver.evaluate(splits.validation.inputs, splits.validation.labels)
        #expect(abs(validation.accuracy - history.bestValidationAccuracy!) < 1e-12)
    }
}
