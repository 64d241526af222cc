/// ReLU: y = max(x, 0), element-wise, any shape. dx = dy · [x > 0].
public final class ReLU<Scalar: KernelScalar>: Layer {
    private var input: Tensor<Scalar>?
    private var outputs = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()

    public init() {}

    public var description: String { "ReLU()" }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        self.input = input
        return input.withUnsafeBufferPointer { x in
            let x = x.baseAddress!
            return outputs.produce(shape: input.shape) { y, count in
                parallelRanges(count: count) { start, length in
                    Scalar.reluForward(x + start, y + start, count: length)
                }
            }
        }
    }

    /// The fused Conv2D → ReLU forward (`Sequential`): `output` is already rectified; it is
    /// cached in place of the input (output > 0 exactly where input > 0, so backward is
    /// unchanged) and returned as is.
    func adoptRectified(_ output: Tensor<Scalar>) -> Tensor<Scalar> {
        input = output
        return output
    }

    /// What backward masks with: the last forward's input (or rectified output).
    var cachedInput: Tensor<Scalar>? { input }

    public func backward(_ outputGradient: Tensor<Scalar>) throws -> Tensor<Scalar> {
        guard let input, outputGradient.shape == input.shape else {
            try requireGradient(outputGradient, shape: input?.shape, layer: "ReLU")
            throw ConvNetError.invalidArgument("ReLU: backward called before forward")
        }
        return input.withUnsafeBufferPointer { x in
            outputGradient.withUnsafeBufferPointer { dy in
                let x = x.baseAddress!, dy = dy.baseAddress!
                return inputGradients.produce(shape: input.shape) { dx, count in
                    parallelRanges(count: count) { start, length in
                        Scalar.reluBackward(input: x + start, dy + start, dx + start, count: length)
                    }
                }
            }
        }
    }
}

/// Sigmoid: y = 1 / (1 + e^−x), element-wise, any shape. dx = dy · y · (1 − y).
public final class Sigmoid<Scalar: KernelScalar>: Layer {
    private var output: Tensor<Scalar>?

    public init() {}

    public var description: String { "Sigmoid()" }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        output = mapElements(input, Scalar.sigmoidForward)
        return output!
    }

    public func backward(_ outputGradient: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try requireGradient(outputGradient, shape: output?.shape, layer: description)
        return mapElements(output!, outputGradient) { Scalar.sigmoidBackward(output: $0, $1, $2, count: $3) }
    }
}

/// Tanh: y = tanh x, element-wise, any shape. dx = dy · (1 − y²).
public final class Tanh<Scalar: KernelScalar>: Layer {
    private var output: Tensor<Scalar>?

    public init() {}

    public var description: String { "Tanh()" }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        output = mapElements(input, Scalar.tanhForward)
        return output!
    }

    public func backward(_ outputGradient: Tensor<Scalar>) throws -> Tensor<Scalar> {
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
