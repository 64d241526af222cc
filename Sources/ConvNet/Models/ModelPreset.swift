/// The ready-made networks by name, as the command line offers them.
public enum ModelPreset: String, CaseIterable, Sendable {
    /// `DigitsNet`, the default for the bundled 8×8 digits.
    case digitsCNN = "digits-cnn"
    /// `ThreeLayerConvNet`.
    case threeLayerConvNet = "three-layer-convnet"
    /// `LeNet5`.
    case lenet5
    /// `FullyConnectedNet` with the given hidden sizes.
    case mlp
    /// `XORNet` (2-4-1 sigmoid, mean squared error).
    case xor
    /// He et al. 2016's CIFAR ResNet-20: a 3×3 convolution with 16 channels, three stages of
    /// three `BasicBlock`s (16, 32, 64 channels; the first block of stages 2 and 3 downsamples
    /// by 2 with a 1×1 projection), global average pooling and a dense layer. Any [C, H, W].
    case resnet20
    /// The small VGG of the benchmark (W3) with a BatchNorm after each convolution.
    case vggBN = "vgg-bn"

    /// The preset called `name`.
    public init(named name: String) throws {
        guard let preset = ModelPreset(rawValue: name.lowercased()) else {
            throw ConvNetError.invalidArgument(
                "unknown model '\(name)'; use one of " + ModelPreset.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self = preset
    }

    /// Builds a trainable model (softmax cross-entropy, or MSE for XOR) for samples of
    /// `inputShape` and `classes` classes. `hiddenSizes` applies to `mlp` (and its first entry
    /// to the three-layer net's hidden layer); `weightScale` to the three-layer net.
    public func makeModel<Scalar: KernelScalar>(
        inputShape: [Int], classes: Int, hiddenSizes: [Int] = [100], weightScale: Double = 1e-3,
        regularization: Double = 0, seed: UInt64 = 0, scalar: Scalar.Type = Scalar.self
    ) throws -> Model<Scalar> {
        let network: Sequential<Scalar>
        switch self {
        case .digitsCNN:
            network = try DigitsNet.make(inputShape: inputShape, classes: classes, seed: seed)
        case .threeLayerConvNet:
            network = try ThreeLayerConvNet.make(
                inputShape: inputShape, hiddenSize: hiddenSizes.first ?? 100, classes: classes,
                weightScale: weightScale, seed: seed)
        case .lenet5:
            network = try LeNet5.make(inputShape: inputShape, classes: classes, seed: seed)
        case .mlp:
            network = try FullyConnectedNet.make(
                inputShape: inputShape, hiddenSizes: hiddenSizes, classes: classes, seed: seed)
        case .xor:
            network = try XORNet.make(seed: seed)
            return try Model(
                network: network, loss: MeanSquaredError(), inputShape: [2], regularization: regularization)
        case .resnet20, .vggBN:
            network = try spec(classes: classes).makeNetwork(
                inputShape: inputShape, initializer: .pytorchDefault, seed: seed)
        }
        return try Model(
            network: network, loss: SoftmaxCrossEntropy(), inputShape: inputShape, regularization: regularization)
    }
}
