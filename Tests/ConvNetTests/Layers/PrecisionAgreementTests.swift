import Testing

@testable import ConvNet

/// Float and Double forward passes agree for every layer: the same weights (built from the
/// same seed) on the same inputs give outputs within Float precision.
struct PrecisionAgreementTests {

    func compare(
        _ name: String, inputShape: [Int], _ make: (inout SeededRandom) throws -> (any Layer<Float>, any Layer<Double>)
    ) throws {
        var random = SeededRandom(seed: 51)
        let (single, double) = try make(&random)
        for (target, source) in zip(single.parameters, double.parameters) { target.value = source.value.converted() }
        for ((_, target), (_, source)) in zip(single.namedBuffers, double.namedBuffers) { target.copy(from: source) }
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
            return (
                try Dense<Float>(inputSize: 10, outputSize: 7, random: &random),
                try Dense<Double>(inputSize: 10, outputSize: 7, random: &copy)
            )
        }
        try compare("Conv2D", inputShape: [2, 3, 9, 9]) { random in
            var copy = random
            return (
                try Conv2D<Float>(
                    inputChannels: 3, outputChannels: 5, kernelSize: 3, stride: 2, padding: 1, random: &random),
                try Conv2D<Double>(
                    inputChannels: 3, outputChannels: 5, kernelSize: 3, stride: 2, padding: 1, random: &copy)
            )
        }
        try compare("MaxPool2D", inputShape: [2, 3, 7, 7]) { _ in
            (try MaxPool2D<Float>(kernelSize: 3, stride: 2), try MaxPool2D<Double>(kernelSize: 3, stride: 2))
        }
        try compare("AvgPool2D", inputShape: [2, 3, 7, 7]) { _ in
            (
                try AvgPool2D<Float>(kernelSize: 3, stride: 2, padding: 1),
                try AvgPool2D<Double>(kernelSize: 3, stride: 2, padding: 1)
            )
        }
        try compare("ReLU", inputShape: [3, 8]) { _ in (ReLU<Float>(), ReLU<Double>()) }
        try compare("Sigmoid", inputShape: [3, 8]) { _ in (Sigmoid<Float>(), Sigmoid<Double>()) }
        try compare("Tanh", inputShape: [3, 8]) { _ in (Tanh<Float>(), Tanh<Double>()) }
        try compare("Flatten", inputShape: [2, 3, 4, 4]) { _ in (Flatten<Float>(), Flatten<Double>()) }
        try compare("Conv2D dilated, grouped, no bias", inputShape: [2, 4, 9, 9]) { random in
            var copy = random
            return (
                try Conv2D<Float>(
                    inputChannels: 4, outputChannels: 6, kernelSize: 3, padding: 2, dilation: 2, groups: 2, bias: false,
                    random: &random),
                try Conv2D<Double>(
                    inputChannels: 4, outputChannels: 6, kernelSize: 3, padding: 2, dilation: 2, groups: 2, bias: false,
                    random: &copy)
            )
        }
        try compare("MaxPool2D ceil mode", inputShape: [2, 3, 6, 6]) { _ in
            (
                try MaxPool2D<Float>(kernelSize: 3, stride: 2, ceilMode: true),
                try MaxPool2D<Double>(kernelSize: 3, stride: 2, ceilMode: true)
            )
        }
        try compare("AvgPool2D ceil mode", inputShape: [2, 3, 5, 5]) { _ in
            (
                try AvgPool2D<Float>(kernelSize: 2, stride: 2, padding: 1, ceilMode: true),
                try AvgPool2D<Double>(kernelSize: 2, stride: 2, padding: 1, ceilMode: true)
            )
        }
        try compare("GlobalAvgPool2D", inputShape: [2, 3, 5, 4]) { _ in
            (GlobalAvgPool2D<Float>(), GlobalAvgPool2D<Double>())
        }
        try compare("LeakyReLU", inputShape: [3, 8]) { _ in
            (LeakyReLU<Float>(slope: 0.2), LeakyReLU<Double>(slope: 0.2))
        }
        try compare("Identity", inputShape: [3, 8]) { _ in (Identity<Float>(), Identity<Double>()) }
        try compare("BatchNorm2D training", inputShape: [4, 3, 5, 5]) { _ in
            (try BatchNorm2D<Float>(channels: 3), try BatchNorm2D<Double>(channels: 3))
        }
        try compare("BatchNorm1D inference", inputShape: [4, 6]) { _ in
            let pair = (try BatchNorm1D<Float>(channels: 6), try BatchNorm1D<Double>(channels: 6))
            pair.1.runningMean.values = randomTensor([6], seed: 53)
            pair.1.runningVariance.values = try Tensor(shape: [6], scalars: [0.5, 1, 1.5, 2, 2.5, 3])
            pair.0.setMode(.inference)
            pair.1.setMode(.inference)
            return pair
        }
        try compare("Dropout (same seed: same mask)", inputShape: [4, 50]) { _ in
            (try Dropout<Float>(probability: 0.4, seed: 5), try Dropout<Double>(probability: 0.4, seed: 5))
        }
        try compare("BasicBlock stride 2", inputShape: [2, 3, 8, 8]) { random in
            var copy = random
            return (
                try BasicBlock<Float>(inputChannels: 3, planes: 6, stride: 2, random: &random),
                try BasicBlock<Double>(inputChannels: 3, planes: 6, stride: 2, random: &copy)
            )
        }
        try compare("resnet20 (inference, BatchNorm folded)", inputShape: [2, 1, 28, 28]) { _ in
            let pair = (
                try ModelPreset.resnet20.makeModel(inputShape: [1, 28, 28], classes: 10, seed: 6, scalar: Float.self)
                    .network,
                try ModelPreset.resnet20.makeModel(inputShape: [1, 28, 28], classes: 10, seed: 6, scalar: Double.self)
                    .network
            )
            pair.0.setMode(.inference)
            pair.1.setMode(.inference)
            return pair
        }
        try compare("ThreeLayerConvNet", inputShape: [2, 3, 16, 16]) { _ in
            (
                try ThreeLayerConvNet.make(inputShape: [3, 16, 16], weightScale: 0.05, seed: 3, scalar: Float.self),
                try ThreeLayerConvNet.make(inputShape: [3, 16, 16], weightScale: 0.05, seed: 3, scalar: Double.self)
            )
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
            let single = try loss.evaluate(
                scores: scores.converted(to: Float.self), targets: labels.converted(to: Float.self))
            #expect(abs(double.loss - single.loss) < 1e-5 * max(1, abs(double.loss)), "\(loss)")
        }
    }
}
