/// Inverted dropout (PyTorch's `nn.Dropout`): in training each element is kept with
/// probability 1 − p and scaled by 1/(1 − p), else zeroed; in inference it is the identity.
/// Any shape. Backward multiplies dy by the same mask.
///
/// The mask is drawn from the layer's own `RandomStream` (seeded when the network is built),
/// one 32-bit draw per element: keep when the draw ≥ p·2³². The stream's state is saved with a
/// run's training state, so that a resumed run draws the same masks as one that never stopped.
public final class Dropout<Scalar: KernelScalar>: Layer {
    /// The probability of zeroing an element, in [0, 1].
    public let probability: Double
    /// Where the masks come from.
    public let stream: RandomStream
    private var mode: LayerMode = .training
    private var mask: Tensor<Scalar>?
    private var masks = TensorPair<Scalar>()
    private var outputs = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()
    /// Whether the last forward was the identity (inference, or p = 0).
    private var passedThrough = true
    private var cachedShape: [Int]?

    /// A dropout layer drawing its masks from a stream seeded by `seed`.
    public init(probability: Double = 0.5, seed: UInt64 = 0) throws {
        guard probability.isFinite, probability >= 0, probability <= 1 else {
            throw ConvNetError.invalidArgument("dropout probability must be in [0, 1], found \(probability)")
        }
        self.probability = probability
        stream = RandomStream(seed: seed)
    }

    public var description: String { "Dropout(p=\(probability))" }

    public var specification: LayerSpec { LayerSpec(token: DropoutKind.token, arguments: ["p": .number(probability)]) }

    public var pytorchModule: String { "nn.Dropout(p=\(probability))" }

    public var localRandomStreams: [(name: String, stream: RandomStream)] { [(name: "mask", stream: stream)] }

    /// No node: in inference dropout is the identity, so its input is its output.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue { input }

    public func modeDidChange(to mode: LayerMode) { self.mode = mode }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        cachedShape = input.shape
        guard mode.isTraining, probability > 0 else {
            passedThrough = true
            return input
        }
        passedThrough = false
        let keep = Scalar(probability < 1 ? 1 / (1 - probability) : 0)
        // Keep when a 32-bit draw is ≥ threshold; p = 1 drops everything.
        let threshold = UInt64((probability * 4_294_967_296).rounded(.down))
        var generator = stream.generator
        // The stream lets go of its state while the mask is drawn, so that the draws do not copy
        // the state array shared with `generator` (an allocation per step); it gets it back below.
        stream.generator.state = []
        let newMask = masks.produce(shape: input.shape) { m, count in
            var index = 0
            while index < count {
                let bits = generator.next()
                m[index] = UInt64(bits & 0xFFFF_FFFF) >= threshold ? keep : 0
                if index + 1 < count { m[index + 1] = (bits >> 32) >= threshold ? keep : 0 }
                index += 2
            }
        }
        stream.generator = generator
        mask = newMask
        return input.withUnsafeBufferPointer { x in
            newMask.withUnsafeBufferPointer { m in
                outputs.produce(shape: input.shape) { y, count in
                    Scalar.multiply(x.baseAddress!, m.baseAddress!, y, count: count)
                }
            }
        }
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        try requireGradient(outputGradient, shape: cachedShape, layer: description)
        guard needsInputGradient else { return nil }
        guard !passedThrough, let mask else { return outputGradient }
        return outputGradient.withUnsafeBufferPointer { dy in
            mask.withUnsafeBufferPointer { m in
                inputGradients.produce(shape: mask.shape) { dx, count in
                    Scalar.multiply(dy.baseAddress!, m.baseAddress!, dx, count: count)
                }
            }
        }
    }
}

/// `dropout(p=0.5)`: `Dropout`, its stream seeded from the network's generator.
struct DropoutKind: LayerKind {
    static let token = "dropout"
    var token: String { DropoutKind.token }
    var parameters: [SpecParameter] {
        [
            SpecParameter(
                "p", aliases: ["p", "probability", "rate"], kind: .number(0...1), default: .value(.number(0.5)))
        ]
    }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> {
        try Dropout<Scalar>(probability: arguments.number("p"), seed: context.random.next())
    }
}
