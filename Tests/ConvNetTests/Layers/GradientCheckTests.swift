import Testing

@testable import ConvNet

/// Every layer and loss through a central-difference gradient check in Double
/// (cs231n's eval_numerical_gradient): f(x) = Σ layer(x) · dy for random dy, so that
/// d f / d x is exactly what `backward(dy)` returns. Input and parameter gradients both.
struct GradientCheckTests {
    struct LayerCase: CustomTestStringConvertible, Sendable {
        let name: String
        let inputShape: [Int]
        /// Whole networks chain 7–12 layers, each adding round-off to small gradient entries;
        /// they are held to 1e-6, every single layer to 1e-7.
        var tolerance = 1e-7
        let make: @Sendable () throws -> any Layer<Double>
        var testDescription: String { name }
    }

    static let layerCases: [LayerCase] = [
        LayerCase(name: "Dense 12→5", inputShape: [3, 12]) {
            var random = SeededRandom(seed: 1)
            return try Dense<Double>(inputSize: 12, outputSize: 5, initializer: .pytorchDefault, random: &random)
        },
        LayerCase(name: "Dense on [N, 3, 2, 2]", inputShape: [2, 3, 2, 2]) {
            var random = SeededRandom(seed: 2)
            return try Dense<Double>(inputSize: 12, outputSize: 4, initializer: .pytorchDefault, random: &random)
        },
        LayerCase(name: "Conv2D k3 s1 p1", inputShape: [2, 3, 5, 5]) {
            var random = SeededRandom(seed: 3)
            return try Conv2D<Double>(
                inputChannels: 3, outputChannels: 4, kernelSize: 3, padding: 1, initializer: .pytorchDefault,
                random: &random)
        },
        LayerCase(name: "Conv2D k3 s1 p1 by Winograd", inputShape: [3, 3, 6, 7]) {
            var random = SeededRandom(seed: 3)
            let layer = try Conv2D<Double>(
                inputChannels: 3, outputChannels: 4, kernelSize: 3, padding: 1, initializer: .pytorchDefault,
                random: &random)
            layer.setConvolutionAlgorithm(.winograd)
            return layer
        },
        LayerCase(name: "Conv2D k3 s1 p0 by Winograd, no bias", inputShape: [2, 2, 9, 5]) {
            var random = SeededRandom(seed: 33)
            let layer = try Conv2D<Double>(
                inputChannels: 2, outputChannels: 3, kernelSize: 3, bias: false, initializer: .pytorchDefault,
                random: &random)
            layer.setConvolutionAlgorithm(.winograd)
            return layer
        },
        LayerCase(name: "Conv2D k3 s2 p1", inputShape: [2, 3, 7, 7]) {
            var random = SeededRandom(seed: 4)
            return try Conv2D<Double>(
                inputChannels: 3, outputChannels: 2, kernelSize: 3, stride: 2, padding: 1, initializer: .pytorchDefault,
                random: &random)
        },
        LayerCase(name: "Conv2D k4 s2 p1", inputShape: [2, 3, 4, 4]) {
            var random = SeededRandom(seed: 5)
            return try Conv2D<Double>(
                inputChannels: 3, outputChannels: 3, kernelSize: 4, stride: 2, padding: 1, initializer: .pytorchDefault,
                random: &random)
        },
        LayerCase(name: "Conv2D k4 s3 p2", inputShape: [1, 2, 6, 6]) {
            var random = SeededRandom(seed: 6)
            return try Conv2D<Double>(
                inputChannels: 2, outputChannels: 3, kernelSize: 4, stride: 3, padding: 2, initializer: .pytorchDefault,
                random: &random)
        },
        LayerCase(name: "Conv2D k1", inputShape: [2, 2, 3, 3]) {
            var random = SeededRandom(seed: 7)
            return try Conv2D<Double>(
                inputChannels: 2, outputChannels: 3, kernelSize: 1, initializer: .pytorchDefault, random: &random)
        },
        LayerCase(name: "MaxPool2D k2 s2", inputShape: [2, 3, 4, 4]) { try MaxPool2D<Double>(kernelSize: 2) },
        LayerCase(name: "MaxPool2D k3 s2", inputShape: [2, 2, 7, 7]) {
            try MaxPool2D<Double>(kernelSize: 3, stride: 2)
        },
        LayerCase(name: "MaxPool2D k3 s1 p1", inputShape: [1, 2, 5, 5]) {
            try MaxPool2D<Double>(kernelSize: 3, stride: 1, padding: 1)
        },
        LayerCase(name: "MaxPool2D k2 s1", inputShape: [1, 2, 4, 5]) {
            try MaxPool2D<Double>(kernelSize: 2, stride: 1)
        },
        LayerCase(name: "AvgPool2D k2 s2", inputShape: [2, 3, 4, 4]) { try AvgPool2D<Double>(kernelSize: 2) },
        LayerCase(name: "AvgPool2D k3 s2 p1", inputShape: [2, 2, 7, 7]) {
            try AvgPool2D<Double>(kernelSize: 3, stride: 2, padding: 1)
        },
        LayerCase(name: "AvgPool2D k2 s3", inputShape: [1, 2, 8, 8]) {
            try AvgPool2D<Double>(kernelSize: 2, stride: 3)
        },
        LayerCase(name: "ReLU", inputShape: [4, 6]) { ReLU<Double>() },
        LayerCase(name: "Sigmoid", inputShape: [4, 6]) { Sigmoid<Double>() },
        LayerCase(name: "Tanh", inputShape: [2, 3, 2, 2]) { Tanh<Double>() },
        LayerCase(name: "Flatten", inputShape: [2, 3, 2, 2]) { Flatten<Double>() },
        LayerCase(name: "Conv2D k3 s2 p0 floor rule (8 → 3)", inputShape: [2, 2, 8, 8]) {
            var random = SeededRandom(seed: 12)
            return try Conv2D<Double>(
                inputChannels: 2, outputChannels: 3, kernelSize: 3, stride: 2, initializer: .pytorchDefault,
                random: &random)
        },
        LayerCase(name: "Conv2D k3 d2 p2", inputShape: [2, 2, 7, 6]) {
            var random = SeededRandom(seed: 13)
            return try Conv2D<Double>(
                inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: 2, dilation: 2,
                initializer: .pytorchDefault, random: &random)
        },
        LayerCase(name: "Conv2D groups 2, stride 2, no bias", inputShape: [2, 4, 7, 7]) {
            var random = SeededRandom(seed: 14)
            return try Conv2D<Double>(
                inputChannels: 4, outputChannels: 6, kernelSize: 3, stride: 2, padding: 1, groups: 2, bias: false,
                initializer: .pytorchDefault, random: &random)
        },
        LayerCase(name: "Conv2D depthwise (groups = C = F)", inputShape: [2, 3, 5, 5]) {
            var random = SeededRandom(seed: 15)
            return try Conv2D<Double>(
                inputChannels: 3, outputChannels: 3, kernelSize: 3, padding: 1, groups: 3, initializer: .pytorchDefault,
                random: &random)
        },
        LayerCase(name: "MaxPool2D k3 s2 ceil mode", inputShape: [2, 2, 6, 6]) {
            try MaxPool2D<Double>(kernelSize: 3, stride: 2, ceilMode: true)
        },
        LayerCase(name: "AvgPool2D k2 s2 p1 ceil mode", inputShape: [2, 2, 5, 5]) {
            try AvgPool2D<Double>(kernelSize: 2, stride: 2, padding: 1, ceilMode: true)
        },
        LayerCase(name: "GlobalAvgPool2D", inputShape: [2, 3, 4, 5]) { GlobalAvgPool2D<Double>() },
        LayerCase(name: "LeakyReLU 0.1", inputShape: [4, 6]) { LeakyReLU<Double>(slope: 0.1) },
        LayerCase(name: "Identity", inputShape: [2, 3, 2]) { Identity<Double>() },
        LayerCase(name: "BatchNorm2D training", inputShape: [3, 2, 3, 3]) {
            let layer = try BatchNorm2D<Double>(channels: 2)
            try setAffine(layer, seed: 16)
            return layer
        },
        LayerCase(name: "BatchNorm2D inference", inputShape: [3, 2, 3, 3]) {
            let layer = try BatchNorm2D<Double>(channels: 2)
            try setAffine(layer, seed: 17)
            layer.setMode(.inference)
            return layer
        },
        LayerCase(name: "BatchNorm2D without affine", inputShape: [2, 3, 2, 2]) {
            try BatchNorm2D<Double>(channels: 3, affine: false)
        },
        LayerCase(name: "BatchNorm1D [N, C] training", inputShape: [5, 4]) {
            let layer = try BatchNorm1D<Double>(channels: 4, epsilon: 1e-3, momentum: 0.3)
            try setAffine(layer, seed: 18)
            return layer
        },
        LayerCase(name: "BatchNorm1D [N, C, L] inference", inputShape: [3, 2, 4]) {
            let layer = try BatchNorm1D<Double>(channels: 2)
            try setAffine(layer, seed: 19)
            layer.setMode(.inference)
            return layer
        },
        LayerCase(name: "Dropout p=0.4 training", inputShape: [4, 6]) {
            try Dropout<Double>(probability: 0.4, seed: 3)
        },
        LayerCase(name: "Dropout inference", inputShape: [4, 6]) {
            let layer = try Dropout<Double>(probability: 0.4, seed: 3)
            layer.setMode(.inference)
            return layer
        },
        LayerCase(name: "Residual, identity shortcut", inputShape: [2, 2, 4, 4]) {
            // The branches hold no BatchNorm (its row is above; a convolution's bias right before
            // one has a gradient of exactly 0, which leaves the relative error to round-off).
            try ModelSpec(parsing: "res(conv(2,k=3,p=1) relu conv(2,k=3,p=1))")
                .makeNetwork(inputShape: [2, 4, 4], initializer: .pytorchDefault, seed: 20, scalar: Double.self)
        },
        LayerCase(name: "Residual, projection shortcut", inputShape: [2, 2, 5, 5]) {
            try ModelSpec(parsing: "res(conv(3,k=3,s=2,p=1) relu conv(3,k=3,p=1) | conv(3,k=1,s=2)) relu")
                .makeNetwork(inputShape: [2, 5, 5], initializer: .pytorchDefault, seed: 21, scalar: Double.self)
        },
        LayerCase(name: "BasicBlock stride 1", inputShape: [2, 3, 4, 4]) {
            var random = SeededRandom(seed: 22)
            return try BasicBlock<Double>(inputChannels: 3, planes: 3, initializer: .pytorchDefault, random: &random)
        },
        LayerCase(name: "BasicBlock stride 2 with projection", inputShape: [2, 2, 5, 5]) {
            var random = SeededRandom(seed: 23)
            return try BasicBlock<Double>(
                inputChannels: 2, planes: 4, stride: 2, initializer: .pytorchDefault, random: &random)
        },
        LayerCase(name: "Sequential ThreeLayerConvNet", inputShape: [2, 3, 8, 8], tolerance: 1e-6) {
            try ThreeLayerConvNet.make(
                inputShape: [3, 8, 8], filters: 4, filterSize: 3, hiddenSize: 7, classes: 5, weightScale: 0.3,
                seed: 8, scalar: Double.self)
        },
        LayerCase(name: "Sequential LeNet5 on 12x12", inputShape: [2, 1, 12, 12], tolerance: 1e-6) {
            try LeNet5.make(inputShape: [1, 12, 12], classes: 3, seed: 9, scalar: Double.self)
        },
    ]

