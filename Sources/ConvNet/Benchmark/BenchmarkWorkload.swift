/// The networks that `convnet bench` measures, exactly as `../shared/bench/anchors.py` defines
/// them (float32, softmax cross-entropy, L2 regularisation 1e-3 on weights, SGD with momentum
/// 0.9 and learning rate 1e-3):
///
/// - W1: the classic ThreeLayerConvNet, 3×32×32: conv 32@7×7 pad 3 – ReLU – 2×2 max pool –
///   dense 8192→100 – ReLU – dense 100→10.
/// - W2: LeNet-style, 1×28×28: conv 6@5×5 pad 2 – ReLU – pool – conv 16@5×5 – ReLU – pool –
///   dense 400→120 – ReLU – 120→84 – ReLU – 84→10.
/// - W3: small VGG, 3×32×32: conv3×3 64, 64, pool, 128, 128, pool (padding 1, ReLU after
///   each), dense 8192→256 – ReLU – 256→10.
public enum BenchmarkWorkload: String, CaseIterable, Sendable, Codable {
    case w1 = "W1"
    case w2 = "W2"
    case w3 = "W3"

    /// L2 strength, learning rate and momentum of the anchors.
    public static let regularization = 1e-3
    /// SGD learning rate of the anchors.
    public static let learningRate = 1e-3
    /// SGD momentum of the anchors.
    public static let momentum = 0.9

    /// The shape of one input sample.
    public var inputShape: [Int] {
        switch self {
        case .w1, .w3: return [3, 32, 32]
        case .w2: return [1, 28, 28]
        }
    }

    /// A short description.
    public var title: String {
        switch self {
        case .w1: return "ThreeLayerConvNet 3x32x32"
        case .w2: return "LeNet-style 1x28x28"
        case .w3: return "small VGG 3x32x32"
        }
    }

    /// The network, He-initialised (W1 may take another image size for the scaling study).
    public func makeNetwork(imageSize: Int? = nil, seed: UInt64 = 0) throws -> Sequential<Float> {
        switch self {
        case .w1:
            let side = imageSize ?? 32
            return try ThreeLayerConvNet.make(
                inputShape: [3, side, side], filters: 32, filterSize: 7, hiddenSize: 100, classes: 10,
                weightScale: 1e-2, seed: seed, scalar: Float.self)
        case .w2:
            return try LeNet5.make(inputShape: [1, 28, 28], classes: 10, seed: seed, scalar: Float.self)
        case .w3:
            return try SmallVGG.make(inputShape: [3, 32, 32], classes: 10, seed: seed, scalar: Float.self)
        }
    }

    /// The trainable model: the network with softmax cross-entropy and L2 1e-3.
    public func makeModel(imageSize: Int? = nil, seed: UInt64 = 0) throws -> Model<Float> {
        let shape = imageSize.map { [inputShape[0], $0, $0] } ?? inputShape
        return try Model(
            network: makeNetwork(imageSize: imageSize, seed: seed), loss: SoftmaxCrossEntropy(),
            inputShape: shape, regularization: Self.regularization)
    }
}

/// FLOPs of one image through a network (a multiply-add counts as 2).
public struct FlopCount: Sendable, Codable, Equatable {
    /// Multiply–adds of each layer's forward pass (0 for layers without products).
    public var forwardMACsPerLayer: [Int]
    /// 2 · Σ MACs.
    public var forward: Int
    /// 3 · forward: the anchors' convention (backward = 2 × forward).
    public var training: Int
    /// What a training step really computes: 3 · forward less the input gradient of the first
    /// layer, which nobody needs (2 · its MACs).
    public var trainingExact: Int

    /// Counts `network` for samples of `inputShape`.
    public init<Scalar>(network: Sequential<Scalar>, inputShape: [Int]) throws {
        var shape = inputShape
        var macs: [Int] = []
        for layer in network.layers {
            macs.append(try layer.forwardFlops(forInputShape: shape))
            shape = try layer.outputShape(forInputShape: shape)
        }
        forwardMACsPerLayer = macs
        forward = 2 * macs.reduce(0, +)
        training = 3 * forward
        let firstWithProducts = macs.first { $0 > 0 } ?? 0
        trainingExact = training - 2 * firstWithProducts
    }
}
