/// A multi-layer perceptron: flatten – (dense – ReLU) per hidden size – dense C.
///
/// input [N, ...] → scores [N, classes]. Weights use `initializer` (He normal by default, or
/// the classic weightScale·N(0, 1)).
public enum FullyConnectedNet {
    /// Builds the network for samples of `inputShape`.
    public static func make<Scalar: KernelScalar>(
        inputShape: [Int], hiddenSizes: [Int], classes: Int, initializer: Initializer = .heNormal,
        seed: UInt64 = 0, scalar: Scalar.Type = Scalar.self
    ) throws -> Sequential<Scalar> {
        var random = SeededRandom(seed: seed)
        var layers: [any Layer<Scalar>] = [Flatten()]
        var width = inputShape.reduce(1, *)
        for hidden in hiddenSizes {
            layers.append(try Dense(inputSize: width, outputSize: hidden, initializer: initializer, random: &random))
            layers.append(ReLU())
            width = hidden
        }
        layers.append(try Dense(inputSize: width, outputSize: classes, initializer: initializer, random: &random))
        return Sequential(layers)
    }
}
