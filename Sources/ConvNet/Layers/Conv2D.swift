/// 2-D convolution (cross-correlation, PyTorch's `nn.Conv2d`) over a whole batch at once.
///
/// input [N, C, H, W] → output [N, F, H', W'],
/// H' = ⌊(H + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1 (PyTorch's floor rule),
/// weight [F, C/groups, kernel, kernel], bias [F] (optional). Filter f sees the input channels
/// of its group, g = f / (F/groups): `groups` = C = F is a depthwise convolution.
///
/// Forward, image by image (images split between cores, per-core workspace reused across
/// steps): columns_n = im2col(x_n) [C·k·k, H'·W'], then per group y_n[g] = W[g]·columns_n[g] + b
/// straight into NCHW. Backward: columns_n recomputed, dW[g] += dY_n[g]·columns_n[g]ᵀ,
/// db += Σ dY_n, dX_n = col2im(W[g]ᵀ·dY_n[g]) (skipped when the input gradient is not needed);
/// per-core dW/db partials are summed at the end. `naiveConvolution` (ConvNetKernels) is the
/// seven-loop reference it is tested against.
///
/// Float layers whose shape allows it (3×3, stride 1, dilation 1, one group, at least 16 input
/// and output channels) run Winograd F(4×4, 3×3) instead (`ConvolutionAlgorithm`): the forward
/// and the input gradient (a 3×3 convolution of dY with the rotated, transposed filters), with a
/// quarter of the multiply-adds; the weight gradient stays im2col + GEMM. Double layers always
/// use im2col, whose sums match PyTorch's float64 autograd to the last digits.
///
/// Epilogues (offered by `Sequential`): a following ReLU is applied to each image's output
/// while it is in cache, and its mask is applied inside backward; in inference a following
/// BatchNorm is folded into the weights and bias (W'[f] = W[f]·scale[f], b'[f] = b[f]·scale[f] +
/// shift[f]), recomputed from its running statistics at every forward.
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
    /// The distance between kernel taps (1: adjacent).
    public let dilation: Int
    /// Channel groups: C and F are split into this many, each filter sees its group only.
    public let groups: Int
    /// weight [F, C/groups, k, k].
    public let weight: Parameter<Scalar>
    /// bias [F], or nil for `bias=False`.
    public let bias: Parameter<Scalar>?

    /// Geometry of the last batch (batch = N) and the shapes it was made for.
    private var geometry: WindowGeometry?
    private var cachedInputShape: [Int] = []
    private var cachedOutputShape: [Int] = []
    /// [N, F, ⌊H'/2⌋, ⌊W'/2⌋]: the output with a pool taken over (kept, so that no step builds
    /// the array).
    private var cachedPooledShape: [Int] = []
    /// The last forward's input (backward recomputes its columns image by image).
    private var input: Tensor<Scalar>?
    /// The last forward's output, kept when a ReLU is fused (backward masks with it): the
    /// pooled output when a pool taken over in training pooled it directly.
    private var rectifiedOutput: Tensor<Scalar>?
    private var outputs = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()
    /// Per-thread columns, column gradients and dW / db partial sums.
    private let workspace = Workspace<Scalar>()
    /// Wᵀ per group [C/groups·k·k, F/groups] (folded with a BatchNorm's scale in inference),
    /// then the effective bias [F], then scale and shift [F] each: rebuilt at each forward.
    /// The per-image GEMMs read the weights as op(A) transposed, which the packed GEMM packs
    /// with plain copies instead of SIMD transposes.
    private let transposedWeight = Workspace<Scalar>()
    /// Winograd's transformed filters U [36, F, C] (forward, folded with a BatchNorm's scale in
    /// inference), then the effective bias [F]; in backward the flipped filters [36, C, F].
    private let winogradFilters = Workspace<Scalar>()
    /// The direct forward's packed filters [F8/8, C·k·k, 8] (`DirectConvolution.swift`).
    private let directFilters = Workspace<Scalar>()
    /// The algorithm chosen for the current input shape.
    private var chosenAlgorithm = ConvolutionAlgorithm.im2col
    /// Whether the weight gradient is summed directly (`ConvolutionAlgorithm.weightGradientIsDirect`).
    private var directWeightGradient = false
    /// Whether that sum runs in Winograd's transformed domain
    /// (`ConvolutionAlgorithm.weightGradientIsWinograd`).
    private var winogradWeightGradient = false
    /// The algorithm forced by `setConvolutionAlgorithm(_:)` (nil: the automatic choice).
    private var forcedAlgorithm: ConvolutionAlgorithm?
    /// Epilogues taken over from the layers after this one.
    private var rectify = false
    private var affine: ((UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>) -> Void)?
    /// A following 2×2 max pool taken over: the direct and Winograd forwards pool while their
    /// output is in cache; im2col hands its output to `fusedPool`.
    private var pooled = false
    private var fusedPool: MaxPool2D<Scalar>?
    /// Whether the pool was taken over in training: forward keeps each window's winner, and
    /// backward takes the pooled output's gradient.
    private var poolsForTraining = false
    /// The winners of the last training forward's direct pool, [N, F, ⌊H'/2⌋, ⌊W'/2⌋]: offsets
    /// into each H'×W' plane of the convolution's output (`maxPoolForward`'s argmax).
    private var poolWinners: [Int32] = []

    /// A convolution initialised by `initializer` (biases per `initializer.biasInitializer`).
    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        dilation: Int = 1, groups: Int = 1, bias hasBias: Bool = true,
        initializer: Initializer = .heNormal, random: inout SeededRandom
    ) throws {
        guard inputChannels > 0, outputChannels > 0, kernelSize > 0, stride > 0, padding >= 0, dilation > 0, groups > 0
        else {
            throw ConvNetError.invalidArgument(
                "Conv2D needs positive channels, kernel, stride, dilation and groups and padding ≥ 0, found "
                    + "in \(inputChannels), out \(outputChannels), kernel \(kernelSize), "
                    + "stride \(stride), padding \(padding), dilation \(dilation), groups \(groups)")
        }
        guard inputChannels % groups == 0, outputChannels % groups == 0 else {
            throw ConvNetError.invalidArgument(
                "Conv2D with \(groups) groups needs input channels (\(inputChannels)) and output channels "
                    + "(\(outputChannels)) divisible by \(groups)")
        }
        try ReaderLimits.current.checkTensor(
            [outputChannels, inputChannels / groups, kernelSize, kernelSize],
            "Conv2D(\(inputChannels) → \(outputChannels)) weight")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        // PyTorch's fans for a grouped convolution: C/groups·k·k in, F/groups·k·k out.
        let fanIn = inputChannels / groups * kernelSize * kernelSize
        let fanOut = outputChannels / groups * kernelSize * kernelSize
        weight = Parameter(
            name: "weight",
            value: initializer.makeTensor(
                shape: [outputChannels, inputChannels / groups, kernelSize, kernelSize],
                fanIn: fanIn, fanOut: fanOut, random: &random),
            isRegularized: true)
        bias =
            hasBias
            ? Parameter(
                name: "bias",
                value: initializer.biasInitializer.makeTensor(
                    shape: [outputChannels], fanIn: fanIn, fanOut: fanOut, random: &random),
                isRegularized: false)
            : nil
    }

    public var description: String {
        "Conv2D(\(inputChannels) → \(outputChannels), kernel \(kernelSize), stride \(stride), padding \(padding)"
            + (dilation != 1 ? ", dilation \(dilation)" : "") + (groups != 1 ? ", groups \(groups)" : "")
            + (bias == nil ? ", no bias" : "") + ")"
    }

    public var localParameters: [Parameter<Scalar>] { bias.map { [weight, $0] } ?? [weight] }

    public var specification: LayerSpec {
        LayerSpec(
            token: ConvolutionKind.token,
            arguments: [
                "filters": .integer(outputChannels), "kernel": .integer(kernelSize), "stride": .integer(stride),
                "padding": .integer(padding), "dilation": .integer(dilation), "groups": .integer(groups),
                "bias": .flag(bias != nil),
            ])
    }

    public var pytorchModule: String {
        "nn.Conv2d(\(inputChannels), \(outputChannels), \(kernelSize), stride=\(stride), padding=\(padding)"
            + (dilation != 1 ? ", dilation=\(dilation)" : "") + (groups != 1 ? ", groups=\(groups)" : "")
            + (bias == nil ? ", bias=False" : "") + ")"
    }

    /// `Conv`: X [N, C, H, W], W [F, C/groups, k, k] and B [F] (when there is a bias) →
    /// [N, F, H', W'], with kernel_shape [k, k], strides [s, s], pads [p, p, p, p] (begin, then
    /// end), dilations [d, d] and group.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        let shape = try outputShape(forInputShape: input.sampleShape)
        var inputs = [input.name, graph.parameter(weight)]
        if let bias { inputs.append(graph.parameter(bias)) }
        return graph.node(
            "Conv", inputs,
            [
                .integers("kernel_shape", [kernelSize, kernelSize]), .integers("strides", [stride, stride]),
                .integers("pads", [padding, padding, padding, padding]), .integers("dilations", [dilation, dilation]),
                .integer("group", groups),
            ], sampleShape: shape)
    }

    /// Takes a following ReLU (any mode), in inference a following BatchNorm before it, and a
    /// 2×2 max pool after them (training and inference).
    public func adoptEpilogues(_ epilogues: [Epilogue<Scalar>], mode: LayerMode) -> Int {
        rectify = false
        affine = nil
        pooled = false
        poolsForTraining = false
        rectifiedOutput = nil
        var taken = 0
        if taken < epilogues.count, case .channelAffine(let channels, let write) = epilogues[taken],
            mode == .inference, channels == outputChannels
        {
            affine = write
            taken += 1
        }
        if taken < epilogues.count, case .activation(.relu) = epilogues[taken] {
            rectify = true
            taken += 1
        }
        if taken < epilogues.count, case .maxPool2x2 = epilogues[taken], mode != .unfoldedInference {
            pooled = true
            poolsForTraining = mode == .training
            taken += 1
        }
        return taken
    }

    private func makeGeometry(batch: Int, inputShape: [Int]) throws -> WindowGeometry {
        guard inputShape.count == 3, inputShape[0] == inputChannels else {
            throw ConvNetError.shapeMismatch(
                "\(description) expects input [N, \(inputChannels), H, W], found [N, "
                    + inputShape.map(String.init).joined(separator: ", ") + "]")
        }
        let (height, width) = (inputShape[1], inputShape[2])
        let reach = dilation * (kernelSize - 1) + 1
        guard height + 2 * padding >= reach, width + 2 * padding >= reach else {
            throw ConvNetError.shapeMismatch(
                "\(description): input \(height)×\(width) (padded by \(padding)) is smaller than the "
                    + (dilation == 1 ? "\(kernelSize)×\(kernelSize) window" : "\(reach)×\(reach) dilated window"))
        }
        return WindowGeometry(
            batch: batch, channels: inputChannels, height: height, width: width,
            kernelHeight: kernelSize, kernelWidth: kernelSize, strideHeight: stride,
            strideWidth: stride, paddingHeight: padding, paddingWidth: padding,
            dilationHeight: dilation, dilationWidth: dilation)
    }

    /// The algorithm of the forward pass, and ", direct dW" where an im2col or Winograd layer's
    /// weight gradient is summed directly (direct layers always do; Winograd layers otherwise
    /// sum it by Winograd, `ConvolutionAlgorithm.weightGradientIsWinograd`).
    public var algorithm: String? {
        let direct = chosenAlgorithm != .direct && directWeightGradient && !winogradWeightGradient
        return chosenAlgorithm.rawValue + (direct ? ", direct dW" : "")
    }

    public func setConvolutionAlgorithm(_ algorithm: ConvolutionAlgorithm?) {
        forcedAlgorithm = algorithm
        geometry = nil  // chosen again at the next forward
        cachedInputShape = []
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        let g = try makeGeometry(batch: 1, inputShape: inputShape)
        return [outputChannels, g.outputHeight, g.outputWidth]
    }

    public func forwardFlops(forInputShape inputShape: [Int]) throws -> Int {
        let g = try makeGeometry(batch: 1, inputShape: inputShape)
        return outputChannels * g.outputPlane * g.patchSize / groups
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
        cachedPooledShape = [g.batch, outputChannels, g.outputHeight / 2, g.outputWidth / 2]
        chosenAlgorithm = ConvolutionAlgorithm.choose(
            for: g, filters: outputChannels, groups: groups, winogradIsPreferred: Scalar.winogradIsPreferred,
            forced: forcedAlgorithm)
        directWeightGradient = ConvolutionAlgorithm.weightGradientIsDirect(
            chosenAlgorithm, for: g, groups: groups, winogradIsPreferred: Scalar.winogradIsPreferred,
            forced: forcedAlgorithm)
        winogradWeightGradient =
            directWeightGradient
            && ConvolutionAlgorithm.weightGradientIsWinograd(
                chosenAlgorithm, for: g, filters: outputChannels, groups: groups)
        return g
    }

    /// How many threads take whole images: every core when there are at least two images,
    /// otherwise one (and the GEMM and im2col split their own work between the cores).
    private func imageParts(_ g: WindowGeometry) -> Int {
        g.batch >= 2 ? min(ThreadPool.coreCount, g.batch) : 1
    }

    /// Parts of the direct forward: up to `balanceFactor` per core, each of whole images, which
    /// the cores take as they finish theirs, so that a core slowed down by a neighbour takes
    /// fewer. (One part per core: on a host where one of the two cores ran 19 % slower, the
    /// other waited 10 % of W1's inference.) Each part has its own scratch.
    private func balancedImageParts(_ g: WindowGeometry) -> Int {
        ThreadPool.coreCount > 1 && g.batch >= 2 ? min(g.batch, ThreadPool.coreCount * Self.balanceFactor) : 1
    }
    /// Parts per core of `balancedImageParts`.
    static var balanceFactor: Int { 4 }

    /// How many images one GEMM covers: small images are grouped (their columns side by side,
    /// [C·k·k, group·H'·W'], up to about 512 KiB so they stay in L2) so that the products are
    /// not dominated by per-call overhead; large images go one at a time.
    private func imageGroup(_ g: WindowGeometry, parts: Int) -> Int {
        let perImage = g.patchSize * g.outputPlane * MemoryLayout<Scalar>.stride
        let perPart = (g.batch + parts - 1) / parts
        return max(1, min(perPart, (512 * 1024) / max(perImage, 1)))
    }

    /// Writes Wᵀ per group (times the folded scale), and returns the effective bias (nil when
    /// there is none): b, or b·scale + shift with a folded BatchNorm.
    private func prepareWeights(patch: Int) -> (UnsafePointer<Scalar>, UnsafePointer<Scalar>?) {
        let filters = outputChannels
        let groupPatch = patch / groups
        let groupFilters = filters / groups
        let (storage, effectiveBias, scale) = prepareBiasAndScale(after: patch * groupFilters)
        weight.value.withUnsafeBufferPointer { w in
            for group in 0..<groups {
                let block = storage + group * groupPatch * groupFilters
                for local in 0..<groupFilters {
                    let f = group * groupFilters + local
                    let row = w.baseAddress! + f * groupPatch
                    if let scale {
                        let factor = scale[f]
                        for r in 0..<groupPatch { block[r * groupFilters + local] = row[r] * factor }
                    } else {
                        for r in 0..<groupPatch { block[r * groupFilters + local] = row[r] }
                    }
                }
            }
        }
        return (UnsafePointer(storage), effectiveBias)
    }

    /// Reserves `transposedWeight` for `weightCount` weights followed by the effective bias,
    /// scale and shift [F] each, and fills the last three: returns the storage, the effective
    /// bias (b, or b·scale + shift with a folded BatchNorm; nil when there is neither) and the
    /// folded BatchNorm's scale (nil without one).
    private func prepareBiasAndScale(after weightCount: Int) -> (
        UnsafeMutablePointer<Scalar>, UnsafePointer<Scalar>?, UnsafePointer<Scalar>?
    ) {
        let filters = outputChannels
        let storage = transposedWeight.reserve(weightCount + 3 * filters)
        let effectiveBias = storage + weightCount
        let scale = effectiveBias + filters
        let shift = scale + filters
        if let affine {
            affine(scale, shift)
            for f in 0..<filters { effectiveBias[f] = (bias?.value.scalars[f] ?? 0) * scale[f] + shift[f] }
            return (storage, UnsafePointer(effectiveBias), UnsafePointer(scale))
        }
        if let bias {
            bias.value.withUnsafeBufferPointer { b in effectiveBias.update(from: b.baseAddress!, count: filters) }
            return (storage, UnsafePointer(effectiveBias), nil)
        }
        return (storage, nil, nil)
    }

    /// Forward, image by image: columns_n = im2col(x_n) [C·k·k, H'·W'] into a per-thread buffer
    /// (it stays in L2), y_n = W·columns_n + b per group, written straight into the NCHW output
    /// (with the adopted epilogues applied). Images are split between cores; no batch-sized
    /// temporary exists.
    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        let g = try batchGeometry(for: input)
        self.input = input
        guard pooled else { return convolve(input, geometry: g) }
        if poolsDirectly(g) {
            return chosenAlgorithm == .winograd
                ? winogradForward(input, geometry: g, pool: true) : directForward(input, geometry: g, pool: true)
        }
        if fusedPool == nil { fusedPool = try MaxPool2D(kernelSize: 2) }
        return try fusedPool!.forward(convolve(input, geometry: g))
    }

    /// Whether a pool taken over runs inside the convolution's forward, the direct one or
    /// Winograd's (winners in `poolWinners` in training), rather than through `fusedPool`, for
    /// geometry `g` of the last forward.
    private func poolsDirectly(_ g: WindowGeometry) -> Bool {
        (chosenAlgorithm == .direct || chosenAlgorithm == .winograd) && g.outputHeight >= 2 && g.outputWidth >= 2
    }

    /// The convolution's output [N, F, H', W'] by the chosen algorithm (with the adopted
    /// BatchNorm and ReLU, not the pool).
    private func convolve(_ input: Tensor<Scalar>, geometry g: WindowGeometry) -> Tensor<Scalar> {
        if chosenAlgorithm == .winograd { return winogradForward(input, geometry: g, pool: false) }
        if chosenAlgorithm == .direct { return directForward(input, geometry: g, pool: false) }
        let patch = g.patchSize
        let plane = g.outputPlane
        let filters = outputChannels
        let groups = self.groups
        let groupPatch = patch / groups
        let groupFilters = filters / groups
        let imageSize = g.channels * g.height * g.width
        let parts = imageParts(g)
        let group = imageGroup(g, parts: parts)
        // Per part: columns [patch, group·plane], and for groups the GEMM's [F, group·plane] output.
        let perPart = patch * plane * group + (group > 1 ? filters * plane * group : 0)
        let scratch = workspace.reserve(parts * perPart)
        let batch = g.batch
        let rectify = self.rectify
        let (w, b) = prepareWeights(patch: patch)
        let output = input.withUnsafeBufferPointer { x in
            let x = x.baseAddress!
            return outputs.produce(shape: cachedOutputShape) { y, _ in
                ThreadPool.run(
                    parts: parts,
                    ColumnsForwardWork(
                        x: x, y: y, w: w, b: b, scratch: scratch, perPart: perPart, g: g, patch: patch, plane: plane,
                        group: group, batch: batch, parts: parts, filters: filters, imageSize: imageSize,
                        groups: groups, groupPatch: groupPatch, groupFilters: groupFilters, rectify: rectify))
            }
        }
        rectifiedOutput = rectify ? output : nil
        return output
    }

    /// Images per Winograd call: enough tiles that few lanes of the last block of 32 go unused,
    /// while the call's zero-padded copy of its input (C padded planes per image) stays within
    /// about 2 MiB.
    private func winogradImageGroup(_ g: WindowGeometry, channels: Int, filters: Int, parts: Int) -> Int {
        let (high, wide) = Winograd.tiles(g)
        let perImage = channels * (high * Winograd.outputTile + 2) * (wide * Winograd.outputTile + 2)
        let perPart = (g.batch + parts - 1) / parts
        return max(1, min(perPart, (2 << 20) / max(perImage * MemoryLayout<Scalar>.stride, 1)))
    }

    /// Images per backward call when dW is direct and dX (if wanted) is Winograd, without
    /// im2col: the direct kernel's padded copies within about 1 MiB, and Winograd's limit
    /// for the input gradient's 36 products.
    private func directImageGroup(
        _ g: WindowGeometry, gradientGeometry: WindowGeometry?, filters: Int, parts: Int, winogradWeight: Bool
    ) -> Int {
        var one = g
        one.batch = 1
        let perImage =
            (winogradWeight
                ? WinogradWeightGradient.scratchCount(one, filters: filters)
                : DirectWeightGradient.scratchCount(one, filters: filters)) * MemoryLayout<Scalar>.stride
        let perPart = (g.batch + parts - 1) / parts
        var group = max(1, min(perPart, (1 << 20) / max(perImage, 1)))
        if let gradientGeometry {
            group = min(
                group, winogradImageGroup(gradientGeometry, channels: filters, filters: g.channels, parts: parts))
        }
        return group
    }

    /// Forward through Winograd F(4×4, 3×3): the filters are transformed once (with a folded
    /// BatchNorm's scale), then each core convolves groups of its images. With `pool`, each
    /// group's output goes to a per-part buffer (about 1 MiB, so it stays in cache) and the
    /// output is its 2×2 max pool [N, F, ⌊H'/2⌋, ⌊W'/2⌋], by the same `maxPoolForward` as the
    /// layer's own pool, keeping the winners in training (discarding them in inference).
    private func winogradForward(_ input: Tensor<Scalar>, geometry g: WindowGeometry, pool: Bool) -> Tensor<Scalar> {
        let filters = outputChannels
        let channels = inputChannels
        let (_, effectiveBias, scale) = prepareBiasAndScale(after: 0)
        let transformedCount = Winograd.transformedFilterCount(filters: filters, channels: channels)
        let transformed = winogradFilters.reserve(transformedCount)
        weight.value.withUnsafeBufferPointer { w in
            Scalar.winogradTransformFilters(
                w.baseAddress!, filters: filters, channels: channels, flipped: false, scale: scale,
                into: transformed)
        }
        let parts = imageParts(g)
        var group = winogradImageGroup(g, channels: channels, filters: filters, parts: parts)
        let unpooledSize = filters * g.outputPlane
        if pool { group = min(group, max(1, (1 << 20) / (unpooledSize * MemoryLayout<Scalar>.stride))) }
        var piece = g
        piece.batch = group
        let winogradScratch = Winograd.scratchCount(piece, filters: filters)
        let outputPlane = pool ? g.outputHeight / 2 * (g.outputWidth / 2) : g.outputPlane
        let keepsWinners = pool && poolsForTraining
        // Per part: Winograd's scratch, then with the pool the group's output and, in inference,
        // its winners (Int32, one per Scalar slot).
        let perPart =
            winogradScratch + (pool ? group * unpooledSize : 0)
            + (pool && !keepsWinners ? group * filters * outputPlane : 0)
        let scratch = workspace.reserve(parts * perPart)
        if keepsWinners && poolWinners.count != g.batch * filters * outputPlane {
            poolWinners = [Int32](repeating: 0, count: g.batch * filters * outputPlane)
        }
        let batch = g.batch
        let rectify = self.rectify
        let imageSize = channels * g.height * g.width
        let output = input.withUnsafeBufferPointer { x in
            let x = x.baseAddress!
            return poolWinners.withUnsafeMutableBufferPointer { winners in
                outputs.produce(shape: pool ? cachedPooledShape : cachedOutputShape) { y, _ in
                    ThreadPool.run(
                        parts: parts,
                        WinogradForwardWork(
                            x: x, y: y, transformed: transformed, effectiveBias: effectiveBias, scratch: scratch,
                            perPart: perPart, winogradScratch: winogradScratch, g: g, group: group, batch: batch,
                            parts: parts, filters: filters, imageSize: imageSize, outputPlane: outputPlane,
                            rectify: rectify, pool: pool, winners: keepsWinners ? winners.baseAddress : nil))
                }
            }
        }
        rectifiedOutput = rectify ? output : nil
        return output
    }

    /// Forward summed directly over the taps (few input channels): the filters are packed once
    /// (with a folded BatchNorm's scale), then each core convolves its images one by one.
    /// With `pool`, the output is the 2×2 max pool of that [N, F, ⌊H'/2⌋, ⌊W'/2⌋].
    private func directForward(_ input: Tensor<Scalar>, geometry g: WindowGeometry, pool: Bool) -> Tensor<Scalar> {
        let filters = outputChannels
        let patch = g.patchSize
        let (transposed, effectiveBias) = prepareWeights(patch: patch)
        let packed = directFilters.reserve(DirectConvolution.packedWeightCount(filters: filters, patch: patch))
        Scalar.directConvolutionPackWeights(transposed, filters: filters, patch: patch, into: packed)
        // One image: the cores take blocks of filters (as packed) instead of images.
        let blocks = DirectConvolution.paddedFilters(filters) / DirectConvolution.filterBlock
        let parts = g.batch == 1 ? min(ThreadPool.coreCount, blocks) : balancedImageParts(g)
        // In training, the pool keeps its winners: each image is convolved into a per-part
        // buffer (it stays in cache) and pooled from there by `maxPoolForward`, so the output
        // and the winners are those of the convolution and the pool run one after the other.
        let keepsWinners = pool && poolsForTraining
        let convolutionScratch = DirectConvolution.scratchCount(g, filters: filters)  // images go one at a time
        let perPart = convolutionScratch + (keepsWinners ? filters * g.outputPlane : 0)
        let scratch = workspace.reserve(parts * perPart)
        let rectify = self.rectify
        let outputPlane = pool ? g.outputHeight / 2 * (g.outputWidth / 2) : g.outputPlane
        if keepsWinners && poolWinners.count != g.batch * filters * outputPlane {
            poolWinners = [Int32](repeating: 0, count: g.batch * filters * outputPlane)
        }
        let output = input.withUnsafeBufferPointer { x in
            let x = x.baseAddress!
            let shape = pool ? cachedPooledShape : cachedOutputShape
            return poolWinners.withUnsafeMutableBufferPointer { winners in
                outputs.produce(shape: shape) { y, _ in
                    ThreadPool.run(
                        parts: parts,
                        DirectForwardWork(
                            x: x, y: y, packed: packed, effectiveBias: effectiveBias, scratch: scratch,
                            perPart: perPart, convolutionScratch: convolutionScratch, g: g, batch: g.batch,
                            parts: parts, filters: filters, blocks: blocks, patch: patch,
                            imageSize: g.channels * g.height * g.width, outputPlane: outputPlane,
                            rectify: rectify, pool: pool, winners: keepsWinners ? winners.baseAddress : nil))
                }
            }
        }
        rectifiedOutput = rectify && (!pool || keepsWinners) ? output : nil
        return output
    }

    /// Backward, image by image on each core: columns_n is recomputed, dW_part += dY_n·columns_nᵀ,
    /// db_part += Σ dY_n, and (when wanted) dX_n = col2im(Wᵀ·dY_n), per group; the per-core
    /// partial dW and db are added at the end. With a fused ReLU, dY is first masked where the
    /// output was not positive.
    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        guard let g = geometry, let input else {
            throw ConvNetError.invalidArgument("\(description): backward called before forward")
        }
        guard affine == nil else {
            throw ConvNetError.invalidArgument(
                "\(description): backward with a BatchNorm folded into it (inference mode); unfold it first")
        }
        guard !pooled || poolsForTraining else {
            throw ConvNetError.invalidArgument(
                "\(description): backward with a max pool folded into it (inference mode); unfold it first")
        }
        var outputGradient = outputGradient
        if pooled && !poolsDirectly(g) {
            // The pool ran after the convolution (`fusedPool`): its backward first.
            guard let fusedPool, let gradient = try fusedPool.backward(outputGradient, needsInputGradient: true)
            else { throw ConvNetError.invalidArgument("\(description): backward called before forward") }
            outputGradient = gradient
        }
        let winners = pooled && poolsDirectly(g)
        let gradientShape =
            winners ? cachedPooledShape : cachedOutputShape
        if outputGradient.shape != gradientShape {
            try requireGradient(outputGradient, shape: gradientShape, layer: description)
        }
        let mask = rectify ? rectifiedOutput : nil
        if rectify && mask == nil || winners && poolWinners.count != outputGradient.count {
            throw ConvNetError.invalidArgument("\(description): backward called before forward")
        }
        return poolWinners.withUnsafeBufferPointer { poolWinners in
            let winners = winners ? poolWinners.baseAddress : nil
            if needsInputGradient {
                return inputGradients.produce(shape: cachedInputShape) { dx, _ in
                    backwardKernel(
                        input: input, outputGradient: outputGradient, mask: mask, winners: winners, dx: dx,
                        geometry: g)
                }
            }
            backwardKernel(
                input: input, outputGradient: outputGradient, mask: mask, winners: winners, dx: nil, geometry: g)
            return nil
        }
    }

    /// The work of `backward` (a method rather than a local function, whose captured context
    /// would be allocated on every call). With `mask` (the ReLU-rectified output of the
    /// fused forward), each image's dY is first masked as ReLU's backward would (dY where
    /// output > 0, else 0) into a per-core buffer that stays in cache. With `winners` (a pool
    /// taken over in training), `outputGradient` and `mask` are the pooled output's, and each
    /// image's dY is first the pool's backward of them (masked) into that buffer.
    private func backwardKernel(
        input: Tensor<Scalar>, outputGradient: Tensor<Scalar>, mask: Tensor<Scalar>?,
        winners: UnsafePointer<Int32>?, dx: UnsafeMutablePointer<Scalar>?, geometry g: WindowGeometry
    ) {
        let wantInput = dx != nil
        let patch = g.patchSize
        let plane = g.outputPlane
        let filters = outputChannels
        let groups = self.groups
        let groupPatch = patch / groups
        let groupFilters = filters / groups
        let imageSize = g.channels * g.height * g.width
        let parts = imageParts(g)
        let batch = g.batch
        let masked = mask != nil
        let pooledPlane = g.outputHeight / 2 * (g.outputWidth / 2)
        // dY rewritten per group: masked by the fused ReLU and/or spread over the pool's winners.
        let rewritten = masked || winners != nil
        let hasBias = bias != nil
        // dX through Winograd: a 3×3 convolution of dY with the flipped filters [36, C, F].
        let gradientGeometry =
            wantInput && chosenAlgorithm == .winograd ? Winograd.inputGradientGeometry(g, filters: filters) : nil
        // dW directly from X and dY (no im2col, no transposing packs), or by im2col + GEMM;
        // Winograd layers sum it in Winograd's transformed domain (F(2×2, 3×3) run backwards).
        let directWeight = directWeightGradient
        let winogradWeight = winogradWeightGradient
        let inputByColumns = wantInput && gradientGeometry == nil
        let needsColumns = !directWeight || inputByColumns
        let group =
            needsColumns
            ? imageGroup(g, parts: parts)
            : directImageGroup(
                g, gradientGeometry: gradientGeometry, filters: filters, parts: parts, winogradWeight: winogradWeight)
        var flippedFilters: UnsafeMutablePointer<Scalar>?
        var winogradScratchSize = 0
        if var gradientPiece = gradientGeometry {
            let transformed = winogradFilters.reserve(
                Winograd.transformedFilterCount(filters: g.channels, channels: filters))
            weight.value.withUnsafeBufferPointer { w in
                Scalar.winogradTransformFilters(
                    w.baseAddress!, filters: filters, channels: g.channels, flipped: true, scale: nil,
                    into: transformed)
            }
            flippedFilters = transformed
            gradientPiece.batch = group
            winogradScratchSize = Winograd.scratchCount(gradientPiece, filters: g.channels)
        }
        var directPiece = g
        directPiece.batch = group
        let directScratchSize =
            winogradWeight
            ? WinogradWeightGradient.scratchCount(directPiece, filters: filters)
            : directWeight ? DirectWeightGradient.scratchCount(directPiece, filters: filters) : 0
        // The Winograd weight gradient's sums over all of a part's images, after its scratch.
        let sumsCount = winogradWeight ? WinogradWeightGradient.sumsCount(channels: g.channels, filters: filters) : 0
        // Per part: columns and (for dX by col2im) column gradients [patch, group·plane], dW and
        // db partials, the masked dY of a group (with a fused ReLU), dY gathered to
        // [F, group·plane] (for groups of images through a GEMM), the scratch of Winograd
        // (for dX by Winograd) and of the direct or Winograd weight gradient, and the latter's
        // sums.
        let columnsSize = needsColumns ? patch * plane * group : 0
        let partialOffset = columnsSize * (inputByColumns ? 2 : 1)
        let weightCount = filters * groupPatch
        let gathers = group > 1 && needsColumns
        let perPart =
            partialOffset + weightCount + filters + (rewritten ? filters * plane * group : 0)
            + (winners != nil && masked ? filters * pooledPlane * group : 0) + (gathers ? filters * plane * group : 0)
            + max(winogradScratchSize, directScratchSize) + sumsCount
        let scratch = workspace.reserve(parts * perPart)
        (mask ?? outputGradient).withUnsafeBufferPointer { rectified in
            input.withUnsafeBufferPointer { x in
                outputGradient.withUnsafeBufferPointer { dy in
                    weight.value.withUnsafeBufferPointer { w in
                        let x = x.baseAddress!
                        let dy = dy.baseAddress!
                        let w = w.baseAddress!
                        let rectified = rectified.baseAddress!
                        ThreadPool.run(
                            parts: parts,
                            BackwardWork(
                                x: x, dy: dy, rectified: rectified, w: w, dx: dx, flippedFilters: flippedFilters,
                                gradientGeometry: gradientGeometry, scratch: scratch, perPart: perPart,
                                columnsSize: columnsSize, partialOffset: partialOffset, weightCount: weightCount, g: g,
                                filters: filters, plane: plane, group: group, batch: batch, parts: parts,
                                imageSize: imageSize, groups: groups, groupPatch: groupPatch,
                                groupFilters: groupFilters, masked: masked, winners: winners, pooledPlane: pooledPlane,
                                gathers: gathers,
                                directWeight: directWeight, winogradWeight: winogradWeight, sumsCount: sumsCount,
                                hasBias: hasBias))
                    }
                }
            }
        }
        let partial = scratch + partialOffset
        weight.gradient.withUnsafeMutableBufferPointer { dw in
            let dw = dw.baseAddress!
            dw.update(from: partial, count: weightCount)
            for part in 1..<max(parts, 1) {
                Scalar.axpy(alpha: 1, partial + part * perPart, dw, count: weightCount)
            }
        }
        bias?.gradient.withUnsafeMutableBufferPointer { db in
            let db = db.baseAddress!
            db.update(from: partial + weightCount, count: filters)
            for part in 1..<max(parts, 1) {
                Scalar.axpy(alpha: 1, partial + part * perPart + weightCount, db, count: filters)
            }
        }
    }
}

