/// The window arithmetic shared by `MaxPool2D` and `AvgPool2D`.
///
/// input [N, C, H, W] → output [N, C, H', W'], H' = ⌊(H + 2·padding − kernel) / stride⌋ + 1
/// (PyTorch's floor rule: a last partial window is dropped), or with `ceilMode` rounded up
/// (a last partial window is kept unless it would start in the right padding), as PyTorch's
/// `ceil_mode=True`. padding ≤ kernel / 2.
public struct PoolingWindow: Sendable, Equatable, CustomStringConvertible {
    /// The window's side.
    public let kernelSize: Int
    /// The step between windows (PyTorch's default is the kernel size).
    public let stride: Int
    /// Implicit padding on every side (−∞ for max, 0 for average).
    public let padding: Int
    /// Round output sizes up (PyTorch's `ceil_mode`).
    public let ceilMode: Bool

    /// Validates the window.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) throws {
        let stride = stride ?? kernelSize
        guard kernelSize > 0, stride > 0, padding >= 0, padding <= kernelSize / 2 else {
            throw ConvNetError.invalidArgument(
                "pooling needs kernel > 0, stride > 0 and 0 ≤ padding ≤ kernel/2, found kernel "
                    + "\(kernelSize), stride \(stride), padding \(padding)")
        }
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.ceilMode = ceilMode
    }

    public var description: String {
        "kernel \(kernelSize), stride \(stride), padding \(padding)" + (ceilMode ? ", ceil mode" : "")
    }

    /// The spec arguments of a pooling layer with this window.
    var specificationArguments: [String: SpecValue] {
        [
            "kernel": .integer(kernelSize), "stride": .integer(stride), "padding": .integer(padding),
            "ceil": .flag(ceilMode),
        ]
    }

    /// PyTorch's arguments after the kernel size.
    var pytorchArguments: String {
        "\(kernelSize), stride=\(stride), padding=\(padding)" + (ceilMode ? ", ceil_mode=True" : "")
    }

    /// A pooling node `opType` (`MaxPool`, `AveragePool`) with kernel_shape [k, k], strides
    /// [s, s], pads [p, p, p, p], ceil_mode and `extra` attributes, reading `input` [N, C, H, W].
    ///
    /// In ceil mode PyTorch (and ConvNet, and onnxruntime when it runs the node) drops a last
    /// window that would start in the right padding; ONNX's output size rule before opset 22,
    /// ⌈(H + 2p − k) / s⌉ + 1, keeps it, so its shape inference would disagree with the data
    /// (and a Gemm after it would not load). Where that happens the model needs opset 22, whose
    /// rule drops the window too.
    func exportONNX(
        _ opType: String, _ extra: [ONNXAttribute], to graph: inout ONNXGraph, input: ONNXValue, layer: String
    ) throws -> ONNXValue {
        let shape = try sampleOutputShape(input.sampleShape, layer: layer)
        let (kernel, stride, padding) = (kernelSize, self.stride, self.padding)
        let earlierRule = { (size: Int) in (size + 2 * padding - kernel + stride - 1) / stride + 1 }
        if ceilMode, earlierRule(input.sampleShape[1]) != shape[1] || earlierRule(input.sampleShape[2]) != shape[2] {
            graph.requireOpset(22)
        }
        return graph.node(
            opType, [input.name],
            [
                .integers("kernel_shape", [kernelSize, kernelSize]), .integers("strides", [stride, stride]),
                .integers("pads", [padding, padding, padding, padding]), .integer("ceil_mode", ceilMode ? 1 : 0),
            ] + extra, sampleShape: shape)
    }

    /// The geometry for a batch [N, C, H, W].
    func geometry<Scalar: KernelScalar>(for input: Tensor<Scalar>, layer: String) throws -> WindowGeometry {
        guard input.rank == 4 else {
            throw ConvNetError.shapeMismatch("\(layer) expects input [N, C, H, W], found \(describe(input.shape))")
        }
        return try geometry(batch: input.shape[0], sampleShape: Array(input.shape.dropFirst()), layer: layer)
    }

    /// The output shape [C, H', W'] of one sample of `inputShape` [C, H, W].
    func sampleOutputShape(_ inputShape: [Int], layer: String) throws -> [Int] {
        let g = try geometry(batch: 1, sampleShape: inputShape, layer: layer)
        return [g.channels, g.outputHeight, g.outputWidth]
    }

    /// The output shape [N, C, H', W'] of the last batch seen, for checking gradients.
    static func outputShape(_ geometry: WindowGeometry?) -> [Int]? {
        geometry.map { [$0.batch, $0.channels, $0.outputHeight, $0.outputWidth] }
    }

    /// The geometry for a batch of samples of shape [C, H, W].
    func geometry(batch: Int, sampleShape: [Int], layer: String) throws -> WindowGeometry {
        guard sampleShape.count == 3 else {
            throw ConvNetError.shapeMismatch(
                "\(layer) expects input [N, C, H, W], found [N, "
                    + sampleShape.map(String.init).joined(separator: ", ") + "]")
        }
        let g = WindowGeometry(
            batch: batch, channels: sampleShape[0], height: sampleShape[1], width: sampleShape[2],
            kernelHeight: kernelSize, kernelWidth: kernelSize, strideHeight: stride, strideWidth: stride,
            paddingHeight: padding, paddingWidth: padding, ceilMode: ceilMode)
        guard sampleShape[1] + 2 * padding >= kernelSize, sampleShape[2] + 2 * padding >= kernelSize else {
            throw ConvNetError.shapeMismatch(
                "\(layer): input \(sampleShape[1])×\(sampleShape[2]) is smaller than the \(kernelSize)×\(kernelSize) window"
            )
        }
        return g
    }
}

