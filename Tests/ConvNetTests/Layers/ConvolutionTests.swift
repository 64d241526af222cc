import Testing

@testable import ConvNet

struct ConvolutionTests {
    /// The classic conv_forward_naive check: x = linspace(−0.1, 0.5) over [2, 3, 4, 4],
    /// w = linspace(−0.2, 0.3) over [3, 3, 4, 4], b = linspace(−0.1, 0.2) over [3], stride 2,
    /// pad 1. Expected values were computed with numpy by an explicit loop over
    /// np.pad(x)[n, :, i·s : i·s+4, j·s : j·s+4] · w[f] + b[f] (float64), and agree with the
    /// `correct_out` published in cs231n's assignment 2 to its 8 printed digits.
    @Test func knownAnswerForward() throws {
        var random = SeededRandom(seed: 0)
        let layer = try Conv2D<Double>(
            inputChannels: 3, outputChannels: 3, kernelSize: 4, stride: 2, padding: 1, random: &random)
        layer.weight.value = Tensor(linearlySpacedFrom: -0.2, to: 0.3, shape: [3, 3, 4, 4])
        layer.bias!.value = Tensor(linearlySpacedFrom: -0.1, to: 0.2, shape: [3])
        let x = Tensor<Double>(linearlySpacedFrom: -0.1, to: 0.5, shape: [2, 3, 4, 4])
        let output = try layer.forward(x)
        let expected: [Double] = [
            -0.08759808612440192, -0.10987780640412217, -0.18387191755612808, -0.2109216047110784,
            0.2102708870077291, 0.216610967979389, 0.22847626058152373, 0.23004637467795364,
            0.5081398601398601, 0.5430997423629003, 0.6408244387191755, 0.6710143540669855,
            -0.9805358851674643, -1.031435406698565, -1.1912889216047111, -1.2469584100110418,
            0.6910835480309164, 0.6688038277511961, 0.5948097165991902, 0.56776002944424,
            2.3627029812292974, 2.369043062200957, 2.3809083548030916, 2.3824784688995213,
        ]
        #expect(output.shape == [2, 3, 2, 2])
        #expect(relativeError(output.scalars, expected) < 1e-12)
        // The same in Float, to Float precision.
        let floatLayer = try Conv2D<Float>(
            inputChannels: 3, outputChannels: 3, kernelSize: 4, stride: 2, padding: 1, random: &random)
        floatLayer.weight.value = layer.weight.value.converted()
        floatLayer.bias!.value = layer.bias!.value.converted()
        let floatOutput = try floatLayer.forward(x.converted(to: Float.self))
        #expect(relativeError(floatOutput.scalars.map(Double.init), expected) < 1e-6)
    }

