import Testing

@testable import ConvNet

/// The fast paths added for performance against their naive twins on odd shapes: the
/// image-parallel Conv2D backward (per-image im2col, per-core dW/db partials, col2im) against a
/// seven-loop backward in Double; the 2×2 max-pool fast path against the general kernel; and
/// the reuse of layer buffers, which must never change a result the caller still holds.
@Suite("Fast paths against their naive twins")
struct FastPathTests {
    /// dW, db and dX of a convolution by plain loops over the definition, in Double.
    static func naiveConvolutionBackward(
        input x: [Float], weight w: [Float], outputGradient dy: [Float], filters: Int, groups: Int = 1,
        geometry g: WindowGeometry
    ) -> (dw: [Double], db: [Double], dx: [Double]) {
        let (oh, ow) = (g.outputHeight, g.outputWidth)
        let channelsPerGroup = g.channels / groups
        let filtersPerGroup = filters / groups
        var dw = [Double](repeating: 0, count: filters * g.patchSize / groups)
        var db = [Double](repeating: 0, count: filters)
        var dx = [Double](repeating: 0, count: g.inputCount)
        for n in 0..<g.batch {
            for f in 0..<filters {
                for y in 0..<oh {
                    for xo in 0..<ow {
                        let grad = Double(dy[((n * filters + f) * oh + y) * ow + xo])
                        db[f] += grad
                        let firstChannel = f / filtersPerGroup * channelsPerGroup
                        for c in 0..<channelsPerGroup {
                            for i in 0..<g.kernelHeight {
                                for j in 0..<g.kernelWidth {
                                    let row = y * g.strideHeight - g.paddingHeight + i * g.dilationHeight
                                    let column = xo * g.strideWidth - g.paddingWidth + j * g.dilationWidth
                                    guard row >= 0, row < g.height, column >= 0, column < g.width else { continue }
                                    let xi = ((n * g.channels + firstChannel + c) * g.height + row) * g.width + column
                                    let wi = ((f * channelsPerGroup + c) * g.kernelHeight + i) * g.kernelWidth + j
                                    dw[wi] += grad * Double(x[xi])
                                    dx[xi] += grad * Double(w[wi])
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dw, db, dx)
    }

    static func worstRelative(_ fast: [Float], _ reference: [Double]) -> Double {
        let scale = max(reference.map(abs).max() ?? 0, 1e-12)
        return zip(fast, reference).map { abs(Double($0) - $1) }.max().map { $0 / scale } ?? 0
    }

    @Test(arguments: [
        // batch, channels, height, width, filters, kernel, stride, padding, dilation, groups
        [1, 3, 7, 7, 5, 3, 2, 1, 1, 1], [3, 2, 9, 11, 7, 5, 2, 2, 1, 1], [2, 3, 12, 12, 33, 7, 1, 3, 1, 1],
        [5, 4, 6, 6, 3, 1, 1, 0, 1, 1], [1, 17, 10, 10, 9, 3, 1, 1, 1, 1], [4, 3, 9, 9, 6, 4, 3, 2, 1, 1],
        // floor rule (8 − 3 odd), dilation, groups, depthwise, all at once
        [2, 3, 8, 8, 4, 3, 2, 0, 1, 1], [2, 3, 11, 10, 4, 3, 1, 2, 2, 1], [3, 4, 8, 8, 6, 3, 2, 1, 1, 2],
        [2, 6, 9, 9, 6, 3, 1, 1, 1, 6], [3, 4, 10, 9, 8, 3, 2, 1, 2, 4],
    ])
    func convolutionBackwardMatchesNaive(_ c: [Int]) throws {
        let (batch, channels, height, width, filters, kernel, stride, padding) =
            (c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
        let (dilation, groups) = (c[8], c[9])
        var random = SeededRandom(seed: 7)
        let layer = try Conv2D<Float>(
            inputChannels: channels, outputChannels: filters, kernelSize: kernel, stride: stride,
            padding: padding, dilation: dilation, groups: groups, initializer: .pytorchDefault, random: &random)
        let input: Tensor<Float> = randomTensor([batch, channels, height, width], seed: 8)
        let output = try layer.forward(input)
        let outputGradient: Tensor<Float> = randomTensor(output.shape, seed: 9)
        let geometry = WindowGeometry(
            batch: batch, channels: channels, height: height, width: width, kernelHeight: kernel,
            kernelWidth: kernel, strideHeight: stride, strideWidth: stride, paddingHeight: padding,
            paddingWidth: padding, dilationHeight: dilation, dilationWidth: dilation)
        let reference = Self.naiveConvolutionBackward(
            input: input.scalars, weight: layer.weight.value.scalars, outputGradient: outputGradient.scalars,
            filters: filters, groups: groups, geometry: geometry)
        let inputGradient = try layer.backward(outputGradient)
        #expect(Self.worstRelative(inputGradient.scalars, reference.dx) < 1e-5)
        #expect(Self.worstRelative(layer.weight.gradient.scalars, reference.dw) < 1e-5)
        #expect(Self.worstRelative(layer.bias!.gradient.scalars, reference.db) < 1e-5)
        // The first-layer path (no dX) gives the same parameter gradients.
        layer.weight.gradient = Tensor(zeros: layer.weight.value.shape)
        #expect(try layer.backward(outputGradient, needsInputGradient: false) == nil)
        #expect(Self.worstRelative(layer.weight.gradient.scalars, reference.dw) < 1e-5)
        #expect(Self.worstRelative(layer.bias!.gradient.scalars, reference.db) < 1e-5)
    }

    /// Small planes, rows of 8 outputs (one octet), 9 and 13 (an overlapping last octet), 16 and
    /// 17, with ties, ±0, ±∞ and NaNs in every corner of a window.
    @Test(arguments: [
        [1, 1, 2, 2], [2, 3, 7, 9], [1, 5, 8, 8], [3, 2, 5, 4], [2, 3, 6, 32], [1, 2, 5, 35], [1, 1, 2, 16],
        [1, 2, 4, 18], [2, 2, 26, 26], [1, 3, 27, 27],
    ])
    func maxPool2x2MatchesGeneral(_ c: [Int]) {
        let g = WindowGeometry(
            batch: c[0], channels: c[1], height: c[2], width: c[3], kernelHeight: 2, kernelWidth: 2,
            strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0)
        // Few distinct values so that ties are common.
        let specials: [Double] = [.nan, -0.0, .infinity, -.infinity, .nan]
        var input = (0..<g.inputCount).map { Double(($0 * 7919) % 5) }
        // The first four at the four corners of one window (whatever its corner the first is).
        let places = [0, 1, g.width, g.width + 1, 2 * g.width + 3]
        for (special, place) in zip(specials, places) {
            input[(input.count / 2 + place) % input.count] = special
        }
        Self.expectMaxPool2x2MatchesGeneral(input.map { Float($0) }, g)
        Self.expectMaxPool2x2MatchesGeneral(input, g)
    }

    static func expectMaxPool2x2MatchesGeneral<Scalar: KernelScalar>(_ input: [Scalar], _ g: WindowGeometry) {
        let outputCount = g.batch * g.channels * g.outputPlane
        var fast = [Scalar](repeating: 0, count: outputCount)
        var slow = fast
        var fastWinners = [Int32](repeating: 0, count: outputCount)
        var slowWinners = fastWinners
        Scalar.maxPoolForward(input, &fast, argmax: &fastWinners, g)
        Scalar.maxPoolForwardGeneral(input, &slow, argmax: &slowWinners, g)
        #expect(fastWinners == slowWinners, "\(Scalar.self)")
        #expect(
            zip(fast, slow).allSatisfy { ($0 == $1 && $0.sign == $1.sign) || ($0.isNaN && $1.isNaN) }, "\(Scalar.self)")
    }

    /// Layers reuse their output buffers; a result the caller keeps must not change.
    @Test func keptResultsAreNotOverwritten() throws {
        let network = try BenchmarkWorkload.w1.makeNetwork()
        let first: Tensor<Float> = randomTensor([2, 3, 32, 32], seed: 1)
        let second: Tensor<Float> = randomTensor([2, 3, 32, 32], seed: 2)
        let a = try network.forward(first)
        let copyOfA = a.scalars
        for _ in 0..<3 { _ = try network.forward(second) }
        #expect(a.scalars == copyOfA)
        #expect(try network.forward(first).scalars == copyOfA)
    }
}
