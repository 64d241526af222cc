/// The classic three-layer convolutional network:
///
///     conv F@k×k (padding (k−1)/2) – ReLU – 2×2 max pool – dense H – ReLU – dense C
///
/// input [N, C0, H0, W0] → scores [N, classes]. As a `Sequential`: 0 conv, 1 relu, 2 pool,
/// 3 flatten, 4 dense, 5 relu, 6 dense (so its parameters are `0.weight`, `0.bias`,
/// `4.weight`, …). Weights are drawn as weightScale·N(0, 1), biases start at zero.
public enum ThreeLayerConvNet {
    /// Builds the network for samples of `inputShape` ([C, H, W]; H and W even).
    public static func make<Scalar: KernelScalar>(
        inputShape: [Int] = [3, 32, 32], filters: Int = 32, filterSize: Int = 7, hiddenSize: Int = 100,
        classes: Int = 10, weightScale: Double = 1e-3, seed: UInt64 = 0, scalar: Scalar.Type = Scalar.self
    ) throws -> Sequential<Scalar> {
        guard inputShape.count == 3 else {
            throw ConvNetError.shapeMismatch("ThreeLayerConvNet needs input [C, H, W], found \(describe(inputShape))")
        }
        guard filterSize % 2 == 1 else {
            throw ConvNetError.invalidArgument(
                "ThreeLayerConvNet keeps the size with an odd filter, found \(filterSize)")
        }
        var random = SeededRandom(seed: seed)
        let initializer = Initializer.scaledNormal(weightScale: weightScale)
        let pooledSize = filters * (inputShape[1] / 2) * (inputShape[2] / 2)
        return Sequential<Scalar>([
            try Conv2D(
                inputChannels: inputShape[0], outputChannels: filters, kernelSize: filterSize,
                padding: (filterSize - 1) / 2, initializer: initializer, random: &random),
            ReLU(),
            try MaxPool2D(kernelSize: 2, stride: 2),
            Flatten(),
            try Dense(inputSize: pooledSize, outputSize: hiddenSize, initializer: initializer, random: &random),
            ReLU(),
            try Dense(inputSize: hiddenSize, outputSize: classes, initializer: initializer, random: &random),
        ])
    }
}