// The bodies of Conv2D's parallel loops, as values: `ThreadPool.run` takes them without the
// heap-allocated closure context a capturing closure would cost on every call.
extension Conv2D {
    /// The forward pass by im2col + GEMM of one part's images (see `forward`).
    struct ColumnsForwardWork: ParallelWork {
        let x: UnsafePointer<Scalar>
        let y: UnsafeMutablePointer<Scalar>
        let w: UnsafePointer<Scalar>
        let b: UnsafePointer<Scalar>?
        let scratch: UnsafeMutablePointer<Scalar>
        let perPart: Int
        let g: WindowGeometry
        let patch: Int
        let plane: Int
        let group: Int
        let batch: Int
        let parts: Int
        let filters: Int
        let imageSize: Int
        let groups: Int
        let groupPatch: Int
        let groupFilters: Int
        let rectify: Bool

        func run(part: Int) {
            let cols = scratch + part * perPart
            let products = cols + patch * plane * group
            let end = (part + 1) * batch / parts
            var n = part * batch / parts
            while n < end {
                let count = min(group, end - n)
                var piece = g
                piece.batch = count
                let yn = y + n * filters * plane
                let columns = count * plane
                Scalar.im2col(x + n * imageSize, cols, piece)
                let target = count == 1 ? yn : products
                for groupIndex in 0..<groups {
                    Scalar.gemm(
                        transposeA: true, transposeB: false, m: groupFilters, n: columns, k: groupPatch,
                        alpha: 1, a: w + groupIndex * groupPatch * groupFilters, lda: groupFilters,
                        b: cols + groupIndex * groupPatch * columns, ldb: columns, beta: 0,
                        c: target + groupIndex * groupFilters * columns, ldc: columns)
                }
                if count == 1 {
                    if let b { Scalar.addColumnBias(yn, bias: b, rows: filters, columns: plane) }
                } else {
                    Scalar.scatterChannelsAddingBias(
                        products, bias: b, yn, batch: count, channels: filters, planeSize: plane)
                }
                if rectify { Scalar.reluForward(yn, yn, count: count * filters * plane) }
                n += count
            }
        }
    }

