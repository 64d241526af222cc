import Testing

@testable import ConvNet

/// Conv2D through Winograd and through the direct forward against the same layer through
/// im2col, all in Double (where they agree to round-off, 1e-12): forward, and backward's dX, dW
/// and db, with and without a fused ReLU, on batches that split between cores and group images
/// (gradient checks by central differences cannot tell Winograd's Double round-off, ~1e-13,
/// from an error once it is divided by the step). The Float choice per shape is checked too.
@Suite("Conv2D by Winograd and by the direct forward against Conv2D by im2col")
struct WinogradLayerTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var spec: String
        var inputShape: [Int]
        var batch: Int
        var testDescription: String { "\(spec) on \(batch)×\(inputShape)" }
    }

    static let cases = [
        Case(spec: "conv(5,k=3,p=1)", inputShape: [3, 7, 6], batch: 1),
        Case(spec: "conv(4,k=3,p=1) relu", inputShape: [2, 9, 9], batch: 5),
        Case(spec: "conv(6,k=3,p=2,bias=false) relu", inputShape: [4, 5, 8], batch: 3),
        Case(spec: "conv(3,k=3) relu", inputShape: [2, 17, 4], batch: 2),
    ]

    /// Forward, then backward of a random dY, through `network`; returns y, dX and every
    /// parameter gradient, flattened.
    static func run(_ network: Sequential<Double>, input: Tensor<Double>, seed: UInt64) throws -> [[Double]] {
        let output = try network.forward(input)
        var random = SeededRandom(seed: seed)
        let outputGradient = try Tensor<Double>(
            shape: output.shape, scalars: (0..<output.count).map { _ in random.uniform(in: -1, 1) })
        let inputGradient = try #require(try network.backward(outputGradient, needsInputGradient: true))
        return [output.scalars, inputGradient.scalars] + network.parameters.map(\.gradient.scalars)
    }

    /// Also layers wide enough (64 channels in and out) for the weight gradient by Winograd,
    /// with and without the fused ReLU's mask, images split between cores.
    @Test(
        arguments: cases + [
            Case(spec: "conv(64,k=3,p=1) relu", inputShape: [64, 6, 7], batch: 3),
            Case(spec: "conv(64,k=3,p=1,bias=false)", inputShape: [70, 5, 5], batch: 2),
        ])
    func winogradEqualsIm2col(c: Case) throws {
        try Self.agrees(c, algorithm: .winograd)
    }

    /// The direct forward (and its direct weight gradient; dX by col2im), in Double where the
    /// automatic choice never takes it.
    @Test(arguments: cases + [Case(spec: "conv(9,k=7,p=3) relu", inputShape: [3, 11, 10], batch: 3)])
    func directEqualsIm2col(c: Case) throws {
        try Self.agrees(c, algorithm: .direct)
    }

    /// `c` through `algorithm` against the same network through im2col: y, dX, dW, db to 1e-12.
    static func agrees(_ c: Case, algorithm: ConvolutionAlgorithm) throws {
        let spec = try ModelSpec(parsing: c.spec)
        let baseline = try spec.makeNetwork(
            inputShape: c.inputShape, initializer: .pytorchDefault, seed: 5, scalar: Double.self)
        let candidate = try spec.makeNetwork(
            inputShape: c.inputShape, initializer: .pytorchDefault, seed: 5, scalar: Double.self)
        baseline.setConvolutionAlgorithm(.im2col)
        candidate.setConvolutionAlgorithm(algorithm)
        var random = SeededRandom(seed: 6)
        let shape = [c.batch] + c.inputShape
        let input = try Tensor<Double>(
            shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in random.uniform(in: -1, 1) })
        let expected = try Self.run(baseline, input: input, seed: 7)
        let fast = try Self.run(candidate, input: input, seed: 7)
        #expect(candidate.layers[0].algorithm?.hasPrefix(algorithm.rawValue) == true)
        #expect(baseline.layers[0].algorithm == "im2col")
        let names = ["output", "input gradient"] + baseline.namedParameters.map { "d \($0.name)" }
        for (name, (mine, reference)) in zip(names, zip(fast, expected)) {
            let scale = max(reference.map(abs).max() ?? 0, 1e-12)
            let error = (zip(mine, reference).map { abs($0 - $1) }.max() ?? 0) / scale
            #expect(mine.count == reference.count && error < 1e-12, "\(c.testDescription) \(name): \(error)")
        }
    }

    @Test func floatChoosesWinogradForWideThreeByThreeLayersOnly() throws {
        let network = try ModelSpec(
            parsing: "conv(16,k=3,p=1) relu conv(16,k=3,p=1) conv(16,k=3,s=2,p=1) conv(8,k=3,p=1)"
        )
        .makeNetwork(inputShape: [3, 8, 8], seed: 1, scalar: Float.self)
        _ = try network.forward(Tensor<Float>(repeating: 0.5, shape: [2, 3, 8, 8]))
        let algorithms = network.layers.compactMap(\.algorithm)
        // The 3-channel layer runs direct; the 16-channel Winograd layer and the stride-1 im2col
        // layer sum their weight gradients directly; the stride-2 one can do neither.
        let expected =
            ConvolutionAlgorithm.setting == "auto"
            ? ["direct", "winograd, direct dW", "im2col", "im2col, direct dW"] : nil
        if let expected { #expect(algorithms == expected) }
        // From 64 channels in and out a Winograd layer sums its weight gradient by Winograd.
        let wide = try ModelSpec(parsing: "conv(64,k=3,p=1) conv(64,k=3,p=1) conv(32,k=3,p=1)")
            .makeNetwork(inputShape: [64, 8, 8], seed: 1, scalar: Float.self)
        _ = try wide.forward(Tensor<Float>(repeating: 0.5, shape: [1, 64, 8, 8]))
        if ConvolutionAlgorithm.setting == "auto" {
            #expect(wide.layers.compactMap(\.algorithm) == ["winograd", "winograd", "winograd, direct dW"])
        }
        let double = try ModelSpec(parsing: "conv(16,k=3,p=1) conv(16,k=3,p=1)")
            .makeNetwork(inputShape: [16, 8, 8], seed: 1, scalar: Double.self)
        _ = try double.forward(Tensor<Double>(repeating: 0.5, shape: [1, 16, 8, 8]))
        #expect(double.layers.compactMap(\.algorithm) == ["im2col", "im2col"], "Double keeps im2col")
    }
}
