import Testing
@testable import ConvNet

/// Float and Double forward passes agree for every layer: the same weights (built from the
/// same seed) on the same inputs give outputs within Float precision.
struct PrecisionAgreementTests {

    func compare(_ name: String, inputShape: [Int], _ make: (inout SeededRandom) throws -> (any Layer<Float>, any Layer<Double>)) throws {
        var random = SeededRandom(seed: 51)
        let (single, double) = try make(&random)
        for (target, source) in zip(single.parameters, double.parameters) { target.value = source.value.converted() }
        let input: Tensor<Double> = randomTensor(inputShape, seed: 52)
        let reference = try double.forward(input)
        let output = try single.forward(input.converted(to: Float.self))
        #expect(output.shape == reference.shape, "\(name)")
        let scale = max(reference.scalars.map(abs).max() ?? 1, 1)
        let worst = zip(output.scalars, reference.scalars).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst / scale < 1e-5, "\(name): largest difference \(worst)")
    }

    @Test func everyLayerAgrees() throws {
        try compare("Dense", inputShape: [4, 10]) { random in
            var copy = random
            return (try Dense<Float>(inputSize: 10, outputSize: 7, random: &random), try Dense<Double>(inputSize: 10, outputSize: 7, random: &copy))
        }
        try compare("Conv2D", inputShape: [2, 3, 9, 9]) { random in
            var copy = random
            return (
                try Conv2D<Float>(inputChannels: 3, outputChannels: 5, kernelSize: 3, stride: 2, padding: 1, random: &random),
                try Conv2D<Double>(inputChannels: 3, outputChannels: 5, kernelSize: 3, stride: 2, padding: 1, random: &copy))
        }
        try compare("MaxPool2D", inputShape: [2, 3, 7, 7]) { _ in
            (try MaxPool2D<Float>(kernelSize: 3, stride: 2), try MaxPool2D<Double>(kernelSize: 3, stride: 2))
        }
        try compare("AvgPool2D", inputShape: [2, 3, 7, 7]) { _ in
            (try AvgPool2D<Float>(kernelSize: 3, stride: 2, padding: 1), try AvgPool2D<Double>(kernelSize: 3, stride: 2, padding: 1))
        }
        try compare("ReLU", inputShape: [3, 8]) { _ in (ReLU<Float>(), ReLU<Double>()) }
        try compare("Sigmoid", inputShape: [3, 8]) { _ in (Sigmoid<Float>(), Sigmoid<Double>()) }
        try compare("Tanh", inputShape: [3, 8]) { _ in (Tanh<Float>(), Tanh<Double>()) }
        try compare("Flatten", inputShape: [2, 3, 4, 4]) { _ in (Flatten<Float>(), Flatten<Double>()) }
        try compare("ThreeLayerConvNet", inputShape: [2, 3, 16, 16]) { _ in
            (try ThreeLayerConvNet.make(inputShape: [3, 16, 16], weightScale: 0.05, seed: 3, scalar: Float.self),
             try ThreeLayerConvNet.make(inputShape: [3, 16, 16], weightScale: 0.05, seed: 3, scalar: Double.self))
        }
        try compare("LeNet5", inputShape: [3, 1, 28, 28]) { _ in
            (try LeNet5.make(seed: 4, scalar: Float.self), try LeNet5.make(seed: 4, scalar: Double.self))
        }
    }

    @Test func everyLossAgrees() throws {
        let scores: Tensor<Double> = randomTensor([6, 5], seed: 61)
        let labels = try Tensor<Double>(shape: [6], scalars: [0, 4, 2, 2, 1, 3])
        for loss in [SoftmaxCrossEntropy() as any Loss, MulticlassHinge()] {
            let double = try loss.evaluate(scores: scores, targets: labels)
            let single = try loss.evaluate(scores: scores.converted(to: Float.self), targets: labels.converted(to: Float.self))
            #expect(abs(double.loss - single.loss) < 1e-5 * max(1, abs(double.loss)), "\(loss)")
        }
    }
}