    /// The forward pass by Winograd of one part's images (see `winogradForward`).
    struct WinogradForwardWork: ParallelWork {
        let x: UnsafePointer<Scalar>
        let y: UnsafeMutablePointer<Scalar>
        let transformed: UnsafeMutablePointer<Scalar>
        let effectiveBias: UnsafePointer<Scalar>?
        let scratch: UnsafeMutablePointer<Scalar>
        /// Each part's scratch, and Winograd's at its start (with `pool`, the group's unpooled
        /// output follows it, then in inference the group's winners).
        let perPart: Int
        let winogradScratch: Int
        let g: WindowGeometry
        let group: Int
        let batch: Int
        let parts: Int
        let filters: Int
        let imageSize: Int
        /// One output plane: H'·W', or ⌊H'/2⌋·⌊W'/2⌋ when pooled.
        let outputPlane: Int
        let rectify: Bool
        let pool: Bool
        /// In a training forward with the pool: each window's winner, [N, F, ⌊H'/2⌋, ⌊W'/2⌋].
        let winners: UnsafeMutablePointer<Int32>?

        func run(part: Int) {
            let partScratch = scratch + part * perPart
            let end = (part + 1) * batch / parts
            var n = part * batch / parts
            while n < end {
                var piece = g
                piece.batch = min(group, end - n)
                let target = y + n * filters * outputPlane
                guard pool else {
                    Scalar.winogradConvolve(
                        x + n * imageSize, piece, filters: filters, transformedFilters: transformed,
                        bias: effectiveBias, rectify: rectify, output: target, scratch: partScratch)
                    n += piece.batch
                    continue
                }
                let unpooled = partScratch + winogradScratch
                Scalar.winogradConvolve(
                    x + n * imageSize, piece, filters: filters, transformedFilters: transformed,
                    bias: effectiveBias, rectify: rectify, output: unpooled, scratch: partScratch)
                let poolGeometry = WindowGeometry(
                    batch: piece.batch, channels: filters, height: g.outputHeight, width: g.outputWidth,
                    kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2, paddingHeight: 0,
                    paddingWidth: 0)
                if let winners {
                    Scalar.maxPoolForward(
                        unpooled, target, argmax: winners + n * filters * outputPlane, poolGeometry)
                } else {
                    let discarded = unpooled + group * filters * g.outputPlane
                    let count = piece.batch * filters * outputPlane
                    discarded.withMemoryRebound(to: Int32.self, capacity: count) { discarded in
                        Scalar.maxPoolForward(unpooled, target, argmax: discarded, poolGeometry)
                    }
                }
                n += piece.batch
            }
        }
    }

