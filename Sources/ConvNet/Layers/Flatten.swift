/// Flatten: [N, d1, ..., dk] → [N, d1·...·dk] (PyTorch's `nn.Flatten()`); backward restores
/// the input shape. No data moves: NCHW is already row-major.
public final class Flatten<Scalar: KernelScalar>: Layer {
    private var inputShape: [Int]?
    private var flatShape: [Int] = []

    public init() {}

    public var description: String { "Flatten()" }

    public var specification: LayerSpec { LayerSpec(token: FlattenKind.token) }

    public var pytorchModule: String { "nn.Flatten()" }

    /// `Flatten` with axis 1: [N, d1, …, dk] → [N, d1·…·dk].
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        graph.node(
            "Flatten", [input.name], [.integer("axis", 1)],
            sampleShape: try outputShape(forInputShape: input.sampleShape))
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        guard let count = checkedProduct(inputShape) else {
            throw ConvNetError.shapeMismatch("Flatten: sample shape \(describe(inputShape)) is too large")
        }
        return [count]
    }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        guard input.rank >= 1 else {
            throw ConvNetError.shapeMismatch("Flatten expects a batch [N, ...], found a scalar")
        }
        if input.shape != inputShape {
            inputShape = input.shape
            flatShape = [input.shape[0], input.count / max(input.shape[0], 1)]
        }
        return Tensor(uncheckedShape: flatShape, scalars: input.scalars)
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        guard let inputShape else {
            throw ConvNetError.invalidArgument("Flatten: backward called before forward")
        }
        guard outputGradient.count == inputShape.reduce(1, *) else {
            throw ConvNetError.shapeMismatch(
                "Flatten backward expects \(inputShape.reduce(1, *)) elements, found \(outputGradient.count)")
        }
        return Tensor(uncheckedShape: inputShape, scalars: outputGradient.scalars)
    }
}

/// `flatten`: `Flatten`.
struct FlattenKind: LayerKind {
    static let token = "flatten"
    var token: String { FlattenKind.token }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> { Flatten<Scalar>() }
}
