/// The identity (PyTorch's `nn.Identity`): y = x, dx = dy, any shape. A placeholder, e.g. for
/// a residual block's shortcut.
public final class Identity<Scalar: KernelScalar>: Layer {
    private var inputShape: [Int]?

    public init() {}

    public var description: String { "Identity()" }

    public var specification: LayerSpec { LayerSpec(token: IdentityKind.token) }

    public var pytorchModule: String { "nn.Identity()" }

    /// No node: its input is its output.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue { input }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        inputShape = input.shape
        return input
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        try requireGradient(outputGradient, shape: inputShape, layer: description)
        return needsInputGradient ? outputGradient : nil
    }
}

/// `identity`: `Identity`.
struct IdentityKind: LayerKind {
    static let token = "identity"
    var token: String { IdentityKind.token }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> { Identity<Scalar>() }
}
