/// The 2-4-1 sigmoid network that learns XOR: dense 2→4 – Sigmoid – dense 4→1 – Sigmoid,
/// trained with mean squared error, as in the classic numpy example.
public enum XORNet {
    /// How the classic example trains it: plain SGD, learning rate 2, full batch, 5000 epochs
    /// (the defaults of `convnet train --model xor`).
    public static var trainingDefaults: TrainingConfiguration {
        var configuration = TrainingConfiguration()
        configuration.updateRule = UpdateRule.sgd.rawValue
        configuration.learningRate = 2
        configuration.batchSize = 4
        configuration.epochs = 5000
        return configuration
    }

    /// The four XOR inputs [4, 2].
    public static func inputs<Scalar: KernelScalar>(_ scalar: Scalar.Type = Scalar.self) -> Tensor<Scalar> {
        try! Tensor(shape: [4, 2], scalars: [0, 0, 0, 1, 1, 0, 1, 1])
    }

    /// Their targets [4, 1]: 0, 1, 1, 0.
    public static func targets<Scalar: KernelScalar>(_ scalar: Scalar.Type = Scalar.self) -> Tensor<Scalar> {
        try! Tensor(shape: [4, 1], scalars: [0, 1, 1, 0])
    }

    /// The network, weights uniform in [−1, 1) as in the classic example (2·random − 1).
    public static func make<Scalar: KernelScalar>(seed: UInt64 = 1, scalar: Scalar.Type = Scalar.self) throws
        -> Sequential<Scalar>
    {
        var random = SeededRandom(seed: seed)
        let hidden = try Dense<Scalar>(inputSize: 2, outputSize: 4, initializer: .zeros, random: &random)
        let output = try Dense<Scalar>(inputSize: 4, outputSize: 1, initializer: .zeros, random: &random)
        for layer in [hidden, output] {
            for parameter in layer.parameters {
                parameter.value.scalars = parameter.value.scalars.map { _ in Scalar(random.uniform(in: -1, 1)) }
            }
        }
        return Sequential([hidden, Sigmoid(), output, Sigmoid()])
    }
}