    /// im2col + GEMM against the seven-loop reference on odd shapes, in Float.
    @Test(arguments: [
        // batch, channels, height, width, filters, kernel, stride, padding, dilation, groups
        [1, 1, 5, 5, 1, 3, 1, 0, 1, 1], [1, 3, 7, 7, 5, 3, 2, 1, 1, 1], [3, 2, 9, 9, 7, 5, 2, 2, 1, 1],
        [2, 3, 32, 32, 32, 7, 1, 3, 1, 1], [5, 4, 6, 6, 3, 1, 1, 0, 1, 1], [2, 5, 11, 11, 17, 3, 1, 1, 1, 1],
        [1, 16, 8, 8, 33, 3, 1, 1, 1, 1], [4, 3, 9, 9, 6, 4, 3, 2, 1, 1],
        // PyTorch's floor rule (28 → 14 with k3 s2 p1; 8 → 3 with k3 s2), dilation, groups, depthwise
        [2, 3, 28, 28, 8, 3, 2, 1, 1, 1], [1, 2, 8, 8, 3, 3, 2, 0, 1, 1], [2, 3, 11, 12, 4, 3, 1, 2, 2, 1],
        [2, 4, 8, 8, 6, 3, 2, 1, 1, 2], [3, 6, 9, 9, 6, 3, 1, 1, 1, 6], [3, 4, 10, 9, 8, 3, 2, 1, 3, 4],
    ])
    func fastMatchesNaive(_ c: [Int]) throws {
        let (batch, channels, size, filters, kernel, stride, padding) = (c[0], c[1], c[2], c[4], c[5], c[6], c[7])
        let (dilation, groups) = (c[8], c[9])
        var random = SeededRandom(seed: 41)
        let layer = try Conv2D<Float>(
            inputChannels: channels, outputChannels: filters, kernelSize: kernel, stride: stride, padding: padding,
            dilation: dilation, groups: groups, initializer: .pytorchDefault, random: &random)
        let input: Tensor<Float> = randomTensor([batch, channels, size, c[3]], seed: 42)
        let fast = try layer.forward(input)
        let geometry = WindowGeometry(
            batch: batch, channels: channels, height: size, width: c[3], kernelHeight: kernel, kernelWidth: kernel,
            strideHeight: stride, strideWidth: stride, paddingHeight: padding, paddingWidth: padding,
            dilationHeight: dilation, dilationWidth: dilation)
        var reference = [Float](repeating: 0, count: fast.count)
        input.withUnsafeBufferPointer { x in
            layer.weight.value.withUnsafeBufferPointer { w in
                layer.bias!.value.withUnsafeBufferPointer { b in
                    reference.withUnsafeMutableBufferPointer { y in
                        naiveConvolution(
                            input: x.baseAddress!, weight: w.baseAddress!, bias: b.baseAddress!, output: y.baseAddress!,
                            filters: filters, groups: groups, geometry: geometry)
                    }
                }
            }
        }
        #expect(fast.shape == [batch, filters, geometry.outputHeight, geometry.outputWidth])
        let worst = zip(fast.scalars, reference).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-5, "largest difference \(worst)")
    }

    /// Output sizes follow PyTorch's floor rule ⌊(H + 2p − d(k − 1) − 1) / s⌋ + 1; inputs that do
    /// not fit at all, wrong channels and bad settings are errors.
    @Test func outputSizesAndBadShapes() throws {
        var random = SeededRandom(seed: 0)
        let layer = try Conv2D<Float>(inputChannels: 1, outputChannels: 2, kernelSize: 3, stride: 2, random: &random)
        #expect(try layer.forward(Tensor(zeros: [1, 1, 8, 8])).shape == [1, 2, 3, 3])  // ⌊5 / 2⌋ + 1
        let downsampling = try Conv2D<Float>(
            inputChannels: 1, outputChannels: 2, kernelSize: 3, stride: 2, padding: 1, random: &random)
        #expect(try downsampling.outputShape(forInputShape: [1, 28, 28]) == [2, 14, 14])
        #expect(try downsampling.outputShape(forInputShape: [1, 7, 7]) == [2, 4, 4])
        let dilated = try Conv2D<Float>(
            inputChannels: 1, outputChannels: 1, kernelSize: 3, dilation: 2, random: &random)
        #expect(try dilated.outputShape(forInputShape: [1, 9, 9]) == [1, 5, 5])
        #expect(
            thrownMessage { _ = try dilated.outputShape(forInputShape: [1, 4, 9]) }?.contains("5×5 dilated window")
                == true)
        #expect(throws: ConvNetError.self) { try layer.forward(Tensor(zeros: [1, 2, 9, 9])) }
        #expect(throws: ConvNetError.self) { try layer.forward(Tensor(zeros: [1, 9, 9])) }
        #expect(throws: ConvNetError.self) { try layer.forward(Tensor(zeros: [1, 1, 2, 2])) }
        #expect(throws: ConvNetError.self) {
            try Conv2D<Float>(inputChannels: 1, outputChannels: 2, kernelSize: 0, random: &random)
        }
        #expect(
            thrownMessage {
                _ = try Conv2D<Float>(inputChannels: 3, outputChannels: 4, kernelSize: 3, groups: 2, random: &random)
            }?
            .contains("divisible by 2") == true)
    }
}
