/// 2-D convolution (cross-correlation, PyTorch's `nn.Conv2d`) over a whole batch at once.
///
/// input [N, C, H, W] → output [N, F, H', W'], H' = (H + 2·padding − kernel) / stride + 1
/// (the division must be exact: a window that does not fit is an error, as in the classic
/// layer). weight [F, C, kernel, kernel], bias [F].
///
/// Forward: the batch is unfolded once into columns [C·k·k, N·H'·W'] (im2col), multiplied by
/// the weight read as [F, C·k·k] in one GEMM, and scattered to NCHW with the bias added.
/// Backward: dW = dY·colsᵀ, db = Σ dY, dcols = Wᵀ·dY, folded back with col2im.
/// `naiveConvolution` (ConvNetKernels) is the seven-loop reference it is tested against.
public final class Conv2D<Scalar: KernelScalar>: Layer {
    /// C.
    public let inputChannels: Int
    /// F.
    public let outputChannels: Int
    /// k (square kernels).
    public let kernelSize: Int
    /// The step between windows, in both directions.
    public let stride: Int
    /// Zeros added on every side.
    public let padding: Int
    /// weight [F, C, k, k].
    public let weight: Parameter<Scalar>
    /// bias [F].
    public let bias: Parameter<Scalar>

    private var geometry: WindowGeometry?
    private var columns: [Scalar] = []
    private var product: [Scalar] = []

