/// Global average pooling (PyTorch's `nn.AdaptiveAvgPool2d(1)`): the mean of each channel's
/// plane. input [N, C, H, W] → output [N, C, 1, 1] (follow it with `flatten` before a dense
/// layer); backward spreads dy / (H·W) over the plane.
public final class GlobalAvgPool2D<Scalar: KernelScalar>: Layer {
    private var cachedInputShape: [Int]?
    private var cachedOutputShape: [Int] = []
    private var outputs = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()

    public init() {}

    public var description: String { "GlobalAvgPool2D()" }

    public var specification: LayerSpec { LayerSpec(token: GlobalAvgPoolKind.token) }

    public var pytorchModule: String { "nn.AdaptiveAvgPool2d(1)" }

    /// `GlobalAveragePool`: [N, C, H, W] → [N, C, 1, 1].
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        graph.node("GlobalAveragePool", [input.name], sampleShape: try outputShape(forInputShape: input.sampleShape))
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3, inputShape[1] > 0, inputShape[2] > 0 else {
            throw ConvNetError.shapeMismatch(
                "\(description) expects input [N, C, H, W], found [N, "
                    + inputShape.map(String.init).joined(separator: ", ") + "]")
        }
        return [inputShape[0], 1, 1]
    }

    public func forwardFlops(forInputShape inputShape: [Int]) throws -> Int {
        inputShape.reduce(1, *)
    }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        if input.shape != cachedInputShape {
            guard input.rank == 4 else {
                throw ConvNetError.shapeMismatch(
                    "\(description) expects input [N, C, H, W], found \(describe(input.shape))")
            }
            _ = try outputShape(forInputShape: Array(input.shape.dropFirst()))
            cachedInputShape = input.shape
            cachedOutputShape = [input.shape[0], input.shape[1], 1, 1]
        }
        let planes = input.shape[0] * input.shape[1]
        let plane = input.shape[2] * input.shape[3]
        let divisor = Double(plane)
        return input.withUnsafeBufferPointer { x in
            let x = x.baseAddress!
            return outputs.produce(shape: cachedOutputShape) { y, _ in
                for p in 0..<planes {
                    var sum = 0.0
                    let row = x + p * plane
                    for i in 0..<plane { sum += row[i].doubleValue }
                    y[p] = Scalar(sum / divisor)
                }
            }
        }
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        guard let inputShape = cachedInputShape else {
            throw ConvNetError.invalidArgument("\(description): backward called before forward")
        }
        if outputGradient.shape != cachedOutputShape {
            try requireGradient(outputGradient, shape: cachedOutputShape, layer: description)
        }
        guard needsInputGradient else { return nil }
        let planes = inputShape[0] * inputShape[1]
        let plane = inputShape[2] * inputShape[3]
        let scale = 1 / Scalar(plane)
        return outputGradient.withUnsafeBufferPointer { dy in
            let dy = dy.baseAddress!
            return inputGradients.produce(shape: inputShape) { dx, _ in
                for p in 0..<planes { (dx + p * plane).update(repeating: dy[p] * scale, count: plane) }
            }
        }
    }
}

/// `gap`: `GlobalAvgPool2D`.
struct GlobalAvgPoolKind: LayerKind {
    static let token = "gap"
    var token: String { GlobalAvgPoolKind.token }
    var aliases: [String] { ["globalavgpool", "adaptiveavgpool"] }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> {
        try requireImageShape(inputShape)
        return GlobalAvgPool2D<Scalar>()
    }
}
