import Testing

@testable import ConvNet

struct ModelTests {
    /// Parameter names and shapes are those of PyTorch's `nn.Sequential(...).state_dict()`.
    @Test func threeLayerConvNetStateDictNames() throws {
        let network = try ThreeLayerConvNet.make(scalar: Float.self)
        let names = network.namedParameters.map(\.name)
        let shapes = network.namedParameters.map(\.parameter.value.shape)
        #expect(names == ["0.weight", "0.bias", "4.weight", "4.bias", "6.weight", "6.bias"])
        #expect(shapes == [[32, 3, 7, 7], [32], [100, 8192], [100], [10, 100], [10]])
        // Classic initialisation: weights weightScale·N(0, 1), biases zero.
        #expect(network.namedParameters[1].parameter.value.scalars.allSatisfy { $0 == 0 })
        let weights = network.namedParameters[0].parameter.value.scalars
        #expect(weights.map(abs).max()! < 6e-3 && weights.contains { $0 != 0 })
    }

    /// The FLOP counts match the benchmark README: W1 33.8 M and W2 2.50 M FLOPs per training
    /// image (3 × forward, 2 FLOPs per multiply–add).
    @Test func summaryCountsFlopsAndParameters() throws {
        let w1 = try ModelSummary(ThreeLayerConvNet.make(scalar: Float.self), inputShape: [3, 32, 32])
        #expect(w1.totalMultiplyAdds == 32 * 1024 * 147 + 8192 * 100 + 100 * 10)
        #expect(abs(Double(3 * w1.forwardFlops) / 1e6 - 33.8) < 0.05)
        #expect(w1.totalParameters == 32 * 147 + 32 + 8192 * 100 + 100 + 1000 + 10)
        #expect(
            w1.layers.map(\.outputShape) == [[32, 32, 32], [32, 32, 32], [32, 16, 16], [8192], [100], [100], [10]])
        let w2 = try ModelSummary(LeNet5.make(scalar: Float.self), inputShape: [1, 28, 28])
        #expect(abs(Double(3 * w2.forwardFlops) / 1e6 - 2.50) < 0.01)
        #expect(w2.text.contains("total parameters: 61706"))
    }

    @Test func presetsBuildForTheirInputs() throws {
        for preset in ModelPreset.allCases {
            let shape = preset == .xor ? [2] : preset == .lenet5 ? [1, 28, 28] : [1, 8, 8]
            let model = try preset.makeModel(inputShape: shape, classes: preset == .xor ? 1 : 10, scalar: Float.self)
            let scores = try model.scores(Tensor(zeros: [3] + shape))
            #expect(scores.shape == [3, preset == .xor ? 1 : 10], "\(preset)")
        }
        #expect(throws: ConvNetError.self) { try ThreeLayerConvNet.make(inputShape: [3, 32], scalar: Float.self) }
    }

    /// The README's first Swift example, run for two epochs.
    @Test func readmeExample() throws {
        let data = try BundledData.digitsSplits(Float.self)
        let model = try ModelPreset.digitsCNN.makeModel(inputShape: [1, 8, 8], classes: 10, scalar: Float.self)
        var options = SolverOptions()
        options.batchSize = 32
        options.epochs = 2
        options.verbose = false
        let solver = try Solver(
            model: model, optimizer: UpdateRule(named: "adam").makeOptimizer(configuration: ["learning_rate": 2e-3]),
            trainInputs: data.train.inputs, trainTargets: data.train.labels,
            validationInputs: data.validation.inputs, validationTargets: data.validation.labels, options: options)
        try solver.train()
        let result = try solver.evaluate(data.test.inputs, data.test.labels)
        #expect(result.accuracy > 0.8)
    }
}
