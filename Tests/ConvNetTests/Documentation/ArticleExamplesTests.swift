import Foundation
import Testing

@testable import ConvNet

/// The code of the DocC articles in `Sources/ConvNet/ConvNet.docc`, compiled and run, so that
/// the articles stay true: every ```swift block of an article must appear in this file
/// (`everySwiftBlockOfTheArticlesIsInThisFile` compares them line by line, ignoring
/// indentation). Blocks fenced as `diff` (edits to library files, such as the registry line in
/// "Adding a layer"), `sh`, `text` and `python` are not compiled. Sizes are small so that the
/// whole suite takes about a second; the articles say which numbers came from larger runs and
/// how they were measured.
struct ArticleExamplesTests {
    // MARK: The landing page

    @Test func theLandingPageExampleTrainsTheDigits() throws {
        let data = try BundledData.digitsSplits(Float.self)  // 1,257 / 270 / 270 images [N, 1, 8, 8]
        let model = try ModelPreset.digitsCNN.makeModel(inputShape: [1, 8, 8], classes: 10, scalar: Float.self)
        var options = SolverOptions()
        options.batchSize = 32
        options.epochs = 3  // `convnet train` runs 15: 97–98 %
        let solver = try Solver(
            model: model, optimizer: try Adam(learningRate: 2e-3),
            trainInputs: data.train.inputs, trainTargets: data.train.labels,
            validationInputs: data.validation.inputs, validationTargets: data.validation.labels, options: options)
        try solver.train()  // one line per epoch
        let (loss, accuracy) = try solver.evaluate(data.test.inputs, data.test.labels)

        print("digits, 3 epochs: test loss \(loss), accuracy \(accuracy)")
        #expect(accuracy > 0.7)
    }

    // MARK: Batched versus per-sample

    @Test func theBenchmarkNetworkIsBuiltAsTheArticleShows() throws {
        let network = try ThreeLayerConvNet.make(
            inputShape: [3, 32, 32], filters: 32, filterSize: 7, hiddenSize: 100, classes: 10,
            weightScale: 1e-2, seed: 0, scalar: Float.self)
        let model = try Model(network: network, loss: SoftmaxCrossEntropy(), inputShape: [3, 32, 32])
        #expect(model.outputShape == [10])
        #expect(model.parameters.map(\.value.count).reduce(0, +) == 825_046)
        #expect(try network.forward(Tensor(zeros: [2, 3, 32, 32])).shape == [2, 10])
    }

    @Test func aLoopOfBatchesOfOneGivesTheBatchedScores() throws {
        let network = try ThreeLayerConvNet.make(
            inputShape: [3, 12, 12], filters: 4, filterSize: 3, hiddenSize: 10, classes: 5, weightScale: 0.1, seed: 3,
            scalar: Float.self)
        let images: Tensor<Float> = randomTensor([6, 3, 12, 12], seed: 4)

        var looped: [Float] = []
        for n in 0..<images.shape[0] {
            let one = images.slicing(samples: n..<(n + 1))  // [1, C, H, W]: a batch of one
            looped += try network.forward(one).scalars  // [1, classes]
        }
        let batched = try network.forward(images)  // [N, classes], one call

        #expect(batched.shape == [6, 5])
        let worst = zip(looped, batched.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-5)
    }

    @Test func perSampleGradientsAverageToTheBatchGradient() throws {
        let network = try ThreeLayerConvNet.make(
            inputShape: [3, 12, 12], filters: 4, filterSize: 3, hiddenSize: 10, classes: 5, weightScale: 0.1, seed: 5,
            scalar: Float.self)
        let model = try Model(network: network, loss: SoftmaxCrossEntropy(), inputShape: [3, 12, 12])
        let images: Tensor<Float> = randomTensor([8, 3, 12, 12], seed: 6)
        let labels = try Tensor<Float>(shape: [8], scalars: [0, 1, 2, 3, 4, 0, 1, 2])

        let loop = try perSampleGradients(model, images: images, labels: labels)
        let batch = try batchedGradients(model, images: images, labels: labels)
        for (a, b) in zip(loop, batch) {
            let difference = zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            let size = b.map { $0 * $0 }.reduce(0, +).squareRoot()
            print(difference / size)  // about 1e-7: the same gradients up to Float round-off
        }
        for (a, b) in zip(loop, batch) {
            let difference = zip(a, b).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
            #expect(difference / b.map { Double($0 * $0) }.reduce(0, +).squareRoot() < 1e-5)
        }
    }

    // MARK: Training XOR three ways

    /// The article's table (also what `convnet train --model xor --batch-size 4|2|1` prints).
    static let xorOutputs: [Int: [Double]] = [
        4: [0.0085, 0.9841, 0.9832, 0.0204], 2: [0.0108, 0.9883, 0.9878, 0.0116], 1: [0.0073, 0.9922, 0.9924, 0.0096],
    ]

