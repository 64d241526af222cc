import Testing

@testable import ConvNet

/// Sequential fuses Conv2D → ReLU (ReLU applied in the convolution's epilogue, its mask applied
/// inside the convolution's backward). The unfused twin is the same network run layer by
/// layer; results must be bit-identical, on odd shapes (stride 2, padding, batch 1).
@Suite("Fused Conv2D → ReLU against layer-by-layer")
struct FusionTests {
    /// The layers, not yet in a Sequential (so not fused).
    static func layers(seed: UInt64, stride: Int) throws -> [any Layer<Float>] {
        var random = SeededRandom(seed: seed)
        return [
            try Conv2D(
                inputChannels: 3, outputChannels: 5, kernelSize: 3, stride: stride, padding: 1,
                initializer: .pytorchDefault, random: &random),
            ReLU(),
            try Conv2D(
                inputChannels: 5, outputChannels: 7, kernelSize: 3, padding: 1,
                initializer: .pytorchDefault, random: &random),
            ReLU(),
            Flatten(),
        ]
    }

    @Test(arguments: [(1, 1), (3, 2), (2, 1)])
    func fusedEqualsLayerByLayer(batch: Int, stride: Int) throws {
        let fused = Sequential(try Self.layers(seed: 3, stride: stride))
        let plain = try Self.layers(seed: 3, stride: stride)
        var random = SeededRandom(seed: 9)
        let shape = [batch, 3, 9, 9]
        let input = Tensor<Float>(
            uncheckedShape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float(random.normal()) })
        let fusedOutput = try fused.forward(input)
        var x = input
        for layer in plain { x = try layer.forward(x) }
        #expect(fusedOutput == x)
        let gradient = Tensor<Float>(
            uncheckedShape: x.shape, scalars: (0..<x.count).map { _ in Float(random.normal()) })
        let fusedInputGradient = try fused.backward(gradient)
        var g = gradient
        for layer in plain.reversed() { g = try layer.backward(g) }
        #expect(fusedInputGradient == g)
        for (a, b) in zip(fused.parameters, plain.flatMap { $0.parameters }) { #expect(a.gradient == b.gradient) }
        // The training path (no input gradient for the first layer).
        #expect(try fused.backward(gradient, needsInputGradient: false) == nil)
        for (a, b) in zip(fused.parameters, plain.flatMap { $0.parameters }) { #expect(a.gradient == b.gradient) }
    }

    /// In training too, Conv2D (→ ReLU) → MaxPool2D(2) runs as one layer: the direct forward
    /// (3 input channels) convolves each image into a buffer and pools it from there keeping the
    /// winners, and its backward spreads the pooled gradient over them; Winograd (the second
    /// layer, 8 channels, when forced) does the same per group of images; im2col hands its
    /// output to a pool of its own. Output, input gradient and every parameter gradient are
    /// bit-identical to layer by layer: batch 1 (the direct forward splits filters between
    /// cores) and 3, even and odd (floor) sizes, with and without the ReLU, and a zero region
    /// where the convolution's outputs tie at its bias (the first of equal maxima wins, as in
    /// MaxPool2D).
    @Test(arguments: [
        ([1, 3, 12, 12], true, ConvolutionAlgorithm.im2col), ([3, 3, 11, 9], true, .im2col),
        ([2, 3, 10, 14], false, .im2col), ([1, 3, 12, 12], true, .winograd), ([3, 3, 11, 9], true, .winograd),
        ([2, 3, 10, 14], false, .winograd),
    ])
    func pooledTrainingEqualsLayerByLayer(shape: [Int], rectified: Bool, algorithm: ConvolutionAlgorithm) throws {
        func layers() throws -> [any Layer<Float>] {
            var random = SeededRandom(seed: 7)
            let first = try Conv2D<Float>(
                inputChannels: 3, outputChannels: 8, kernelSize: 5, padding: 2, initializer: .pytorchDefault,
                random: &random)
            first.bias!.value = Tensor(repeating: 0.25, shape: [8])
            let second = try Conv2D<Float>(
                inputChannels: 8, outputChannels: 6, kernelSize: 3, padding: 1, initializer: .pytorchDefault,
                random: &random)
            second.setConvolutionAlgorithm(algorithm)
            return [first] + (rectified ? [ReLU()] : []) + [try MaxPool2D(kernelSize: 2), second]
                + (rectified ? [ReLU()] : []) + [try MaxPool2D(kernelSize: 2), Flatten()]
        }
        let fused = Sequential(try layers())
        let plain = try layers()
        #expect(fused.runningLayerIndices.count == 3)
        var random = SeededRandom(seed: 11)
        let count = shape.reduce(1, *)
        let width = shape[3]
        // The right half of every row is zero: there the first convolution's outputs are its bias.
        let input = Tensor<Float>(
            uncheckedShape: shape,
            scalars: (0..<count).map { index in index % width >= width / 2 ? 0 : Float(random.normal()) })
        var x = input
        for layer in plain { x = try layer.forward(x) }
        #expect(try fused.forward(input) == x)
        #expect(fused.layers[0].algorithm == "direct")
        #expect(fused.layers[fused.runningLayerIndices[1]].algorithm?.hasPrefix(algorithm.rawValue) == true)
        let gradient = Tensor<Float>(
            uncheckedShape: x.shape, scalars: (0..<x.count).map { _ in Float(random.normal()) })
        var g = gradient
        for layer in plain.reversed() { g = try layer.backward(g) }
        #expect(try fused.backward(gradient) == g)
        for (a, b) in zip(fused.parameters, plain.flatMap { $0.parameters }) { #expect(a.gradient == b.gradient) }
        // The training path (no input gradient for the first layer), after another forward.
        _ = try fused.forward(input)
        #expect(try fused.backward(gradient, needsInputGradient: false) == nil)
        for (a, b) in zip(fused.parameters, plain.flatMap { $0.parameters }) { #expect(a.gradient == b.gradient) }
    }

    /// In inference, Conv2D → ReLU → MaxPool2D(2) runs as one layer: the direct forward pools
    /// while its output is in cache (3 input channels), Winograd per group of images, im2col
    /// after its output (the second layer, 8 channels, either forced). Bit-identical to layer by
    /// layer, on even and odd (floor) sizes; backward is refused until the mode is
    /// unfoldedInference, which runs them apart again.
    @Test(arguments: [[2, 3, 32, 32], [1, 3, 11, 9]], [ConvolutionAlgorithm.im2col, .winograd])
    func pooledInferenceEqualsLayerByLayer(shape: [Int], algorithm: ConvolutionAlgorithm) throws {
        func layers() throws -> [any Layer<Float>] {
            var random = SeededRandom(seed: 5)
            return [
                try Conv2D(
                    inputChannels: 3, outputChannels: 8, kernelSize: 5, padding: 2, initializer: .pytorchDefault,
                    random: &random),
                ReLU(),
                try MaxPool2D(kernelSize: 2),
                second(
                    try Conv2D(
                        inputChannels: 8, outputChannels: 6, kernelSize: 3, padding: 1, initializer: .pytorchDefault,
                        random: &random)),
                ReLU(),
                try MaxPool2D(kernelSize: 2),
                Flatten(),
            ]
        }
        func second(_ layer: Conv2D<Float>) -> Conv2D<Float> {
            layer.setConvolutionAlgorithm(algorithm)
            return layer
        }
        let fused = Sequential(try layers())
        let plain = try layers()
        fused.setMode(.inference)
        var random = SeededRandom(seed: 10)
        let input = Tensor<Float>(
            uncheckedShape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float(random.normal()) })
        var x = input
        for layer in plain { x = try layer.forward(x) }
        #expect(try fused.forward(input) == x)
        #expect(fused.layers[fused.runningLayerIndices[1]].algorithm?.hasPrefix(algorithm.rawValue) == true)
        #expect(thrownMessage { _ = try fused.backward(x) }?.contains("unfoldedInference") == true)
        fused.setMode(.unfoldedInference)
        #expect(try fused.forward(input) == x)
        #expect(try fused.backward(x).shape == input.shape)
    }
}
