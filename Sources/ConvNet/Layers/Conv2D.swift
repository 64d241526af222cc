/// 2-D convolution (cross-correlation, PyTorch's `nn.Conv2d`) over a whole batch at once.
///
/// input [N, C, H, W] → output [N, F, H', W'], H' = (H + 2·padding − kernel) / stride + 1
/// (the division must be exact: a window that does not fit is an error, as in the classic
/// layer). weight [F, C, kernel, kernel], bias [F].
///
/// Forward, image by image (images split between cores, per-core workspace reused across
/// steps): columns_n = im2col(x_n) [C·k·k, H'·W'], y_n = W·columns_n + b straight into NCHW.
/// Backward: columns_n recomputed, dW += dY_n·columns_nᵀ, db += Σ dY_n, dX_n = col2im(Wᵀ·dY_n)
/// (skipped for the first layer of a network); per-core dW/db partials are summed at the end.
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

    /// Geometry of the last batch (batch = N) and the shapes it was made for.
    private var geometry: WindowGeometry?
    private var cachedInputShape: [Int] = []
    private var cachedOutputShape: [Int] = []
    /// The last forward's input (backward recomputes its columns image by image).
    private var input: Tensor<Scalar>?
    private var outputs = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()
    /// Per-thread columns, column gradients and dW / db partial sums.
    private let workspace = Workspace<Scalar>()
    /// Wᵀ [C·k·k, F], rebuilt at each forward: the per-image GEMMs read the weights as op(A)
    /// transposed, which the packed GEMM packs with plain copies instead of SIMD transposes.
    private let transposedWeight = Workspace<Scalar>()

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

    /// The geometry for `input`, recomputed only when its shape changes.
    private func batchGeometry(for input: Tensor<Scalar>) throws -> WindowGeometry {
        if let geometry, input.shape == cachedInputShape { return geometry }
        guard input.rank == 4 else {
            throw ConvNetError.shapeMismatch(
                "\(description) expects input [N, C, H, W], found \(describe(input.shape))")
        }
        let g = try makeGeometry(batch: input.shape[0], inputShape: Array(input.shape.dropFirst()))
        geometry = g
        cachedInputShape = input.shape
        cachedOutputShape = [g.batch, outputChannels, g.outputHeight, g.outputWidth]
        return g
    }

    /// How many threads take whole images: every core when there are at least two images,
    /// otherwise one (and the GEMM and im2col split their own work between the cores).
    private func imageParts(_ g: WindowGeometry) -> Int {
        g.batch >= 2 ? min(ThreadPool.coreCount, g.batch) : 1
    }

    /// How many images one GEMM covers: small images are grouped (their columns side by side,
    /// [C·k·k, group·H'·W'], up to about 512 KiB so they stay in L2) so that the products are
    /// not dominated by per-call overhead; large images go one at a time.
    private func imageGroup(_ g: WindowGeometry, parts: Int) -> Int {
        let perImage = g.patchSize * g.outputPlane * MemoryLayout<Scalar>.stride
        let perPart = (g.batch + parts - 1) / parts
        return max(1, min(perPart, (512 * 1024) / max(perImage, 1)))
    }

    /// Forward, image by image: columns_n = im2col(x_n) [C·k·k, H'·W'] into a per-thread buffer
    /// (it stays in L2), y_n = W·columns_n + b written straight into the NCHW output. Images
    /// are split between cores; no batch-sized temporary exists.
    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try forward(input, rectify: false)
    }

    /// Forward; with `rectify`, ReLU is applied to each image's output while it is still in
    /// cache (`Sequential` fuses Conv2D → ReLU this way: one pass over the output less).
    func forward(_ input: Tensor<Scalar>, rectify: Bool) throws -> Tensor<Scalar> {
        let g = try batchGeometry(for: input)
        self.input = input
        let patch = g.patchSize, plane = g.outputPlane, filters = outputChannels
        let imageSize = g.channels * g.height * g.width
        let parts = imageParts(g)
        let group = imageGroup(g, parts: parts)
        // Per part: columns [patch, group·plane], and for groups the GEMM's [F, group·plane] output.
        let perPart = patch * plane * group + (group > 1 ? filters * plane * group : 0)
        let scratch = workspace.reserve(parts * perPart)
        let batch = g.batch
        let wt = transposedWeight.reserve(patch * filters)
        weight.value.withUnsafeBufferPointer { w in
            for f in 0..<filters {
                for r in 0..<patch { wt[r * filters + f] = w[f * patch + r] }
            }
        }
        return outputs.produce(shape: cachedOutputShape) { y, _ in
            input.withUnsafeBufferPointer { x in
                weight.value.withUnsafeBufferPointer { _ in
                    bias.value.withUnsafeBufferPointer { b in
                        let x = x.baseAddress!, b = b.baseAddress!
                        let w = UnsafePointer(wt)
                        ThreadPool.run(parts: parts) { part in
                            let cols = scratch + part * perPart
                            let products = cols + patch * plane * group
                            let end = (part + 1) * batch / parts
                            var n = part * batch / parts
                            while n < end {
                                let count = min(group, end - n)
                                var piece = g
                                piece.batch = count
                                let yn = y + n * filters * plane
                                Scalar.im2col(x + n * imageSize, cols, piece)
                                if count == 1 {
                                    Scalar.gemm(
                                        transposeA: true, transposeB: false, m: filters, n: plane, k: patch,
                                        alpha: 1, a: w, lda: filters, b: cols, ldb: plane, beta: 0, c: yn, ldc: plane)
                                    Scalar.addColumnBias(yn, bias: b, rows: filters, columns: plane)
                                } else {
                                    Scalar.gemm(
                                        transposeA: true, transposeB: false, m: filters, n: count * plane, k: patch,
                                        alpha: 1, a: w, lda: filters, b: cols, ldb: count * plane, beta: 0,
                                        c: products, ldc: count * plane)
                                    Scalar.scatterChannelsAddingBias(
                                        products, bias: b, yn, batch: count, channels: filters, planeSize: plane)
                                }
                                if rectify { Scalar.reluForward(yn, yn, count: count * filters * plane) }
                                n += count
                            }
                        }
                    }
                }
            }
        }
    }

    public func backward(_ outputGradient: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try backward(outputGradient, inputGradient: true)!
    }

    /// Backward, image by image on each core: columns_n is recomputed, dW_part += dY_n·columns_nᵀ,
    /// db_part += Σ dY_n, and (when wanted) dX_n = col2im(Wᵀ·dY_n); the per-core partial dW and
    /// db are added at the end.
    func backward(
        _ outputGradient: Tensor<Scalar>, inputGradient wantInput: Bool, rectifiedOutput: Tensor<Scalar>? = nil
    ) throws -> Tensor<Scalar>? {
        guard let g = geometry, let input else {
            throw ConvNetError.invalidArgument("\(description): backward called before forward")
        }
        if outputGradient.shape != cachedOutputShape {
            try requireGradient(outputGradient, shape: cachedOutputShape, layer: description)
        }
        if let rectifiedOutput, rectifiedOutput.shape != cachedOutputShape {
            try requireGradient(rectifiedOutput, shape: cachedOutputShape, layer: description)
        }
        if wantInput {
            return inputGradients.produce(shape: cachedInputShape) { dx, _ in
                backwardKernel(
                    input: input, outputGradient: outputGradient, mask: rectifiedOutput, dx: dx, geometry: g)
            }
        }
        backwardKernel(input: input, outputGradient: outputGradient, mask: rectifiedOutput, dx: nil, geometry: g)
        return nil
    }

    /// The work of `backward` (a method rather than a local function, whose captured context
    /// would be allocated on every call). With `mask` (the ReLU-rectified output of the
    /// fused Conv2D → ReLU forward), each image's dY is first masked as ReLU's backward would
    /// (dY where output > 0, else 0) into a per-core buffer that stays in cache.
    private func backwardKernel(
        input: Tensor<Scalar>, outputGradient: Tensor<Scalar>, mask: Tensor<Scalar>?,
        dx: UnsafeMutablePointer<Scalar>?, geometry g: WindowGeometry
    ) {
        let wantInput = dx != nil
        let patch = g.patchSize, plane = g.outputPlane, filters = outputChannels
        let imageSize = g.channels * g.height * g.width
        let parts = imageParts(g)
        let group = imageGroup(g, parts: parts)
        let batch = g.batch
        let masked = mask != nil
        // Per part: columns and (for dX) column gradients [patch, group·plane], dW and db
        // partials, the masked dY of a group (with a fused ReLU) and dY gathered to
        // [F, group·plane] (for groups).
        let columnsSize = patch * plane * group
        let partialOffset = columnsSize * (wantInput ? 2 : 1)
        let perPart = partialOffset + filters * patch + filters + (masked ? filters * plane * group : 0)
            + (group > 1 ? filters * plane * group : 0)
        let scratch = workspace.reserve(parts * perPart)
        let weightCount = filters * patch
        (mask ?? outputGradient).withUnsafeBufferPointer { rectified in
        input.withUnsafeBufferPointer { x in
            outputGradient.withUnsafeBufferPointer { dy in
                weight.value.withUnsafeBufferPointer { w in
                    let x = x.baseAddress!, dy = dy.baseAddress!, w = w.baseAddress!
                    let rectified = rectified.baseAddress!
                    ThreadPool.run(parts: parts) { part in
                        let cols = scratch + part * perPart
                        let dcols = cols + columnsSize
                        let dw = cols + partialOffset
                        let db = dw + weightCount
                        let maskedGradient = db + filters
                        let gathered = maskedGradient + (masked ? filters * plane * group : 0)
                        db.update(repeating: 0, count: filters)
                        let first = part * batch / parts
                        let end = (part + 1) * batch / parts
                        var n = first
                        while n < end {
                            let count = min(group, end - n)
                            var piece = g
                            piece.batch = count
                            let columnCount = count * plane
                            // dY of images n..<n+count, NCHW (contiguous), masked by the fused ReLU.
                            var dyn = dy + n * filters * plane
                            if masked {
                                Scalar.reluBackward(
                                    input: rectified + n * filters * plane, dyn, maskedGradient,
                                    count: count * filters * plane)
                                dyn = UnsafePointer(maskedGradient)
                            }
                            if count > 1 {
                                Scalar.gatherChannels(dyn, gathered, batch: count, channels: filters, planeSize: plane)
                                dyn = UnsafePointer(gathered)
                            }
                            Scalar.im2col(x + n * imageSize, cols, piece)
                            Scalar.gemm(
                                transposeA: false, transposeB: true, m: filters, n: patch, k: columnCount,
                                alpha: 1, a: dyn, lda: columnCount, b: cols, ldb: columnCount,
                                beta: n == first ? 0 : 1, c: dw, ldc: patch)
                            Scalar.accumulateRowSums(dyn, db, rows: filters, columns: columnCount)
                            if let dx {
                                Scalar.gemm(
                                    transposeA: true, transposeB: false, m: patch, n: columnCount, k: filters,
                                    alpha: 1, a: w, lda: patch, b: dyn, ldb: columnCount, beta: 0, c: dcols,
                                    ldc: columnCount)
                                Scalar.col2im(dcols, dx + n * imageSize, piece)
                            }
                            n += count
                        }
                    }
                }
            }
        }
        }
        weight.gradient.withUnsafeMutableBufferPointer { dw in
            bias.gradient.withUnsafeMutableBufferPointer { db in
                let dw = dw.baseAddress!, db = db.baseAddress!
                let partial = scratch + partialOffset
                dw.update(from: partial, count: weightCount)
                db.update(from: partial + weightCount, count: filters)
                for part in 1..<max(parts, 1) {
                    let other = partial + part * perPart
                    Scalar.axpy(alpha: 1, other, dw, count: weightCount)
                    Scalar.axpy(alpha: 1, other + weightCount, db, count: filters)
                }
            }
        }
    }

    /// Backward for the first layer of a network: parameter gradients only (no dX).
    func backwardParametersOnly(_ outputGradient: Tensor<Scalar>) throws {
        _ = try backward(outputGradient, inputGradient: false)
    }
}

/// Grows or shrinks a workspace buffer, reusing its storage when the size is unchanged.
func resize<Scalar: KernelScalar>(_ buffer: inout [Scalar], to count: Int) {
    if buffer.count != count {
        buffer = [Scalar](repeating: 0, count: count)
    }
}
