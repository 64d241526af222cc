/// A learnable tensor and its gradient. Layers own their parameters; optimizers update
/// `value` in place from `gradient`.
public final class Parameter<Scalar: KernelScalar> {
    /// The name PyTorch gives it inside its module: `weight` or `bias`.
    public let name: String
    /// The current value.
    public var value: Tensor<Scalar>
    /// d loss / d value from the last `backward` (same shape as `value`).
    public var gradient: Tensor<Scalar>
    /// Whether L2 regularisation applies (weights yes, biases no, as in the classic nets).
    public let isRegularized: Bool

    /// A parameter with a zero gradient.
    public init(name: String, value: Tensor<Scalar>, isRegularized: Bool) {
        self.name = name
        self.value = value
        self.gradient = Tensor(zeros: value.shape)
        self.isRegularized = isRegularized
    }
}

/// A differentiable operation on whole mini-batches.
///
/// `forward` takes a batch `[N, ...]` and remembers what `backward` needs; `backward` takes
/// d loss / d output for that same batch, fills each parameter's `gradient` (overwriting it)
/// and returns d loss / d input. No layer loops over the images of a batch in its API.
public protocol Layer<Scalar>: AnyObject, CustomStringConvertible {
    /// Float for training, Double for gradient checks.
    associatedtype Scalar: KernelScalar

    /// The shape of one output sample for one input sample of `inputShape` (no batch
    /// dimension); throws when the input does not fit.
    func outputShape(forInputShape inputShape: [Int]) throws -> [Int]

    /// Runs the layer on a batch `[N, ...]`.
    func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar>

    /// Back-propagates d loss / d output of the last `forward`; returns d loss / d input.
    func backward(_ outputGradient: Tensor<Scalar>) throws -> Tensor<Scalar>

    /// The layer's parameters, in PyTorch's order (`weight` before `bias`).
    var parameters: [Parameter<Scalar>] { get }

    /// Multiply–add count of the forward pass for one sample of `inputShape`.
    func forwardFlops(forInputShape inputShape: [Int]) throws -> Int
}

extension Layer {
    public var parameters: [Parameter<Scalar>] { [] }
    public func forwardFlops(forInputShape inputShape: [Int]) throws -> Int { 0 }
}

/// Checks that `input` is a batch whose samples have `expected` shape.
func requireBatch<Scalar>(_ input: Tensor<Scalar>, sampleShape expected: [Int], layer: String) throws {
    guard input.rank == expected.count + 1, Array(input.shape.dropFirst()) == expected else {
        throw ConvNetError.shapeMismatch(
            "\(layer) expects input [N, \(expected.map(String.init).joined(separator: ", "))], "
                + "found \(describe(input.shape))")
    }
}

/// Checks that a gradient has the shape of the output the layer last produced.
func requireGradient<Scalar>(_ gradient: Tensor<Scalar>, shape: [Int]?, layer: String) throws {
    guard let shape else {
        throw ConvNetError.invalidArgument("\(layer): backward called before forward")
    }
    guard gradient.shape == shape else {
        throw ConvNetError.shapeMismatch(
            "\(layer) backward expects gradient \(describe(shape)), found \(describe(gradient.shape))")
    }
}
