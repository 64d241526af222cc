/// LeNet-5 with ReLU and max pooling (the benchmark's W2 network):
///
///     conv 6@5×5 (padding 2) – ReLU – pool 2 – conv 16@5×5 – ReLU – pool 2 – flatten –
///     dense 120 – ReLU – dense 84 – ReLU – dense C
///
/// For [1, 28, 28] inputs (MNIST) the flattened size is 16·5·5 = 400; other sizes work when
/// every pool divides evenly. Weights: PyTorch's default initialisation.
public enum LeNet5 {
    /// Builds the network for samples of `inputShape` ([C, H, W]).
    public static func make<Scalar: KernelScalar>(
        inputShape: [Int] = [1, 28, 28], classes: Int = 10, seed: UInt64 = 0, scalar: Scalar.Type = Scalar.self
    ) throws -> Sequential<Scalar> {
        guard inputShape.count == 3 else {
            throw ConvNetError.shapeMismatch("LeNet5 needs input [C, H, W], found \(describe(inputShape))")
        }
        var random = SeededRandom(seed: seed)
        let features: [any Layer<Scalar>] = [
            try Conv2D(
                inputChannels: inputShape[0], outputChannels: 6, kernelSize: 5, padding: 2,
                initializer: .pytorchDefault, random: &random),
            ReLU(),
            try MaxPool2D(kernelSize: 2),
            try Conv2D(
                inputChannels: 6, outputChannels: 16, kernelSize: 5, initializer: .pytorchDefault, random: &random),
            ReLU(),
            try MaxPool2D(kernelSize: 2),
            Flatten(),
        ]
        let flattened = try Sequential(features).outputShape(forInputShape: inputShape).reduce(1, *)
        let classifier: [any Layer<Scalar>] = [
            try Dense(inputSize: flattened, outputSize: 120, initializer: .pytorchDefault, random: &random),
            ReLU(),
            try Dense(inputSize: 120, outputSize: 84, initializer: .pytorchDefault, random: &random),
            ReLU(),
            try Dense(inputSize: 84, outputSize: classes, initializer: .pytorchDefault, random: &random),
        ]
        return Sequential(features + classifier)
    }
}
