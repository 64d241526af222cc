/// A residual block: the sum of two branches applied to the same input,
/// y = body(x) + shortcut(x), where an empty shortcut is the identity. Both branches are
/// `Sequential`s, so their layers fuse as in any Sequential.
///
/// Its state_dict names are `body.*` and `shortcut.*`, those of this PyTorch module (README):
///
/// ```python
/// class Residual(nn.Module):
///     def __init__(self, body, shortcut=None):
///         super().__init__()
///         self.body = body
///         self.shortcut = shortcut if shortcut is not None else nn.Identity()
///     def forward(self, x):
///         return self.body(x) + self.shortcut(x)
/// ```
///
/// Backward: d body-input = body.backward(dy), d shortcut-input = shortcut.backward(dy) (dy
/// itself for the identity), and dx is their sum.
public final class Residual<Scalar: KernelScalar>: Layer {
    /// The main branch.
    public let body: Sequential<Scalar>
    /// The shortcut (no layers: the identity).
    public let shortcut: Sequential<Scalar>
    private var outputs = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()
    private var cachedOutputShape: [Int]?

    /// y = body(x) + shortcut(x); the default shortcut is the identity.
    public init(body: Sequential<Scalar>, shortcut: Sequential<Scalar> = Sequential([])) {
        self.body = body
        self.shortcut = shortcut
    }

    public var description: String {
        "Residual(body: \(body.layers.map(\.description).joined(separator: " → "))"
            + (shortcut.layers.isEmpty
                ? "" : "; shortcut: " + shortcut.layers.map(\.description).joined(separator: " → ")) + ")"
    }

    public var sublayers: [(name: String, layer: any Layer<Scalar>)] { [("body", body), ("shortcut", shortcut)] }

    public var specification: LayerSpec {
        LayerSpec(
            token: ResidualKind.token,
            arguments: [
                "body": .spec(ModelSpec(layers: body.layers.map(\.specification))),
                "shortcut": .spec(ModelSpec(layers: shortcut.layers.map(\.specification))),
            ])
    }

    public var pytorchModule: String {
        "Residual(\(body.pytorchModule)" + (shortcut.layers.isEmpty ? "" : ", \(shortcut.pytorchModule)") + ")"
    }

    /// The body (`body.*`) and the shortcut (`shortcut.*`, no node for the identity) on the same
    /// input, then `Add`.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        let shape = try outputShape(forInputShape: input.sampleShape)
        let main = try graph.export(body, named: "body", input: input)
        let side = try graph.export(shortcut, named: "shortcut", input: input)
        return graph.node("Add", [main.name, side.name], sampleShape: shape)
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        let main = try body.outputShape(forInputShape: inputShape)
        let side = try shortcut.outputShape(forInputShape: inputShape)
        guard main == side else {
            throw ConvNetError.shapeMismatch(
                "residual branches disagree: the body gives \(describe(main)), the shortcut \(describe(side)) "
                    + "(use a shortcut such as conv(C,k=1,s=2) bn when the body changes the shape)")
        }
        return main
    }

    public func forwardFlops(forInputShape inputShape: [Int]) throws -> Int {
        try body.forwardFlops(forInputShape: inputShape) + shortcut.forwardFlops(forInputShape: inputShape)
            + (try outputShape(forInputShape: inputShape)).reduce(1, *)
    }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        let main = try body.forward(input)
        let side = try shortcut.forward(input)
        guard main.shape == side.shape else {
            throw ConvNetError.shapeMismatch(
                "residual branches disagree: body \(describe(main.shape)), shortcut \(describe(side.shape))")
        }
        cachedOutputShape = main.shape
        return outputs.sum(main, side)
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        try requireGradient(outputGradient, shape: cachedOutputShape, layer: "Residual")
        let main = try body.backward(outputGradient, needsInputGradient: needsInputGradient)
        let side = try shortcut.backward(outputGradient, needsInputGradient: needsInputGradient)
        guard let main, let side else { return nil }
        return inputGradients.sum(main, side)
    }
}

/// `res(BODY | SHORTCUT)`: `Residual`, e.g. `res(conv(16,p=1) bn relu conv(16,p=1) bn) relu` or
/// `res(conv(32,s=2,p=1) bn relu conv(32,p=1) bn | conv(32,k=1,s=2) bn) relu`.
struct ResidualKind: LayerKind {
    static let token = "res"
    var token: String { ResidualKind.token }
    var aliases: [String] { ["residual"] }
    var parameters: [SpecParameter] {
        [
            SpecParameter(
                "body", kind: .layers,
                default: .required(hint: "layers, e.g. res(conv(16,p=1) bn relu conv(16,p=1) bn)")),
            SpecParameter("shortcut", kind: .layers, default: .value(.spec(ModelSpec(layers: [])))),
        ]
    }

    func validate(_ arguments: SpecArguments) throws {
        guard !arguments.layers("body").layers.isEmpty else {
            throw ConvNetError.invalidArgument("res needs at least one layer in its body")
        }
    }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> {
        let body = Sequential(
            try arguments.layers("body").makeLayers(inputShape: inputShape, context: &context, scalar: Scalar.self))
        let shortcut = Sequential(
            try arguments.layers("shortcut").makeLayers(inputShape: inputShape, context: &context, scalar: Scalar.self))
        let block = Residual(body: body, shortcut: shortcut)
        _ = try block.outputShape(forInputShape: inputShape)
        return block
    }
}
