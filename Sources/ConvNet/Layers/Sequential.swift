/// Layers applied in order (PyTorch's `nn.Sequential`). Parameters are named as in its
/// `state_dict`: `"\(name).\(parameter)"`, where a layer's name is its index (`0.weight`,
/// `4.bias`; every layer counts, including those without parameters) or the name it was given
/// (`Sequential(named:)`, like `nn.Sequential(OrderedDict(...))`).
///
/// Fusion goes through the `Layer` protocol: whenever the mode changes, each layer is offered
/// the epilogues of the layers after it (`epilogue(in:)`) and takes over those it can
/// (`adoptEpilogues(_:mode:)`); the layers taken over are skipped. So a Conv2D applies a
/// following ReLU and 2×2 max pool while its output is in cache (its forward then returns the
/// pooled output, and its backward takes that output's gradient), and in inference a Conv2D →
/// BatchNorm → ReLU runs as one convolution with the BatchNorm folded into its weights. Code
/// that runs the layers of a Sequential one by one runs those of `runningLayerIndices`.
public final class Sequential<Scalar: KernelScalar>: Layer {
    /// The layers, first applied first.
    public let layers: [any Layer<Scalar>]
    /// Their state_dict names.
    public let names: [String]
    /// The mode last set (`setMode(_:)`); training at first.
    public private(set) var mode: LayerMode = .training
    /// The indices of the layers that run (those not taken over by the layer before them).
    private var steps: [Int] = []
    /// The indices of the layers that `forward` runs, in order, under the current mode's
    /// fusion plan (the others' work is done by the layer before them).
    public var runningLayerIndices: [Int] { steps }
    /// parametersBefore[k]: a layer that runs before steps[k] has parameters.
    private var parametersBefore: [Bool] = []
    /// Whether a BatchNorm or a max pool is folded into a convolution under the current plan
    /// (backward cannot run through it).
    private var foldsIntoConvolution = false
    /// hasParameters[i]: layer i has parameters (itself or nested); found once, the layers never change.
    private let hasParameters: [Bool]
    /// Called during `backward` right after layer i's backward (with i), when that layer's
    /// parameter gradients are final: data-parallel training (`DataParallel`) starts summing
    /// them over the ranks while the layers before it are still back-propagating.
    public var onLayerBackward: ((Int) throws -> Void)?

    /// A sequence of layers, named by their index.
    public convenience init(_ layers: [any Layer<Scalar>]) {
        self.init(named: layers.enumerated().map { (String($0.offset), $0.element) })
    }

    /// A sequence of named layers (their names prefix their parameters' names).
    public init(named layers: [(String, any Layer<Scalar>)]) {
        self.layers = layers.map(\.1)
        self.names = layers.map(\.0)
        hasParameters = layers.map { !$0.1.parameters.isEmpty }
        planFusion()
    }

    public var description: String {
        "Sequential(\n" + zip(names, layers).map { "  (\($0)): \($1)" }.joined(separator: "\n") + "\n)"
    }

    public var sublayers: [(name: String, layer: any Layer<Scalar>)] {
        zip(names, layers).map { (name: $0, layer: $1) }
    }

    public var specification: LayerSpec {
        LayerSpec(
            token: SequentialKind.token, arguments: ["layers": .spec(ModelSpec(layers: layers.map(\.specification)))])
    }

    public var pytorchModule: String {
        "nn.Sequential(" + layers.map(\.pytorchModule).joined(separator: ", ") + ")"
    }

    /// Each layer in order under its name (every layer, whatever the fusion plan: the graph
    /// keeps them apart and the runtime fuses as it likes).
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        var value = input
        for (name, layer) in zip(names, layers) { value = try graph.export(layer, named: name, input: value) }
        return value
    }

    public func modeDidChange(to mode: LayerMode) {
        self.mode = mode
        planFusion()
    }

    /// Offers each running layer the epilogues of the layers after it, in the current mode.
    private func planFusion() {
        steps = []
        foldsIntoConvolution = false
        var index = 0
        while index < layers.count {
            var offered: [Epilogue<Scalar>] = []
            var next = index + 1
            while next < layers.count, let epilogue = layers[next].epilogue(in: mode) {
                offered.append(epilogue)
                next += 1
            }
            let taken = min(layers[index].adoptEpilogues(offered, mode: mode), offered.count)
            for epilogue in offered.prefix(taken) {
                switch epilogue {
                case .channelAffine: foldsIntoConvolution = true
                case .maxPool2x2: foldsIntoConvolution = foldsIntoConvolution || !mode.isTraining
                case .activation: break
                }
            }
            steps.append(index)
            for skipped in (index + 1)..<(index + 1 + taken) {
                _ = layers[skipped].adoptEpilogues([], mode: mode)
            }
            index += 1 + taken
        }
        var seen = false
        parametersBefore = steps.map { index in
            defer { seen = seen || hasParameters[index] }
            return seen
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

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        var x = input
        for index in steps { x = try layers[index].forward(x) }
        return x
    }

    /// Back-propagates through the running layers, last first. A layer before which no layer
    /// has parameters is told that its input gradient is not needed (unless the caller needs
    /// it), and layers before it are not visited at all.
    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        if foldsIntoConvolution {
            throw ConvNetError.invalidArgument(
                "backward in inference mode through a BatchNorm or max pool folded into a convolution; set the mode "
                    + "to unfoldedInference first (or use training mode)")
        }
        var gradient = outputGradient
        var position = steps.count - 1
        while position >= 0 {
            let index = steps[position]
            let needed = needsInputGradient || parametersBefore[position]
            guard needed else {
                if hasParameters[index] {
                    _ = try layers[index].backward(gradient, needsInputGradient: false)
                    try onLayerBackward?(index)
                }
                return nil
            }
            guard let next = try layers[index].backward(gradient, needsInputGradient: true) else {
                throw ConvNetError.invalidArgument("\(layers[index].description) returned no input gradient")
            }
            try onLayerBackward?(index)
            gradient = next
            position -= 1
        }
        return gradient
    }

    /// Copies every parameter and buffer value from `other` (same architecture, any element type).
    public func copyParameters<Other: KernelScalar>(from other: Sequential<Other>) throws {
        let mine = namedParameters
        let theirs = other.namedParameters
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
        let myBuffers = namedBuffers
        let theirBuffers = other.namedBuffers
        guard myBuffers.map(\.name) == theirBuffers.map(\.name) else {
            throw ConvNetError.shapeMismatch("buffers differ: \(myBuffers.map(\.name)) vs \(theirBuffers.map(\.name))")
        }
        for (target, source) in zip(myBuffers, theirBuffers) { target.buffer.copy(from: source.buffer) }
    }
}

/// `seq(...)`: layers in order, as one layer (`nn.Sequential` inside another).
struct SequentialKind: LayerKind {
    static let token = "seq"
    var token: String { SequentialKind.token }
    var aliases: [String] { ["sequential"] }
    var parameters: [SpecParameter] {
        [SpecParameter("layers", kind: .layers, default: .value(.spec(ModelSpec(layers: []))))]
    }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> {
        Sequential(try arguments.layers("layers").makeLayers(inputShape: inputShape, context: &context))
    }
}