    /// The direct forward pass of one part's images (see `directForward`).
    struct DirectForwardWork: ParallelWork {
        let x: UnsafePointer<Scalar>
        let y: UnsafeMutablePointer<Scalar>
        let packed: UnsafeMutablePointer<Scalar>
        let effectiveBias: UnsafePointer<Scalar>?
        let scratch: UnsafeMutablePointer<Scalar>
        let perPart: Int
        /// The direct convolution's scratch at the start of each part's; with `winners`, one
        /// image's unpooled output [F, H', W'] follows it.
        let convolutionScratch: Int
        let g: WindowGeometry
        let batch: Int
        let parts: Int
        let filters: Int
        /// Blocks of `DirectConvolution.filterBlock` filters, and the weights per filter (C·k·k).
        let blocks: Int
        let patch: Int
        let imageSize: Int
        /// One output plane: H'·W', or ⌊H'/2⌋·⌊W'/2⌋ when pooled.
        let outputPlane: Int
        let rectify: Bool
        let pool: Bool
        /// In a training forward with the pool: each window's winner, [N, F, ⌊H'/2⌋, ⌊W'/2⌋].
        let winners: UnsafeMutablePointer<Int32>?

        /// `channels` planes of the convolution's output as one image of the 2×2 pool.
        func poolGeometry(channels: Int) -> WindowGeometry {
            WindowGeometry(
                batch: 1, channels: channels, height: g.outputHeight, width: g.outputWidth, kernelHeight: 2,
                kernelWidth: 2, strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0)
        }