    /// Gives a BatchNorm random γ, β and running statistics (so that no term is trivially 0 or 1).
    static func setAffine<Layout>(_ layer: BatchNormalization<Double, Layout>, seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let c = layer.channels
        layer.weight!.value = try Tensor(shape: [c], scalars: (0..<c).map { _ in random.uniform(in: 0.5, 1.5) })
        layer.bias!.value = try Tensor(shape: [c], scalars: (0..<c).map { _ in random.uniform(in: -0.5, 0.5) })
        layer.runningMean.values = try Tensor(shape: [c], scalars: (0..<c).map { _ in random.uniform(in: -0.5, 0.5) })
        layer.runningVariance.values = try Tensor(shape: [c], scalars: (0..<c).map { _ in random.uniform(in: 0.5, 2) })
    }

    @Test(arguments: layerCases)
    func layerGradients(_ testCase: LayerCase) throws {
        let errors = try GradientCheck.check(try testCase.make(), inputShape: testCase.inputShape, seed: 11)
        let worst = errors.parameterErrors.map(\.error).reduce(errors.inputError, max)
        print("gradient check \(testCase.name): max relative error \(worst)")
        #expect(
            errors.inputError < testCase.tolerance,
            "\(testCase.name) input gradient relative error \(errors.inputError)")
        for (name, error) in errors.parameterErrors {
            #expect(error < testCase.tolerance, "\(testCase.name) \(name) gradient relative error \(error)")
        }
    }

    /// The per-layer check of a whole network (what `convnet gradcheck` prints). Held to 1e-6
    /// like the whole-network rows: a random input to a 3-output Dense layer makes some input
    /// gradients sums of three terms that nearly cancel, where round-off alone reaches ~1e-6
    /// relative.
    @Test func everyLayerOfLeNet() throws {
        let results = try GradientCheck.check(
            network: LeNet5.make(inputShape: [1, 12, 12], classes: 3, seed: 2, scalar: Double.self),
            inputShape: [1, 12, 12])
        #expect(results.count == 12)
        for result in results {
            #expect(result.largestError < 1e-6, "\(result.index) \(result.layer): \(result.largestError)")
        }
    }

    struct LossCase: CustomTestStringConvertible, Sendable {
        let name: String
        let loss: any Loss
        let scores: Tensor<Double>
        let targets: Tensor<Double>
        var testDescription: String { name }
    }

    static let lossCases: [LossCase] = {
        let labels = try! Tensor<Double>(shape: [5], scalars: [0, 3, 1, 2, 3])
        var random = SeededRandom(seed: 21)
        let probabilities = try! Tensor<Double>(
            shape: [3, 4], scalars: (0..<12).map { _ in random.uniform(in: 0.05, 0.95) })
        let binaryTargets = try! Tensor<Double>(
            shape: [3, 4], scalars: (0..<12).map { _ in random.uniform() < 0.5 ? 0 : 1 })
        return [
            LossCase(
                name: "SoftmaxCrossEntropy", loss: SoftmaxCrossEntropy(), scores: randomTensor([5, 4], seed: 22),
                targets: labels),
            LossCase(
                name: "MulticlassHinge", loss: MulticlassHinge(), scores: randomTensor([5, 4], seed: 23),
                targets: labels),
            LossCase(
                name: "MeanSquaredError", loss: MeanSquaredError(), scores: randomTensor([3, 4], seed: 24),
                targets: randomTensor([3, 4], seed: 25)),
            LossCase(
                name: "BinaryCrossEntropy", loss: BinaryCrossEntropy(), scores: probabilities, targets: binaryTargets),
        ]
    }()

    @Test(arguments: lossCases)
    func lossGradient(_ testCase: LossCase) throws {
        let analytic = try testCase.loss.evaluate(scores: testCase.scores, targets: testCase.targets).gradient
        let numeric = try GradientCheck.numericGradient(at: testCase.scores) {
            try testCase.loss.evaluate(scores: $0, targets: testCase.targets).loss
        }
        let error = relativeError(analytic.scalars, numeric)
        print("gradient check \(testCase.name): max relative error \(error)")
        #expect(error < 1e-7)
    }

    @Test func l2RegularizationGradient() throws {
        let network = try ThreeLayerConvNet.make(
            inputShape: [1, 6, 6], filters: 3, filterSize: 3, hiddenSize: 5, classes: 4, weightScale: 0.3, seed: 31,
            scalar: Double.self)
        let model = try Model(
            network: network, loss: SoftmaxCrossEntropy(), inputShape: [1, 6, 6], regularization: 0.7)
        let inputs: Tensor<Double> = randomTensor([3, 1, 6, 6], seed: 32)
        let labels = try Tensor<Double>(shape: [3], scalars: [0, 3, 2])
        _ = try model.lossAndGradients(inputs: inputs, targets: labels)
        var worst = 0.0
        for parameter in model.parameters {
            let analytic = parameter.gradient.scalars
            let value = parameter.value
            let numeric = try GradientCheck.numericGradient(at: value) {
                parameter.value = $0
                let scores = try network.forward(inputs)
                return try model.loss.evaluate(scores: scores, targets: labels).loss + model.regularizationLoss
            }
            parameter.value = value
            worst = max(worst, relativeError(analytic, numeric))
        }
        print("gradient check Model with L2 (reg 0.7): max relative error \(worst)")
        #expect(worst < 1e-7)
    }
}
