/// Layers applied in order (PyTorch's `nn.Sequential`). Parameters are named as in its
/// `state_dict`: `"\(index).\(name)"`, e.g. `0.weight`, `4.bias`, where index counts every
/// layer including those without parameters.
public final class Sequential<Scalar: KernelScalar>: Layer {
    /// The layers, first applied first.
    public let layers: [any Layer<Scalar>]

    /// A sequence of layers.
    public init(_ layers: [any Layer<Scalar>]) {
        self.layers = layers
    }

    public var description: String {
        "Sequential(\n" + layers.enumerated().map { "  (\($0)): \($1)" }.joined(separator: "\n") + "\n)"
    }

    public var parameters: [Parameter<Scalar>] { layers.flatMap { $0.parameters } }

    /// Parameters with their state_dict names, in state_dict order.
    public var namedParameters: [(name: String, parameter: Parameter<Scalar>)] {
        layers.enumerated().flatMap { index, layer in
            layer.parameters.map { (name: "\(index).\($0.name)", parameter: $0) }
        }
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        try layers.reduce(inputShape) { shape, layer in try layer.outputShape(forInputShape: shape) }
    }

    /// The per-sample shape after each layer, for a summary.
    public func layerShapes(forInputShape inputShape: [Int]) throws -> [[Int]] {
        var shapes: [[Int]] = []
        var shape = inputShape
        for layer in layers {
            shape = try layer.outputShape(forInputShape: shape)
            shapes.append(shape)
        }
        return shapes
    }

    public func forwardFlops(forInputShape inputShape: [Int]) throws -> Int {
        var total = 0
        var shape = inputShape
        for layer in layers {
            total += try layer.forwardFlops(forInputShape: shape)
            shape = try layer.outputShape(forInputShape: shape)
        }
        return total
    }

    /// For each index, the Conv2D → ReLU pair that starts there (fused: the convolution applies
    /// ReLU to each image while it is in cache, and backward masks dY inside the convolution),
    /// found once: the layers never change.
    private lazy var fusedPairs: [FusedConvolutionReLU<Scalar>?] = layers.indices.map { index in
        guard index + 1 < layers.count, let convolution = layers[index] as? Conv2D<Scalar>,
            let relu = layers[index + 1] as? ReLU<Scalar>
        else { return nil }
        return FusedConvolutionReLU(convolution: convolution, relu: relu)
    }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        var x = input
        var index = 0
        while index < layers.count {
            if let pair = fusedPairs[index] {
                x = pair.relu.adoptRectified(try pair.convolution.forward(x, rectify: true))
                index += 2
            } else {
                x = try layers[index].forward(x)
                index += 1
            }
        }
        return x
    }

    public func backward(_ outputGradient: Tensor<Scalar>) throws -> Tensor<Scalar> {
        var gradient = outputGradient
        var index = layers.count - 1
        while index >= 0 {
            if index >= 1, let pair = fusedPairs[index - 1], let rectified = pair.relu.cachedInput {
                gradient = try pair.convolution.backward(gradient, inputGradient: true, rectifiedOutput: rectified)!
                index -= 2
            } else {
                gradient = try layers[index].backward(gradient)
                index -= 1
            }
        }
        return gradient
    }

    /// Back-propagates through every layer but returns nothing: the first layer only fills its
    /// parameter gradients and skips d loss / d input, which a training step never uses (a
    /// third of the first convolution's work). What `Model.lossAndGradients` calls.
    func backwardParametersOnly(_ outputGradient: Tensor<Scalar>) throws {
        guard !layers.isEmpty else { return }
        var gradient = outputGradient
        var index = layers.count - 1
        while index > 0 {
            if let pair = fusedPairs[index - 1], let rectified = pair.relu.cachedInput {
                // ReLU's mask is applied inside the convolution's backward.
                let wantInput = index - 1 > 0
                let result = try pair.convolution.backward(
                    gradient, inputGradient: wantInput, rectifiedOutput: rectified)
                if !wantInput { return }
                gradient = result!
                index -= 2
            } else {
                gradient = try layers[index].backward(gradient)
                index -= 1
            }
        }
        try backwardFirstLayer(gradient)
    }

    /// The first layer's backward without its input gradient where the layer can skip it.
    func backwardFirstLayer(_ outputGradient: Tensor<Scalar>) throws {
        let first = layers[0]
        if let convolution = first as? Conv2D<Scalar> {
            try convolution.backwardParametersOnly(outputGradient)
        } else if let dense = first as? Dense<Scalar> {
            try dense.backwardParametersOnly(outputGradient)
        } else if let nested = first as? Sequential<Scalar> {
            try nested.backwardParametersOnly(outputGradient)
        } else {
            _ = try first.backward(outputGradient)
        }
    }

    /// Copies every parameter value from `other` (same architecture, any element type).
    public func copyParameters<Other: KernelScalar>(from other: Sequential<Other>) throws {
        let mine = namedParameters, theirs = other.namedParameters
        guard mine.count == theirs.count else {
            throw ConvNetError.shapeMismatch("parameter count differs: \(mine.count) vs \(theirs.count)")
        }
        for (target, source) in zip(mine, theirs) {
            guard target.name == source.name, target.parameter.value.shape == source.parameter.value.shape else {
                throw ConvNetError.shapeMismatch(
                    "\(target.name) \(describe(target.parameter.value.shape)) vs "
                        + "\(source.name) \(describe(source.parameter.value.shape))")
            }
            target.parameter.value = source.parameter.value.converted()
        }
    }
}

/// A Conv2D immediately followed by a ReLU inside a Sequential.
struct FusedConvolutionReLU<Scalar: KernelScalar> {
    let convolution: Conv2D<Scalar>
    let relu: ReLU<Scalar>
}
