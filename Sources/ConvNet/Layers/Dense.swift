/// Dense (affine, PyTorch's `nn.Linear`): y = x·Wᵀ + b.
///
/// input [N, d1, ..., dk] is read as [N, D] with D = d1·...·dk → output [N, outputSize].
/// weight [outputSize, inputSize] (PyTorch's layout), bias [outputSize].
/// Backward: dW = dyᵀ·x, db = Σ_n dy, dx = dy·W (reshaped to the input's shape).
public final class Dense<Scalar: KernelScalar>: Layer {
    /// D, the flattened size of one input sample.
    public let inputSize: Int
    /// The number of output units.
    public let outputSize: Int
    /// weight [outputSize, inputSize].
    public let weight: Parameter<Scalar>
    /// bias [outputSize].
    public let bias: Parameter<Scalar>

    private var input: Tensor<Scalar>?
    private var cachedInputShape: [Int] = []
    private var cachedOutputShape: [Int] = []
    private var outputs = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()

    /// A dense layer initialised by `initializer` (biases per `initializer.biasInitializer`).
    public init(
        inputSize: Int, outputSize: Int, initializer: Initializer = .heNormal,
        random: inout SeededRandom
    ) throws {
        guard inputSize > 0, outputSize > 0 else {
            throw ConvNetError.invalidArgument(
                "Dense needs positive sizes, found inputSize \(inputSize), outputSize \(outputSize)")
        }
        try ReaderLimits.current.checkTensor([outputSize, inputSize], "Dense(\(inputSize) → \(outputSize)) weight")
        self.inputSize = inputSize
        self.outputSize = outputSize
        weight = Parameter(
            name: "weight",
            value: initializer.makeTensor(
                shape: [outputSize, inputSize], fanIn: inputSize, fanOut: outputSize, random: &random),
            isRegularized: true)
        bias = Parameter(
            name: "bias",
            value: initializer.biasInitializer.makeTensor(
                shape: [outputSize], fanIn: inputSize, fanOut: outputSize, random: &random),
            isRegularized: false)
    }

    public var description: String { "Dense(\(inputSize) → \(outputSize))" }

    public var localParameters: [Parameter<Scalar>] { [weight, bias] }

    public var specification: LayerSpec {
        LayerSpec(token: DenseKind.token, arguments: ["units": .integer(outputSize)])
    }

    public var pytorchModule: String { "nn.Linear(\(inputSize), \(outputSize))" }

    /// `Gemm` with transB = 1: Y = X·Wᵀ + B, X [N, D], W [outputSize, D] as stored, B
    /// [outputSize]. An input with more than one dimension per sample is read as [N, D] by
    /// this layer, so a `Flatten` (axis 1) comes first.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        let shape = try outputShape(forInputShape: input.sampleShape)
        var rows = input
        if input.sampleShape.count != 1 {
            rows = graph.node("Flatten", [input.name], [.integer("axis", 1)], sampleShape: [inputSize])
        }
        let (w, b) = (graph.parameter(weight), graph.parameter(bias))
        return graph.node("Gemm", [rows.name, w, b], [.integer("transB", 1)], sampleShape: shape)
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        guard inputShape.reduce(1, *) == inputSize else {
            throw ConvNetError.shapeMismatch(
                "Dense(\(inputSize) → \(outputSize)) expects samples of \(inputSize) values, "
                    + "found \(describe(inputShape)) = \(inputShape.reduce(1, *))")
        }
        return [outputSize]
    }

    public func forwardFlops(forInputShape inputShape: [Int]) throws -> Int {
        inputSize * outputSize
    }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        if input.shape != cachedInputShape || cachedOutputShape.isEmpty {
            guard input.rank >= 1 else {
                throw ConvNetError.shapeMismatch("Dense expects a batch [N, ...], found a scalar")
            }
            _ = try outputShape(forInputShape: Array(input.shape.dropFirst()))
            cachedInputShape = input.shape
            cachedOutputShape = [input.shape[0], outputSize]
        }
        let batch = input.shape[0]
        self.input = input
        let (inputSize, outputSize) = (self.inputSize, self.outputSize)
        return input.withUnsafeBufferPointer { x in
            weight.value.withUnsafeBufferPointer { w in
                bias.value.withUnsafeBufferPointer { b in
                    outputs.produce(shape: cachedOutputShape) { y, _ in
                        Scalar.denseProduct(
                            m: batch, n: outputSize, k: inputSize, a: x.baseAddress!, lda: inputSize,
                            b: w.baseAddress!, ldb: inputSize, c: y, ldc: outputSize)
                        Scalar.addRowBias(y, bias: b.baseAddress!, rows: batch, columns: outputSize)
                    }
                }
            }
        }
    }

    /// dW = dyᵀ·x, db = Σ_n dy and, when needed, dx = dy·W.
    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient wantInput: Bool) throws -> Tensor<Scalar>?
    {
        guard let input else {
            throw ConvNetError.invalidArgument("Dense: backward called before forward")
        }
        let batch = input.shape[0]
        if outputGradient.shape != cachedOutputShape {
            try requireGradient(outputGradient, shape: [batch, outputSize], layer: "Dense")
        }
        let (inputSize, outputSize) = (self.inputSize, self.outputSize)
        outputGradient.withUnsafeBufferPointer { dy in
            input.withUnsafeBufferPointer { x in
                weight.gradient.withUnsafeMutableBufferPointer { dw in
                    Scalar.gemm(
                        transposeA: true, transposeB: false, m: outputSize, n: inputSize, k: batch,
                        alpha: 1, a: dy.baseAddress!, lda: outputSize, b: x.baseAddress!, ldb: inputSize,
                        beta: 0, c: dw.baseAddress!, ldc: inputSize)
                }
            }
            bias.gradient.withUnsafeMutableBufferPointer { db in
                Scalar.sumRows(dy.baseAddress!, db.baseAddress!, rows: batch, columns: outputSize)
            }
        }
        guard wantInput else { return nil }
        return outputGradient.withUnsafeBufferPointer { dy in
            weight.value.withUnsafeBufferPointer { w in
                inputGradients.produce(shape: input.shape) { dx, _ in
                    Scalar.gemm(
                        transposeA: false, transposeB: false, m: batch, n: inputSize, k: outputSize,
                        alpha: 1, a: dy.baseAddress!, lda: outputSize, b: w.baseAddress!, ldb: inputSize,
                        beta: 0, c: dx, ldc: inputSize)
                }
            }
        }
    }
}

/// `dense(units)` (also `linear`, `fc`): `Dense`, its input flattened by a `flatten` before it.
struct DenseKind: LayerKind {
    static let token = "dense"
    var token: String { DenseKind.token }
    var aliases: [String] { ["linear", "fc"] }
    var parameters: [SpecParameter] {
        [
            SpecParameter(
                "units", aliases: ["n", "units", "out", "out_features"], kind: .integer(1...(1 << 24)),
                default: .required(hint: "a unit count, e.g. dense(10)"))
        ]
    }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> {
        guard inputShape.count == 1 else {
            throw ConvNetError.shapeMismatch(
                "input \(describe(inputShape)) has \(inputShape.count) dimensions; put 'flatten' before dense (as nn.Linear needs)"
            )
        }
        return try Dense<Scalar>(
            inputSize: inputShape[0], outputSize: arguments.integer("units"), initializer: context.initializer,
            random: &context.random)
    }
}