    @Test(arguments: [4, 2, 1])
    func xorTrainedThreeWaysAsTheArticleShows(batchSize: Int) throws {
        let (outputs, history) = try trainXOR(batchSize: batchSize)
        print(batchSize, history.iterations.count, outputs.map { String(format: "%.4f", $0) })

        let losses = [1, 10, 100, 1000, 5000].map { String(format: "%.5f", history.epochs[$0 - 1].trainLoss ?? .nan) }
        let below = history.epochs.first { ($0.trainLoss ?? 1) < 0.01 }?.epoch ?? 0
        print(batchSize, losses, "first epoch below 0.01:", below)
        #expect(history.iterations.count == 5000 * 4 / batchSize)
        for (output, value) in zip(outputs, Self.xorOutputs[batchSize]!) { #expect(abs(output - value) < 2e-4) }
    }

    // MARK: Adding a layer

    @Test func theExampleLayerPassesTheGradientCheck() throws {
        let errors = try GradientCheck.check(PReLU<Double>(), inputShape: [4, 6], seed: 11)
        #expect(errors.inputError < 1e-7)
        #expect(errors.parameterErrors.map(\.name) == ["weight"])
        #expect(errors.parameterErrors.allSatisfy { $0.error < 1e-7 })
    }

    @Test func theExampleLayerDescribesItselfAndTrainsInANetwork() throws {
        var random = SeededRandom(seed: 1)
        let network = Sequential<Float>([
            try Dense(inputSize: 4, outputSize: 8, random: &random), PReLU(),
            try Dense(inputSize: 8, outputSize: 3, random: &random),
        ])
        #expect(network.namedParameters.map(\.name) == ["0.weight", "0.bias", "1.weight", "2.weight", "2.bias"])
        #expect(network.pytorchModule == "nn.Sequential(nn.Linear(4, 8), nn.PReLU(), nn.Linear(8, 3))")

        let model = try Model(network: network, loss: SoftmaxCrossEntropy(), inputShape: [4])
        let inputs: Tensor<Float> = randomTensor([16, 4], seed: 2)
        let labels = try Tensor<Float>(shape: [16], scalars: (0..<16).map { Float($0 % 3) })
        let before = try model.lossAndGradients(inputs: inputs, targets: labels)
        let optimizer = try SGD<Float>(learningRate: 0.1)
        for _ in 0..<20 {
            _ = try model.lossAndGradients(inputs: inputs, targets: labels)
            try optimizer.update(model.parameters)
        }
        #expect(try model.lossAndGradients(inputs: inputs, targets: labels) < before)
        #expect(network.namedParameters[2].parameter.value.scalars[0] != 0.25, "the slope is trained")

        var graph = ONNXGraph(input: ONNXValue(name: "input", sampleShape: [4]), opset: ONNXModel.defaultOpset)
        _ = try network.exportONNX(to: &graph, input: graph.input)
        #expect(graph.nodes.map(\.opType) == ["Gemm", "PRelu", "Gemm"])
        #expect(graph.nodes[1].inputs.last == "1.weight")
    }

    @Test func theExampleKindBuildsTheLayer() throws {
        var context = LayerBuildContext()
        let layer: any Layer<Float> = try PReLUKind().makeLayer(
            SpecArguments(values: [:]), inputShape: [8], context: &context)
        #expect(layer is PReLU<Float>)
        #expect(PReLUKind().usage == "prelu")
        #expect(LayerRegistry.kind(named: "prelu") == nil, "only an example: the library does not register it")
    }

    // MARK: The articles and this file agree

    @Test func everySwiftBlockOfTheArticlesIsInThisFile() throws {
        let here = URL(fileURLWithPath: #filePath)
        let catalog = packageRoot().appendingPathComponent("Sources/ConvNet/ConvNet.docc")
        func normalized(_ text: some StringProtocol) -> [String] {
            text.split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let source = normalized(try String(contentsOf: here, encoding: .utf8))
        let articles = try FileManager.default.contentsOfDirectory(atPath: catalog.path).filter { $0.hasSuffix(".md") }
            .sorted()
        var checked = 0
        for article in articles {
            let text = try String(contentsOf: catalog.appendingPathComponent(article), encoding: .utf8)
            for block in text.components(separatedBy: "```swift\n").dropFirst() {
                guard let body = block.components(separatedBy: "```").first else { continue }
                let lines = normalized(body)
                let found = source.indices.contains { start in
                    start + lines.count <= source.count && Array(source[start..<(start + lines.count)]) == lines
                }
                #expect(found, "\(article): a swift block is not in ArticleExamplesTests.swift:\n\(body)")
                checked += 1
            }
        }
        #expect(checked >= 7, "found \(checked) swift blocks in \(articles)")
    }
}

// MARK: Batched versus per-sample: the two ways to get a batch's gradients

/// The per-sample loop: one image at a time through forward and backward, each image's
/// gradients added up (every loss is a mean over the batch, so each is divided by N).
func perSampleGradients(_ model: Model<Float>, images: Tensor<Float>, labels: Tensor<Float>) throws -> [[Float]] {
    let count = images.shape[0]
    var sums = model.parameters.map { [Float](repeating: 0, count: $0.value.count) }
    for n in 0..<count {
        let image = images.slicing(samples: n..<(n + 1))  // [1, C, H, W]
        let label = labels.slicing(samples: n..<(n + 1))  // [1]
        _ = try model.lossAndGradients(inputs: image, targets: label)
        for (index, parameter) in model.parameters.enumerated() {
            let gradient = parameter.gradient.scalars
            for i in gradient.indices { sums[index][i] += gradient[i] / Float(count) }
        }
    }
    return sums
}

/// One call on the whole batch: images [N, C, H, W], labels [N].
func batchedGradients(_ model: Model<Float>, images: Tensor<Float>, labels: Tensor<Float>) throws -> [[Float]] {
    _ = try model.lossAndGradients(inputs: images, targets: labels)
    return model.parameters.map(\.gradient.scalars)
}

// MARK: Training XOR three ways

/// Trains the 2-4-1 sigmoid net on XOR's four points with plain SGD (learning rate 2) for
/// `epochs` passes, `batchSize` points per step: 4 is full-batch gradient descent, 2 mini-batch,
/// 1 stochastic. Returns the trained net's outputs for the four points, and the history.
func trainXOR(batchSize: Int, epochs: Int = 5000) throws -> (outputs: [Double], history: TrainingHistory) {
    let model = try ModelPreset.xor.makeModel(inputShape: [2], classes: 1, scalar: Double.self)
    var options = SolverOptions()
    options.batchSize = batchSize
    options.epochs = epochs
    options.verbose = false
    options.trainAccuracySamples = nil
    let solver = try Solver(
        model: model, optimizer: try SGD<Double>(learningRate: 2),
        trainInputs: XORNet.inputs(), trainTargets: XORNet.targets(), options: options)
    let history = try solver.train()
    return (try model.scores(XORNet.inputs()).scalars, history)
}

// MARK: Adding a layer: the example layer and its kind

/// Parametric ReLU (PyTorch's `nn.PReLU()`): y = x where x > 0, else a·x, element-wise, any
/// shape, with one learned slope a (`weight`, shape [1], 0.25 at the start).
/// dx = dy where x > 0, else a·dy; da = Σ dy·x over the elements where x ≤ 0.
public final class PReLU<Scalar: KernelScalar>: Layer {
    /// The slope for negative inputs, a (PyTorch's `weight`; not L2-regularised).
    public let weight: Parameter<Scalar>
    private var input: Tensor<Scalar>?
    private var outputs = TensorPair<Scalar>()
    private var inputGradients = TensorPair<Scalar>()

    /// A PReLU whose slope starts at `initialSlope` (PyTorch's `init`).
    public init(initialSlope: Double = 0.25) {
        weight = Parameter(
            name: "weight", value: Tensor(repeating: Scalar(initialSlope), shape: [1]), isRegularized: false)
    }

    public var description: String { "PReLU()" }

    public var localParameters: [Parameter<Scalar>] { [weight] }

    public var specification: LayerSpec { LayerSpec(token: PReLUKind.token) }

    public var pytorchModule: String { "nn.PReLU()" }

    /// `PRelu`, with the slope as an initializer under its state_dict name.
    public func exportONNX(to graph: inout ONNXGraph, input: ONNXValue) throws -> ONNXValue {
        let slope = graph.parameter(weight)
        return graph.node("PRelu", [input.name, slope], sampleShape: input.sampleShape)
    }

    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        self.input = input
        let slope = weight.value.scalars[0]
        return input.withUnsafeBufferPointer { x in
            outputs.produce(shape: input.shape) { y, count in
                Scalar.leakyReLUForward(x.baseAddress!, y, count: count, slope: slope)
            }
        }
    }

    public func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        try requireGradient(outputGradient, shape: input?.shape, layer: description)
        guard let input else { return nil }
        let slope = weight.value.scalars[0]
        var slopeGradient = 0.0
        let inputGradient = input.withUnsafeBufferPointer { x in
            outputGradient.withUnsafeBufferPointer { dy -> Tensor<Scalar>? in
                for i in 0..<x.count where x[i] <= 0 { slopeGradient += (dy[i] * x[i]).doubleValue }
                guard needsInputGradient else { return nil }
                return inputGradients.produce(shape: input.shape) { dx, count in
                    Scalar.leakyReLUBackward(input: x.baseAddress!, dy.baseAddress!, dx, count: count, slope: slope)
                }
            }
        }
        weight.gradient.scalars[0] = Scalar(slopeGradient)
        return inputGradient
    }
}

/// `prelu`: `PReLU`, its slope starting at 0.25.
struct PReLUKind: LayerKind {
    static let token = "prelu"
    var token: String { PReLUKind.token }

    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar> { PReLU<Scalar>() }
}