/// Max pooling: each output is the largest input of its window. Backward routes each output
/// gradient to the input that won (the first one in row-major order on ties, as PyTorch).
public final class MaxPool2D<Scalar: KernelScalar>: Layer {
    /// Kernel, stride and padding.
    public let window: PoolingWindow
    private var geometry: WindowGeometry?
    private var cachedInputShape: [Int] = []
    private var cachedOutputShape: [Int] = []
    private var winners: [Int32] = []
    private var outputs = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()

    /// A max pool with `kernelSize`, `stride` (default: the kernel size), `padding` and `ceilMode`.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) throws {
        window = try PoolingWindow(kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode)
    }

    public var description: String { "MaxPool2D(\(window))" }

    public var specification: LayerSpec {
        LayerSpec(token: PoolingKind.maximum.token, arguments: window.specificationArguments)
    }

    public var pytorchModule: String { "nn.MaxPool2d(\(window.pytorchArguments))" }

    /// `MaxPool` (padding never wins, as −∞).
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        try window.exportONNX("MaxPool", [], to: &graph, input: input, layer: description)
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        try window.sampleOutputShape(inputShape, layer: description)
    }

    /// The 2×2, stride-2, unpadded pool (floor rule) can be taken over by the convolution
    /// before it (`Epilogue.maxPool2x2`), in training (which keeps the winners for backward) and
    /// in inference; `unfoldedInference` runs it on its own.
    public func epilogue(in mode: LayerMode) -> Epilogue<Scalar>? {
        mode != .unfoldedInference && window.kernelSize == 2 && window.stride == 2 && window.padding == 0
            && !window.ceilMode ? .maxPool2x2 : nil
    }

    /// Runs `body` over the N·C planes of `g`, split between cores.
    private func overPlanes<Body: ParallelRangeWork>(_ g: WindowGeometry, _ body: Body) {
        let planes = g.batch * g.channels
        let parts = g.inputCount >= 1 << 15 ? min(ThreadPool.coreCount, planes) : 1
        ThreadPool.run(parts: parts, PlaneSplit(body: body, planes: planes, parts: parts))
    }

    /// `overPlanes`'s parts: part p runs `body` over its range of planes.
    private struct PlaneSplit<Body: ParallelRangeWork>: ParallelWork {
        let body: Body
        /// The number of planes and of parts.
        let planes: Int
        let parts: Int

        func run(part: Int) {
            body.run((part * planes / parts)..<((part + 1) * planes / parts))
        }
    }

    /// The geometry of `count` consecutive planes of `g`: one image of `count` channels.
    private static func planes(_ count: Int, of g: WindowGeometry) -> WindowGeometry {
        var piece = g
        piece.batch = 1
        piece.channels = count
        return piece
    }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        if geometry == nil || input.shape != cachedInputShape {
            guard input.rank == 4 else {
                throw ConvNetError.shapeMismatch(
                    "\(description) expects input [N, C, H, W], found \(describe(input.shape))")
            }
            let g = try window.geometry(
                batch: input.shape[0], sampleShape: Array(input.shape.dropFirst()), layer: description)
            geometry = g
            cachedInputShape = input.shape
            cachedOutputShape = [g.batch, g.channels, g.outputHeight, g.outputWidth]
            winners = [Int32](repeating: 0, count: g.batch * g.channels * g.outputPlane)
        }
        let g = geometry!
        return winners.withUnsafeMutableBufferPointer { w in
            let w = w.baseAddress!
            return input.withUnsafeBufferPointer { x in
                let x = x.baseAddress!
                return outputs.produce(shape: cachedOutputShape) { y, _ in
                    overPlanes(g, ForwardPlanes(x: x, y: y, winners: w, g: g))
                }
            }
        }
    }

    /// `forward` over a range of planes: y = the maximum of each window, `winners` = its index.
    private struct ForwardPlanes: ParallelRangeWork {
        let x: UnsafePointer<Scalar>
        let y: UnsafeMutablePointer<Scalar>
        let winners: UnsafeMutablePointer<Int32>
        /// The geometry of all the planes.
        let g: WindowGeometry

        func run(_ planes: Range<Int>) {
            let first = planes.lowerBound
            Scalar.maxPoolForward(
                x + first * g.height * g.width, y + first * g.outputPlane, argmax: winners + first * g.outputPlane,
                MaxPool2D.planes(planes.count, of: g))
        }
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        guard let g = geometry, outputGradient.shape == cachedOutputShape else {
            try requireGradient(
                outputGradient, shape: PoolingWindow.outputShape(geometry),
                layer: description)
            throw ConvNetError.invalidArgument("\(description): backward called before forward")
        }
        return winners.withUnsafeBufferPointer { w in
            let w = w.baseAddress!
            return outputGradient.withUnsafeBufferPointer { dy in
                let dy = dy.baseAddress!
                return inputGradients.produce(shape: cachedInputShape) { dx, _ in
                    overPlanes(g, BackwardPlanes(dy: dy, winners: w, dx: dx, g: g))
                }
            }
        }
    }

    /// `backward` over a range of planes: each gradient goes to its window's winner.
    private struct BackwardPlanes: ParallelRangeWork {
        let dy: UnsafePointer<Scalar>
        let winners: UnsafePointer<Int32>
        let dx: UnsafeMutablePointer<Scalar>
        /// The geometry of all the planes.
        let g: WindowGeometry

        func run(_ planes: Range<Int>) {
            let first = planes.lowerBound
            Scalar.maxPoolBackward(
                dy + first * g.outputPlane, argmax: winners + first * g.outputPlane, dx + first * g.height * g.width,
                MaxPool2D.planes(planes.count, of: g))
        }
    }
}