        /// For one image: the filters of `part` (whole blocks of the packed weights; may be empty).
        func filterRange(ofPart part: Int) -> Range<Int> {
            let first = part * blocks / parts * DirectConvolution.filterBlock
            return first..<max(first, min(filters, (part + 1) * blocks / parts * DirectConvolution.filterBlock))
        }

        func run(part: Int) {
            if let winners {
                runKeepingWinners(part: part, winners)
                return
            }
            if batch == 1 {
                let range = filterRange(ofPart: part)
                guard !range.isEmpty else { return }
                let (first, end) = (range.lowerBound, range.upperBound)
                Scalar.directConvolve(
                    x, g, filters: end - first, packedWeights: packed + first * patch,
                    bias: effectiveBias.map { $0 + first }, rectify: rectify, pool: pool,
                    output: y + first * outputPlane,
                    scratch: scratch + part * perPart)
                return
            }
            let first = part * batch / parts
            var piece = g
            piece.batch = (part + 1) * batch / parts - first
            Scalar.directConvolve(
                x + first * imageSize, piece, filters: filters, packedWeights: packed, bias: effectiveBias,
                rectify: rectify, pool: pool, output: y + first * filters * outputPlane,
                scratch: scratch + part * perPart)
        }

        /// `run` in training with the pool: the part's images (or, for one image, its filters)
        /// convolved one image at a time into the part's buffer, then pooled from it with their
        /// winners.
        private func runKeepingWinners(part: Int, _ winners: UnsafeMutablePointer<Int32>) {
            let partScratch = scratch + part * perPart
            let image = partScratch + convolutionScratch
            var one = g
            one.batch = 1
            if batch == 1 {
                let range = filterRange(ofPart: part)
                guard !range.isEmpty else { return }
                let (first, end) = (range.lowerBound, range.upperBound)
                Scalar.directConvolve(
                    x, one, filters: end - first, packedWeights: packed + first * patch,
                    bias: effectiveBias.map { $0 + first }, rectify: rectify, pool: false, output: image,
                    scratch: partScratch)
                Scalar.maxPoolForward(
                    image, y + first * outputPlane, argmax: winners + first * outputPlane,
                    poolGeometry(channels: end - first))
                return
            }
            for n in (part * batch / parts)..<((part + 1) * batch / parts) {
                Scalar.directConvolve(
                    x + n * imageSize, one, filters: filters, packedWeights: packed, bias: effectiveBias,
                    rectify: rectify, pool: false, output: image, scratch: partScratch)
                Scalar.maxPoolForward(
                    image, y + n * filters * outputPlane, argmax: winners + n * filters * outputPlane,
                    poolGeometry(channels: filters))
            }
        }
    }