    /// A convolution initialised by `initializer` (biases per `initializer.biasInitializer`).
    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        initializer: Initializer = .heNormal, random: inout SeededRandom
    ) throws {
        guard inputChannels > 0, outputChannels > 0, kernelSize > 0, stride > 0, padding >= 0 else {
            throw ConvNetError.invalidArgument(
                "Conv2D needs positive channels, kernel and stride and padding ≥ 0, found "
                    + "in \(inputChannels), out \(outputChannels), kernel \(kernelSize), "
                    + "stride \(stride), padding \(padding)")
        }
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        let fanIn = inputChannels * kernelSize * kernelSize
        let fanOut = outputChannels * kernelSize * kernelSize
        weight = Parameter(
            name: "weight",
            value: initializer.makeTensor(
                shape: [outputChannels, inputChannels, kernelSize, kernelSize],
                fanIn: fanIn, fanOut: fanOut, random: &random),
            isRegularized: true)
        bias = Parameter(
            name: "bias",
            value: initializer.biasInitializer.makeTensor(
                shape: [outputChannels], fanIn: fanIn, fanOut: fanOut, random: &random),
            isRegularized: false)
    }

    public var description: String {
        "Conv2D(\(inputChannels) → \(outputChannels), kernel \(kernelSize), stride \(stride), padding \(padding))"
    }

    public var parameters: [Parameter<Scalar>] { [weight, bias] }

    private func makeGeometry(batch: Int, inputShape: [Int]) throws -> WindowGeometry {
        guard inputShape.count == 3, inputShape[0] == inputChannels else {
            throw ConvNetError.shapeMismatch(
                "\(description) expects input [N, \(inputChannels), H, W], found [N, "
                    + inputShape.map(String.init).joined(separator: ", ") + "]")
        }
        let (height, width) = (inputShape[1], inputShape[2])
        for (name, size) in [("height", height), ("width", width)] {
            let span = size + 2 * padding - kernelSize
            guard span >= 0, span % stride == 0 else {
                throw ConvNetError.shapeMismatch(
                    "\(description): input \(name) \(size) does not fit: (\(size) + 2·\(padding) − "
                        + "\(kernelSize)) / \(stride) + 1 is not a whole positive number")
            }
        }
        return WindowGeometry(
            batch: batch, channels: inputChannels, height: height, width: width,
            kernelHeight: kernelSize, kernelWidth: kernelSize, strideHeight: stride,
            strideWidth: stride, paddingHeight: padding, paddingWidth: padding)
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        let g = try makeGeometry(batch: 1, inputShape: inputShape)
        return [outputChannels, g.outputHeight, g.outputWidth]
    }

    public func forwardFlops(forInputShape inputShape: [Int]) throws -> Int {
        let g = try makeGeometry(batch: 1, inputShape: inputShape)
        return outputChannels * g.outputPlane * g.patchSize
    }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        guard input.rank == 4 else {
            throw ConvNetError.shapeMismatch(
                "\(description) expects input [N, C, H, W], found \(describe(input.shape))")
        }
        let g = try makeGeometry(batch: input.shape[0], inputShape: Array(input.shape.dropFirst()))
        geometry = g
        let columnCount = g.batch * g.outputPlane
        resize(&columns, to: g.patchSize * columnCount)
        resize(&product, to: outputChannels * columnCount)
        var output = Tensor<Scalar>(zeros: [g.batch, outputChannels, g.outputHeight, g.outputWidth])
        let filters = outputChannels
        input.withUnsafeBufferPointer { x in
            columns.withUnsafeMutableBufferPointer { cols in
                Scalar.im2col(x.baseAddress!, cols.baseAddress!, g)
            }
        }
        columns.withUnsafeBufferPointer { cols in
            weight.value.withUnsafeBufferPointer { w in
                product.withUnsafeMutableBufferPointer { y in
                    Scalar.gemm(
                        transposeA: false, transposeB: false, m: filters, n: columnCount, k: g.patchSize,
                        alpha: 1, a: w.baseAddress!, lda: g.patchSize, b: cols.baseAddress!,
                        ldb: columnCount, beta: 0, c: y.baseAddress!, ldc: columnCount)
                }
            }
        }
        product.withUnsafeBufferPointer { y in
            bias.value.withUnsafeBufferPointer { b in
                output.withUnsafeMutableBufferPointer { out in
                    Scalar.scatterChannelsAddingBias(
                        y.baseAddress!, bias: b.baseAddress!, out.baseAddress!, batch: g.batch,
                        channels: filters, planeSize: g.outputPlane)
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor<Scalar>) throws -> Tensor<Scalar> {
        guard let g = geometry else {
            throw ConvNetError.invalidArgument("\(description): backward called before forward")
        }
        try requireGradient(
            outputGradient, shape: [g.batch, outputChannels, g.outputHeight, g.outputWidth],
            layer: description)
        let columnCount = g.batch * g.outputPlane
        let filters = outputChannels
        // dY as [F, N·H'·W'], reusing the forward product buffer.
        outputGradient.withUnsafeBufferPointer { dy in
            product.withUnsafeMutableBufferPointer { gathered in
                Scalar.gatherChannels(
                    dy.baseAddress!, gathered.baseAddress!, batch: g.batch, channels: filters,
                    planeSize: g.outputPlane)
            }
        }
        var columnGradient = [Scalar](repeating: 0, count: g.patchSize * columnCount)
        var inputGradient = Tensor<Scalar>(zeros: [g.batch, g.channels, g.height, g.width])
        product.withUnsafeBufferPointer { dy in
            columns.withUnsafeBufferPointer { cols in
                weight.gradient.withUnsafeMutableBufferPointer { dw in
                    Scalar.gemm(
                        transposeA: false, transposeB: true, m: filters, n: g.patchSize, k: columnCount,
                        alpha: 1, a: dy.baseAddress!, lda: columnCount, b: cols.baseAddress!,
                        ldb: columnCount, beta: 0, c: dw.baseAddress!, ldc: g.patchSize)
                }
            }
            bias.gradient.withUnsafeMutableBufferPointer { db in
                Scalar.sumColumns(dy.baseAddress!, db.baseAddress!, rows: filters, columns: columnCount)
            }
            weight.value.withUnsafeBufferPointer { w in
                columnGradient.withUnsafeMutableBufferPointer { dcols in
                    Scalar.gemm(
                        transposeA: true, transposeB: false, m: g.patchSize, n: columnCount, k: filters,
                        alpha: 1, a: w.baseAddress!, lda: g.patchSize, b: dy.baseAddress!,
                        ldb: columnCount, beta: 0, c: dcols.baseAddress!, ldc: columnCount)
                }
            }
        }
        columnGradient.withUnsafeBufferPointer { dcols in
            inputGradient.withUnsafeMutableBufferPointer { dx in
                Scalar.col2im(dcols.baseAddress!, dx.baseAddress!, g)
            }
        }
        return inputGradient
    }
}

extension Conv2D {
    /// Backward for the first layer of a network: parameter gradients only.
    func backwardParametersOnly(_ outputGradient: Tensor<Scalar>) throws {
        _ = try backward(outputGradient)
    }
}

/// Grows or shrinks a workspace buffer, reusing its storage when the size is unchanged.
func resize<Scalar: KernelScalar>(_ buffer: inout [Scalar], to count: Int) {
    if buffer.count != count {
        buffer = [Scalar](repeating: 0, count: count)
    }
}