/// Average pooling: each output is the mean of its window (padding counts as zeros, divided by
/// kernel², PyTorch's `count_include_pad=True`). Backward spreads each gradient evenly.
public final class AvgPool2D<Scalar: KernelScalar>: Layer {
    /// Kernel, stride and padding.
    public let window: PoolingWindow
    private var geometry: WindowGeometry?

    /// An average pool with `kernelSize`, `stride` (default: the kernel size), `padding` and `ceilMode`.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) throws {
        window = try PoolingWindow(kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode)
    }

    public var description: String { "AvgPool2D(\(window))" }

    public var specification: LayerSpec {
        LayerSpec(token: PoolingKind.average.token, arguments: window.specificationArguments)
    }

    public var pytorchModule: String { "nn.AvgPool2d(\(window.pytorchArguments))" }

    /// `AveragePool` with count_include_pad = 1: the divisor counts the padding but not the part
    /// of a last ceil-mode window beyond it, as here and in PyTorch (onnxruntime agrees; the
    /// ONNX export tests cover such a window).
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        try window.exportONNX(
            "AveragePool", [.integer("count_include_pad", 1)], to: &graph, input: input, layer: description)
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        try window.sampleOutputShape(inputShape, layer: description)
    }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        let g = try window.geometry(for: input, layer: description)
        geometry = g
        var output = Tensor<Scalar>(zeros: [g.batch, g.channels, g.outputHeight, g.outputWidth])
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                Scalar.averagePoolForward(x.baseAddress!, y.baseAddress!, g)
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        try requireGradient(outputGradient, shape: PoolingWindow.outputShape(geometry), layer: description)
        let g = geometry!
        var inputGradient = Tensor<Scalar>(zeros: [g.batch, g.channels, g.height, g.width])
        outputGradient.withUnsafeBufferPointer { dy in
            inputGradient.withUnsafeMutableBufferPointer { dx in
                Scalar.averagePoolBackward(dy.baseAddress!, dx.baseAddress!, g)
            }
        }
        return inputGradient
    }
}

