/// The small CNN that `convnet train` uses on the bundled 8×8 digits:
///
///     conv 16@3×3 (padding 1) – ReLU – pool 2 – conv 32@3×3 (padding 1) – ReLU – pool 2 –
///     flatten – dense 64 – ReLU – dense C
///
/// [1, 8, 8] → [16, 8, 8] → [16, 4, 4] → [32, 4, 4] → [32, 2, 2] → 128 → 64 → C.
public enum DigitsNet {
    /// Builds the network for samples of `inputShape` ([C, H, W], H and W divisible by 4).
    public static func make<Scalar: KernelScalar>(
        inputShape: [Int] = [1, 8, 8], classes: Int = 10, seed: UInt64 = 0, scalar: Scalar.Type = Scalar.self
    ) throws -> Sequential<Scalar> {
        guard inputShape.count == 3 else {
            throw ConvNetError.shapeMismatch("DigitsNet needs input [C, H, W], found \(describe(inputShape))")
        }
        var random = SeededRandom(seed: seed)
        let flattened = 32 * (inputShape[1] / 4) * (inputShape[2] / 4)
        return Sequential<Scalar>([
            try Conv2D(inputChannels: inputShape[0], outputChannels: 16, kernelSize: 3, padding: 1, random: &random),
            ReLU(),
            try MaxPool2D(kernelSize: 2),
            try Conv2D(inputChannels: 16, outputChannels: 32, kernelSize: 3, padding: 1, random: &random),
            ReLU(),
            try MaxPool2D(kernelSize: 2),
            Flatten(),
            try Dense(inputSize: flattened, outputSize: 64, random: &random),
            ReLU(),
            try Dense(inputSize: 64, outputSize: classes, random: &random),
        ])
    }
}
