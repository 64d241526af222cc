/// A small VGG-style network (the benchmark's W3):
///
///     conv 64@3×3 – ReLU – conv 64@3×3 – ReLU – pool 2 – conv 128@3×3 – ReLU –
///     conv 128@3×3 – ReLU – pool 2 – flatten – dense 256 – ReLU – dense C
///
/// Every convolution has padding 1 (size-preserving). input [N, C0, H, W] (H, W divisible by
/// 4) → scores [N, classes]; for [3, 32, 32] the flattened size is 128·8·8 = 8192. As a
/// `Sequential`: 0 conv, 1 relu, 2 conv, 3 relu, 4 pool, 5 conv, 6 relu, 7 conv, 8 relu,
/// 9 pool, 10 flatten, 11 dense, 12 relu, 13 dense. Weights: He normal, biases zero.
public enum SmallVGG {
    /// Builds the network for samples of `inputShape` ([C, H, W]).
    public static func make<Scalar: KernelScalar>(
        inputShape: [Int] = [3, 32, 32], widths: (Int, Int) = (64, 128), hiddenSize: Int = 256,
        classes: Int = 10, seed: UInt64 = 0, scalar: Scalar.Type = Scalar.self
    ) throws -> Sequential<Scalar> {
        guard inputShape.count == 3 else {
            throw ConvNetError.shapeMismatch("SmallVGG needs input [C, H, W], found \(describe(inputShape))")
        }
        guard inputShape[1] % 4 == 0, inputShape[2] % 4 == 0 else {
            throw ConvNetError.shapeMismatch(
                "SmallVGG pools twice by 2: height and width must be multiples of 4, found \(describe(inputShape))")
        }
        var random = SeededRandom(seed: seed)
        let (first, second) = widths
        let features: [any Layer<Scalar>] = [
            try Conv2D(inputChannels: inputShape[0], outputChannels: first, kernelSize: 3, padding: 1, random: &random),
            ReLU(),
            try Conv2D(inputChannels: first, outputChannels: first, kernelSize: 3, padding: 1, random: &random),
            ReLU(),
            try MaxPool2D(kernelSize: 2),
            try Conv2D(inputChannels: first, outputChannels: second, kernelSize: 3, padding: 1, random: &random),
            ReLU(),
            try Conv2D(inputChannels: second, outputChannels: second, kernelSize: 3, padding: 1, random: &random),
            ReLU(),
            try MaxPool2D(kernelSize: 2),
            Flatten(),
        ]
        let flattened = second * (inputShape[1] / 4) * (inputShape[2] / 4)
        let classifier: [any Layer<Scalar>] = [
            try Dense(inputSize: flattened, outputSize: hiddenSize, random: &random),
            ReLU(),
            try Dense(inputSize: hiddenSize, outputSize: classes, random: &random),
        ]
        return Sequential(features + classifier)
    }
}