/// `maxpool(k=2, s=k, p=0, ceil=false)` and `avgpool(…)`: `MaxPool2D`, `AvgPool2D`.
struct PoolingKind: LayerKind {
    /// Max or average.
    let isMaximum: Bool
    static let maximum = PoolingKind(isMaximum: true)
    static let average = PoolingKind(isMaximum: false)

    var token: String { isMaximum ? "maxpool" : "avgpool" }
    var aliases: [String] { isMaximum ? ["pool", "maxpool2d"] : ["avgpool2d"] }
    var parameters: [SpecParameter] {
        [
            SpecParameter(
                "kernel", aliases: ["k", "kernel", "kernel_size"], kind: .integer(1...(1 << 20)),
                default: .value(.integer(2)),
                alwaysPrinted: true),
            SpecParameter(
                "stride", aliases: ["s", "stride"], kind: .integer(1...(1 << 20)), default: .sameAs("kernel")),
            SpecParameter(
                "padding", aliases: ["p", "pad", "padding"], kind: .integer(0...(1 << 20)), default: .value(.integer(0))
            ),
            SpecParameter(
                "ceil", aliases: ["ceil", "ceil_mode"], kind: .flag, default: .value(.flag(false)), positional: false),
        ]
    }

    func validate(_ arguments: SpecArguments) throws {
        let (kernel, padding) = (arguments.integer("kernel"), arguments.integer("padding"))
        guard padding <= kernel / 2 else {
            throw ConvNetError.invalidArgument("pooling padding \(padding) exceeds half the kernel \(kernel)")
        }
    }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> {
        try requireImageShape(inputShape)
        let (kernel, stride, padding, ceil) =
            (
                arguments.integer("kernel"), arguments.integer("stride"), arguments.integer("padding"),
                arguments.flag("ceil")
            )
        if isMaximum {
            return try MaxPool2D<Scalar>(kernelSize: kernel, stride: stride, padding: padding, ceilMode: ceil)
        }
        return try AvgPool2D<Scalar>(kernelSize: kernel, stride: stride, padding: padding, ceilMode: ceil)
    }
}