    /// The backward pass of one part's images: its dW and db partials, and dX (see `backwardKernel`).
    struct BackwardWork: ParallelWork {
        let x: UnsafePointer<Scalar>
        let dy: UnsafePointer<Scalar>
        let rectified: UnsafePointer<Scalar>
        let w: UnsafePointer<Scalar>
        let dx: UnsafeMutablePointer<Scalar>?
        let flippedFilters: UnsafeMutablePointer<Scalar>?
        let gradientGeometry: WindowGeometry?
        let scratch: UnsafeMutablePointer<Scalar>
        let perPart: Int
        let columnsSize: Int
        let partialOffset: Int
        let weightCount: Int
        let g: WindowGeometry
        let filters: Int
        let plane: Int
        let group: Int
        let batch: Int
        let parts: Int
        let imageSize: Int
        let groups: Int
        let groupPatch: Int
        let groupFilters: Int
        let masked: Bool
        /// The pool's winners when it was taken over in training (`dy` and `rectified` are
        /// then the pooled output's, planes of `pooledPlane`).
        let winners: UnsafePointer<Int32>?
        let pooledPlane: Int
        let gathers: Bool
        let directWeight: Bool
        /// Whether the direct weight gradient is Winograd's (`winogradWeightGradientSums`), with
        /// `sumsCount` elements of sums at the end of each part's region.
        let winogradWeight: Bool
        let sumsCount: Int
        let hasBias: Bool

