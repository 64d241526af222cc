/// torchvision's ResNet `BasicBlock`: y = ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + shortcut(x)),
/// conv1 3×3 with `stride` (2 downsamples), conv2 3×3, both without bias and padded by 1;
/// the shortcut is the identity, or a 1×1 convolution with `stride` and a BatchNorm
/// (`downsample`) when the stride or the channel count changes.
///
/// input [N, C, H, W] → output [N, planes, H', W'] with H' = ⌊(H − 1) / stride⌋ + 1. Its
/// state_dict names are torchvision's: `conv1.weight`, `bn1.weight`, `bn1.running_mean`, …,
/// `conv2.weight`, `bn2.*`, `downsample.0.weight`, `downsample.1.*` (README has the PyTorch
/// module). In inference each convolution runs with its BatchNorm folded in.
public final class BasicBlock<Scalar: KernelScalar>: Layer {
    /// C.
    public let inputChannels: Int
    /// The output channels.
    public let planes: Int
    /// conv1's stride.
    public let stride: Int
    /// conv1, bn1, relu, conv2, bn2 (a Sequential, so that its layers fuse).
    public let body: Sequential<Scalar>
    /// conv 1×1 + bn, or nil for the identity.
    public let downsample: Sequential<Scalar>?
    private var output: Tensor<Scalar>?
    private var outputs = TensorPair<Scalar>()
    private var sums = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()

    /// A block from `inputChannels` to `planes` channels; weights from `initializer`.
    public init(
        inputChannels: Int, planes: Int, stride: Int = 1, initializer: Initializer = .heNormal,
        random: inout SeededRandom
    ) throws {
        self.inputChannels = inputChannels
        self.planes = planes
        self.stride = stride
        body = Sequential(named: [
            (
                "conv1",
                try Conv2D<Scalar>(
                    inputChannels: inputChannels, outputChannels: planes, kernelSize: 3, stride: stride, padding: 1,
                    bias: false,
                    initializer: initializer, random: &random)
            ),
            ("bn1", try BatchNorm2D<Scalar>(channels: planes)),
            ("relu", ReLU<Scalar>()),
            (
                "conv2",
                try Conv2D<Scalar>(
                    inputChannels: planes, outputChannels: planes, kernelSize: 3, padding: 1, bias: false,
                    initializer: initializer, random: &random)
            ),
            ("bn2", try BatchNorm2D<Scalar>(channels: planes)),
        ])
        downsample =
            stride != 1 || inputChannels != planes
            ? Sequential([
                try Conv2D<Scalar>(
                    inputChannels: inputChannels, outputChannels: planes, kernelSize: 1, stride: stride, bias: false,
                    initializer: initializer, random: &random),
                try BatchNorm2D<Scalar>(channels: planes),
            ])
            : nil
    }

    public var description: String {
        "BasicBlock(\(inputChannels) → \(planes), stride \(stride)" + (downsample == nil ? ")" : ", 1×1 projection)")
    }

    /// conv1, bn1, relu, conv2, bn2 under their own names (as torchvision), then downsample.
    public var sublayers: [(name: String, layer: any Layer<Scalar>)] {
        body.sublayers + (downsample.map { [("downsample", $0 as any Layer<Scalar>)] } ?? [])
    }

    /// The body's own fusion plan follows the mode (its layers are reached as this block's
    /// sublayers).
    public func modeDidChange(to mode: LayerMode) { body.modeDidChange(to: mode) }

    public var specification: LayerSpec {
        LayerSpec(token: BasicBlockKind.token, arguments: ["planes": .integer(planes), "stride": .integer(stride)])
    }

    public var pytorchModule: String { "BasicBlock(\(inputChannels), \(planes), stride=\(stride))" }

    /// conv1, bn1, relu, conv2, bn2 under their own names (`3.conv1.weight`, as in the
    /// state_dict), the downsample branch (`3.downsample.0.weight`) or the input itself, then
    /// `Add` and `Relu`.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        let shape = try outputShape(forInputShape: input.sampleShape)
        let main = try body.exportONNX(to: &graph, input: input)
        var side = input
        if let downsample { side = try graph.export(downsample, named: "downsample", input: input) }
        let sum = graph.node("Add", [main.name, side.name], sampleShape: shape)
        return graph.node("Relu", [sum.name], sampleShape: shape)
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        let main = try body.outputShape(forInputShape: inputShape)
        let side = try downsample?.outputShape(forInputShape: inputShape) ?? inputShape
        guard main == side else {
            throw ConvNetError.shapeMismatch(
                "\(description): branches disagree, \(describe(main)) vs \(describe(side))")
        }
        return main
    }

    public func forwardFlops(forInputShape inputShape: [Int]) throws -> Int {
        try body.forwardFlops(forInputShape: inputShape) + (downsample?.forwardFlops(forInputShape: inputShape) ?? 0)
    }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        let main = try body.forward(input)
        let side = try downsample?.forward(input) ?? input
        guard main.shape == side.shape else {
            throw ConvNetError.shapeMismatch(
                "\(description): branches disagree, \(describe(main.shape)) vs \(describe(side.shape))")
        }
        let result = main.withUnsafeBufferPointer { a in
            side.withUnsafeBufferPointer { b in
                outputs.produce(shape: main.shape) { y, count in
                    Scalar.add(a.baseAddress!, b.baseAddress!, y, count: count)
                    Scalar.reluForward(y, y, count: count)
                }
            }
        }
        output = result
        return result
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        guard let output else { throw ConvNetError.invalidArgument("\(description): backward called before forward") }
        try requireGradient(outputGradient, shape: output.shape, layer: description)
        // The final ReLU: d sum = dy where y > 0.
        let gradient = output.withUnsafeBufferPointer { y in
            outputGradient.withUnsafeBufferPointer { dy in
                sums.produce(shape: output.shape) { g, count in
                    Scalar.reluBackward(input: y.baseAddress!, dy.baseAddress!, g, count: count)
                }
            }
        }
        let main = try body.backward(gradient, needsInputGradient: needsInputGradient)
        let side = try downsample.map { try $0.backward(gradient, needsInputGradient: needsInputGradient) } ?? gradient
        guard needsInputGradient, let main, let side else { return nil }
        return inputGradients.sum(main, side)
    }
}

/// `block(planes, s=1)`: `BasicBlock`, its input channels from the shape before it.
struct BasicBlockKind: LayerKind {
    static let token = "block"
    var token: String { BasicBlockKind.token }
    var aliases: [String] { ["basicblock"] }
    var parameters: [SpecParameter] {
        [
            SpecParameter(
                "planes", aliases: ["planes", "filters", "f"], kind: .integer(1...(1 << 20)),
                default: .required(hint: "a channel count, e.g. block(32,s=2)")),
            SpecParameter(
                "stride", aliases: ["s", "stride"], kind: .integer(1...(1 << 20)), default: .value(.integer(1))),
        ]
    }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> {
        try requireImageShape(inputShape)
        return try BasicBlock<Scalar>(
            inputChannels: inputShape[0], planes: arguments.integer("planes"), stride: arguments.integer("stride"),
            initializer: context.initializer, random: &context.random)
    }
}
