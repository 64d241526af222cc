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

/// Sigmoid: y = 1 / (1 + e^−x), element-wise. dx = dy · y · (1 − y).
public final class Sigmoid<Scalar: KernelScalar>: Layer {
    private var output: Tensor<Scalar>?

    public init() {}

    public var description: String { "Sigmoid()" }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        var output = Tensor<Scalar>(zeros: input.shape)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                Scalar.sigmoidForward(x.baseAddress!, y.baseAddress!, count: x.count)
            }
        }
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try requireGradient(outputGradient, shape: output?.shape, layer: "Sigmoid")
        var inputGradient = Tensor<Scalar>(zeros: outputGradient.shape)
        output!.withUnsafeBufferPointer { y in
            outputGradient.withUnsafeBufferPointer { dy in
                inputGradient.withUnsafeMutableBufferPointer { dx in
                    Scalar.sigmoidBackward(output: y.baseAddress!, dy.baseAddress!, dx.baseAddress!, count: y.count)
                }
            }
        }
        return inputGradient
    }
}

/// Tanh: y = tanh x, element-wise. dx = dy · (1 − y²).
public final class Tanh<Scalar: KernelScalar>: Layer {
    private var output: Tensor<Scalar>?

    public init() {}

    public var description: String { "Tanh()" }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        var output = Tensor<Scalar>(zeros: input.shape)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                Scalar.tanhForward(x.baseAddress!, y.baseAddress!, count: x.count)
            }
        }
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try requireGradient(outputGradient, shape: output?.shape, layer: "Tanh")
        var inputGradient = Tensor<Scalar>(zeros: outputGradient.shape)
        output!.withUnsafeBufferPointer { y in
            outputGradient.withUnsafeBufferPointer { dy in
                inputGradient.withUnsafeMutableBufferPointer { dx in
                    Scalar.tanhBackward(output: y.baseAddress!, dy.baseAddress!, dx.baseAddress!, count: y.count)
                }
            }
        }
        return inputGradient
    }
}