        func run(part: Int) {
            let cols = scratch + part * perPart
            let dcols = cols + columnsSize
            let dw = cols + partialOffset
            let db = dw + weightCount
            let maskedGradient = db + filters
            let maskedPooled = maskedGradient + (masked || winners != nil ? filters * plane * group : 0)
            let gathered = maskedPooled + (winners != nil && masked ? filters * pooledPlane * group : 0)
            let winogradScratch = gathered + (gathers ? filters * plane * group : 0)
            db.update(repeating: 0, count: filters)
            if directWeight { dw.update(repeating: 0, count: weightCount) }
            let sums = cols + perPart - sumsCount
            if winogradWeight { sums.update(repeating: 0, count: sumsCount) }
            let first = part * batch / parts
            let end = (part + 1) * batch / parts
            var n = first
            while n < end {
                let count = min(group, end - n)
                var piece = g
                piece.batch = count
                let columnCount = count * plane
                // dY of images n..<n+count, NCHW (contiguous), masked by the fused ReLU.
                var dyn: UnsafePointer<Scalar>
                if let winners {
                    // The pool's backward: each pooled gradient to its window's winner (zeros
                    // elsewhere), masked first where the pooled output (the winner's value) is
                    // not positive: the bits of the pool's backward and then ReLU's.
                    var pooledGradient = dy + n * filters * pooledPlane
                    if masked {
                        Scalar.reluBackward(
                            input: rectified + n * filters * pooledPlane, pooledGradient, maskedPooled,
                            count: count * filters * pooledPlane)
                        pooledGradient = UnsafePointer(maskedPooled)
                    }
                    Scalar.maxPoolBackward(
                        pooledGradient, argmax: winners + n * filters * pooledPlane, maskedGradient,
                        WindowGeometry(
                            batch: count, channels: filters, height: g.outputHeight, width: g.outputWidth,
                            kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2, paddingHeight: 0,
                            paddingWidth: 0))
                    dyn = UnsafePointer(maskedGradient)
                } else if masked {
                    Scalar.reluBackward(
                        input: rectified + n * filters * plane, dy + n * filters * plane, maskedGradient,
                        count: count * filters * plane)
                    dyn = UnsafePointer(maskedGradient)
                } else {
                    dyn = dy + n * filters * plane
                }
                let imageOrderGradient = dyn  // [count, F, H', W']
                if count > 1 && gathers {
                    Scalar.gatherChannels(
                        dyn, gathered, batch: count, channels: filters, planeSize: plane)
                    dyn = UnsafePointer(gathered)
                }
                if directWeight {
                    if winogradWeight {
                        Scalar.winogradWeightGradientSums(
                            input: x + n * imageSize, outputGradient: imageOrderGradient, piece, filters: filters,
                            sums: sums, scratch: winogradScratch)
                    } else {
                        Scalar.convolutionWeightGradient(
                            input: x + n * imageSize, outputGradient: imageOrderGradient, piece,
                            filters: filters, addingTo: dw, scratch: winogradScratch)
                    }
                    if hasBias {
                        for image in 0..<count {
                            Scalar.accumulateRowSums(
                                imageOrderGradient + image * filters * plane, db, rows: filters,
                                columns: plane)
                        }
                    }
                } else {
                    Scalar.im2col(x + n * imageSize, cols, piece)
                    for groupIndex in 0..<groups {
                        Scalar.gemm(
                            transposeA: false, transposeB: true, m: groupFilters, n: groupPatch,
                            k: columnCount,
                            alpha: 1, a: dyn + groupIndex * groupFilters * columnCount,
                            lda: columnCount,
                            b: cols + groupIndex * groupPatch * columnCount, ldb: columnCount,
                            beta: n == first ? 0 : 1, c: dw + groupIndex * groupFilters * groupPatch,
                            ldc: groupPatch)
                    }
                    if hasBias {
                        Scalar.accumulateRowSums(dyn, db, rows: filters, columns: columnCount)
                    }
                }
                if let dx, var gradientPiece = gradientGeometry, let flippedFilters {
                    gradientPiece.batch = count
                    Scalar.winogradConvolve(
                        imageOrderGradient, gradientPiece, filters: g.channels,
                        transformedFilters: flippedFilters, bias: nil, rectify: false,
                        output: dx + n * imageSize, scratch: winogradScratch)
                } else if let dx {
                    for groupIndex in 0..<groups {
                        Scalar.gemm(
                            transposeA: true, transposeB: false, m: groupPatch, n: columnCount,
                            k: groupFilters,
                            alpha: 1, a: w + groupIndex * groupFilters * groupPatch, lda: groupPatch,
                            b: dyn + groupIndex * groupFilters * columnCount, ldb: columnCount, beta: 0,
                            c: dcols + groupIndex * groupPatch * columnCount, ldc: columnCount)
                    }
                    Scalar.col2im(dcols, dx + n * imageSize, piece)
                }
                n += count
            }
            if winogradWeight {
                Scalar.winogradWeightGradientFinish(sums: sums, filters: filters, channels: g.channels, addingTo: dw)
            }
        }
    }
}

