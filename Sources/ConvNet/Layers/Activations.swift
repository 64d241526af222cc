/// ReLU: y = max(x, 0), element-wise, any shape. dx = dy · [x > 0].
///
/// Its epilogue (`.activation(.relu)`) lets the layer before it apply it: inside a Sequential,
/// a Conv2D or BatchNorm followed by a ReLU does it in its own output loop.
public final class ReLU<Scalar: KernelScalar>: Layer {
    private var input: Tensor<Scalar>?
    private var outputs = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()

    public init() {}

    public var description: String { "ReLU()" }

    public var specification: LayerSpec { LayerSpec(token: ReLUKind.token) }

    public var pytorchModule: String { "nn.ReLU()" }

    /// `Relu`.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        graph.node("Relu", [input.name], sampleShape: input.sampleShape)
    }

    public func epilogue(in mode: LayerMode) -> Epilogue<Scalar>? { .activation(.relu) }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        self.input = input
        return input.withUnsafeBufferPointer { x in
            let x = x.baseAddress!
            return outputs.produce(shape: input.shape) { y, count in
                parallelRanges(count: count, ForwardRange(x: x, y: y))
            }
        }
    }

    /// `forward` over one range: y = max(x, 0).
    private struct ForwardRange: ParallelRangeWork {
        let x: UnsafePointer<Scalar>
        let y: UnsafeMutablePointer<Scalar>

        func run(_ range: Range<Int>) {
            Scalar.reluForward(x + range.lowerBound, y + range.lowerBound, count: range.count)
        }
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        guard let input, outputGradient.shape == input.shape else {
            try requireGradient(outputGradient, shape: input?.shape, layer: "ReLU")
            throw ConvNetError.invalidArgument("ReLU: backward called before forward")
        }
        guard needsInputGradient else { return nil }
        return input.withUnsafeBufferPointer { x in
            outputGradient.withUnsafeBufferPointer { dy in
                let x = x.baseAddress!
                let dy = dy.baseAddress!
                return inputGradients.produce(shape: input.shape) { dx, count in
                    parallelRanges(count: count, BackwardRange(x: x, dy: dy, dx: dx))
                }
            }
        }
    }

    /// `backward` over one range: dx = dy where x > 0, else 0.
    private struct BackwardRange: ParallelRangeWork {
        let x: UnsafePointer<Scalar>
        let dy: UnsafePointer<Scalar>
        let dx: UnsafeMutablePointer<Scalar>

        func run(_ range: Range<Int>) {
            let start = range.lowerBound
            Scalar.reluBackward(input: x + start, dy + start, dx + start, count: range.count)
        }
    }
}

/// Sigmoid: y = 1 / (1 + e^−x), element-wise, any shape. dx = dy · y · (1 − y).
public final class Sigmoid<Scalar: KernelScalar>: Layer {
    private var output: Tensor<Scalar>?

    public init() {}

    public var description: String { "Sigmoid()" }

    public var specification: LayerSpec { LayerSpec(token: SigmoidKind.token) }

    public var pytorchModule: String { "nn.Sigmoid()" }

    /// `Sigmoid`.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        graph.node("Sigmoid", [input.name], sampleShape: input.sampleShape)
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        output = mapElements(input, Scalar.sigmoidForward)
        return output!
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        try requireGradient(outputGradient, shape: output?.shape, layer: description)
        return mapElements(output!, outputGradient) { Scalar.sigmoidBackward(output: $0, $1, $2, count: $3) }
    }
}

/// Tanh: y = tanh x, element-wise, any shape. dx = dy · (1 − y²).
public final class Tanh<Scalar: KernelScalar>: Layer {
    private var output: Tensor<Scalar>?

    public init() {}

    public var description: String { "Tanh()" }

    public var specification: LayerSpec { LayerSpec(token: TanhKind.token) }

    public var pytorchModule: String { "nn.Tanh()" }

    /// `Tanh`.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        graph.node("Tanh", [input.name], sampleShape: input.sampleShape)
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        output = mapElements(input, Scalar.tanhForward)
        return output!
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        try requireGradient(outputGradient, shape: output?.shape, layer: description)
        return mapElements(output!, outputGradient) { Scalar.tanhBackward(output: $0, $1, $2, count: $3) }
    }
}

/// A new tensor of `x`'s shape filled by `kernel(x, y, count)`.
func mapElements<Scalar: KernelScalar>(
    _ x: Tensor<Scalar>, _ kernel: (UnsafePointer<Scalar>, UnsafeMutablePointer<Scalar>, Int) -> Void
) -> Tensor<Scalar> {
    var y = Tensor<Scalar>(zeros: x.shape)
    x.withUnsafeBufferPointer { source in
        y.withUnsafeMutableBufferPointer { target in
            kernel(source.baseAddress!, target.baseAddress!, source.count)
        }
    }
    return y
}

/// A new tensor of `a`'s shape filled by `kernel(a, b, result, count)`.
func mapElements<Scalar: KernelScalar>(
    _ a: Tensor<Scalar>, _ b: Tensor<Scalar>,
    _ kernel: (UnsafePointer<Scalar>, UnsafePointer<Scalar>, UnsafeMutablePointer<Scalar>, Int) -> Void
) -> Tensor<Scalar> {
    var result = Tensor<Scalar>(zeros: a.shape)
    a.withUnsafeBufferPointer { first in
        b.withUnsafeBufferPointer { second in
            result.withUnsafeMutableBufferPointer { target in
                kernel(first.baseAddress!, second.baseAddress!, target.baseAddress!, first.count)
            }
        }
    }
    return result
}

/// `relu`: `ReLU`.
struct ReLUKind: LayerKind {
    static let token = "relu"
    var token: String { ReLUKind.token }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> { ReLU<Scalar>() }
}

/// `sigmoid`: `Sigmoid`.
struct SigmoidKind: LayerKind {
    static let token = "sigmoid"
    var token: String { SigmoidKind.token }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> { Sigmoid<Scalar>() }
}

/// `tanh`: `Tanh`.
struct TanhKind: LayerKind {
    static let token = "tanh"
    var token: String { TanhKind.token }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> { Tanh<Scalar>() }
}
