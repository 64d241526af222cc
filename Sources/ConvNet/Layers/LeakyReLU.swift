/// Leaky ReLU (PyTorch's `nn.LeakyReLU`): y = x where x > 0, else slope·x, element-wise, any
/// shape. dx = dy where x > 0, else slope·dy.
public final class LeakyReLU<Scalar: KernelScalar>: Layer {
    /// The slope for negative inputs (PyTorch's `negative_slope`, default 0.01).
    public let slope: Double
    private var input: Tensor<Scalar>?
    private var outputs = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()

    /// A leaky ReLU with `slope` for negative inputs.
    public init(slope: Double = 0.01) {
        self.slope = slope
    }

    public var description: String { "LeakyReLU(\(slope))" }

    public var specification: LayerSpec { LayerSpec(token: LeakyReLUKind.token, arguments: ["slope": .number(slope)]) }

    public var pytorchModule: String { "nn.LeakyReLU(\(slope))" }

    /// `LeakyRelu` with alpha = slope.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        graph.node("LeakyRelu", [input.name], [.number("alpha", Float(slope))], sampleShape: input.sampleShape)
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        self.input = input
        let slope = Scalar(self.slope)
        return input.withUnsafeBufferPointer { x in
            let x = x.baseAddress!
            return outputs.produce(shape: input.shape) { y, count in
                parallelRanges(count: count, ForwardRange(x: x, y: y, slope: slope))
            }
        }
    }

    /// `forward` over one range: y = x where x > 0, else slope·x.
    private struct ForwardRange: ParallelRangeWork {
        let x: UnsafePointer<Scalar>
        let y: UnsafeMutablePointer<Scalar>
        let slope: Scalar

        func run(_ range: Range<Int>) {
            Scalar.leakyReLUForward(x + range.lowerBound, y + range.lowerBound, count: range.count, slope: slope)
        }
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        try requireGradient(outputGradient, shape: input?.shape, layer: description)
        guard needsInputGradient, let input else { return nil }
        let slope = Scalar(self.slope)
        return input.withUnsafeBufferPointer { x in
            outputGradient.withUnsafeBufferPointer { dy in
                let x = x.baseAddress!
                let dy = dy.baseAddress!
                return inputGradients.produce(shape: input.shape) { dx, count in
                    parallelRanges(count: count, BackwardRange(x: x, dy: dy, dx: dx, slope: slope))
                }
            }
        }
    }

    /// `backward` over one range: dx = dy where x > 0, else slope·dy.
    private struct BackwardRange: ParallelRangeWork {
        let x: UnsafePointer<Scalar>
        let dy: UnsafePointer<Scalar>
        let dx: UnsafeMutablePointer<Scalar>
        let slope: Scalar

        func run(_ range: Range<Int>) {
            let start = range.lowerBound
            Scalar.leakyReLUBackward(input: x + start, dy + start, dx + start, count: range.count, slope: slope)
        }
    }
}

/// `leakyrelu(slope=0.01)`: `LeakyReLU`.
struct LeakyReLUKind: LayerKind {
    static let token = "leakyrelu"
    var token: String { LeakyReLUKind.token }
    var aliases: [String] { ["leaky_relu", "lrelu"] }
    var parameters: [SpecParameter] {
        [
            SpecParameter(
                "slope", aliases: ["slope", "negative_slope"], kind: .number(0...1e6), default: .value(.number(0.01)))
        ]
    }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> { LeakyReLU<Scalar>(slope: arguments.number("slope")) }
}