/// `conv(filters, k=3, s=1, p=0, d=1, g=1, bias=true)`: `Conv2D`.
struct ConvolutionKind: LayerKind {
    static let token = "conv"
    var token: String { ConvolutionKind.token }
    var aliases: [String] { ["conv2d"] }
    var parameters: [SpecParameter] {
        [
            SpecParameter(
                "filters", aliases: ["f", "filters", "out", "channels"], kind: .integer(1...(1 << 20)),
                default: .required(hint: "a filter count, e.g. conv(32,k=3)")),
            SpecParameter(
                "kernel", aliases: ["k", "kernel", "kernel_size"], kind: .integer(1...(1 << 20)),
                default: .value(.integer(3)),
                alwaysPrinted: true),
            SpecParameter(
                "stride", aliases: ["s", "stride"], kind: .integer(1...(1 << 20)), default: .value(.integer(1))),
            SpecParameter(
                "padding", aliases: ["p", "pad", "padding"], kind: .integer(0...(1 << 20)), default: .value(.integer(0))
            ),
            SpecParameter(
                "dilation", aliases: ["d", "dilation"], kind: .integer(1...(1 << 20)), default: .value(.integer(1)),
                positional: false),
            SpecParameter(
                "groups", aliases: ["g", "groups"], kind: .integer(1...(1 << 20)), default: .value(.integer(1)),
                positional: false),
            SpecParameter("bias", kind: .flag, default: .value(.flag(true)), positional: false),
        ]
    }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> {
        try requireImageShape(inputShape)
        return try Conv2D<Scalar>(
            inputChannels: inputShape[0], outputChannels: arguments.integer("filters"),
            kernelSize: arguments.integer("kernel"),
            stride: arguments.integer("stride"), padding: arguments.integer("padding"),
            dilation: arguments.integer("dilation"), groups: arguments.integer("groups"), bias: arguments.flag("bias"),
            initializer: context.initializer, random: &context.random)
    }
}

/// Grows or shrinks a workspace buffer, reusing its storage when the size is unchanged.
func resize<Scalar: KernelScalar>(_ buffer: inout [Scalar], to count: Int) {
    if buffer.count != count {
        buffer = [Scalar](repeating: 0, count: count)
    }
}
