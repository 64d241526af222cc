import ConvNetKernels
import Testing

@testable import ConvNet

/// im2col and col2im (per-tap valid column ranges, plain copies at stride 1) against their
/// naive twins, element for element, on shapes with padding wider than the kernel reach,
/// strides, dilations and inputs narrower than the window.
@Suite("im2col / col2im against their naive twins")
struct Im2colTests {
    @Test(arguments: [
        // batch, channels, height, width, kernel, stride, padding, dilation
        [1, 1, 5, 5, 3, 1, 0, 1], [2, 3, 7, 6, 3, 2, 1, 1], [1, 2, 4, 9, 5, 1, 3, 1], [2, 2, 9, 9, 3, 3, 2, 2],
        [1, 3, 3, 3, 3, 1, 4, 1], [3, 1, 11, 7, 2, 2, 0, 3], [1, 4, 6, 6, 1, 1, 0, 1], [2, 2, 8, 5, 3, 2, 3, 2],
    ])
    func fastMatchesReference(_ c: [Int]) {
        let g = WindowGeometry(
            batch: c[0], channels: c[1], height: c[2], width: c[3], kernelHeight: c[4], kernelWidth: c[4],
            strideHeight: c[5], strideWidth: c[5], paddingHeight: c[6], paddingWidth: c[6],
            dilationHeight: c[7], dilationWidth: c[7])
        let columnsCount = g.patchSize * g.batch * g.outputPlane
        var random = SeededRandom(seed: 17)
        let input = (0..<g.inputCount).map { _ in Float(random.normal()) }
        let columns = (0..<columnsCount).map { _ in Float(random.normal()) }
        var fast = [Float](repeating: .nan, count: columnsCount)
        var reference = fast
        var fastImage = [Float](repeating: .nan, count: g.inputCount)
        var referenceImage = fastImage
        input.withUnsafeBufferPointer { x in
            fast.withUnsafeMutableBufferPointer { Float.im2col(x.baseAddress!, $0.baseAddress!, g) }
            reference.withUnsafeMutableBufferPointer { Float.im2colReference(x.baseAddress!, $0.baseAddress!, g) }
        }
        columns.withUnsafeBufferPointer { columns in
            fastImage.withUnsafeMutableBufferPointer { Float.col2im(columns.baseAddress!, $0.baseAddress!, g) }
            referenceImage.withUnsafeMutableBufferPointer {
                Float.col2imReference(columns.baseAddress!, $0.baseAddress!, g)
            }
        }
        #expect(fast == reference, "im2col \(c)")
        let worst = zip(fastImage, referenceImage).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst < 1e-5, "col2im \(c): \(worst)")
    }
}

/// Float's vectorised BatchNorm kernels (statistics and backward, with and without the fused
/// ReLU mask) against the naive formula in Double and against the generic default (Double).
@Suite("BatchNorm kernels against their naive twin")
struct BatchNormKernelTests {
    @Test(arguments: [[3, 4, 37], [2, 3, 16], [5, 2, 1], [1, 3, 100]])
    func floatMatchesReference(_ c: [Int]) {
        let (outer, channels, inner) = (c[0], c[1], c[2])
        let count = outer * channels * inner
        var random = SeededRandom(seed: 31)
        let x = (0..<count).map { _ in Float(3 + 2 * random.normal()) }  // an offset mean, as activations have
        let dy = (0..<count).map { _ in Float(random.normal()) }
        let gamma = (0..<channels).map { _ in Float(random.uniform(in: 0.5, 1.5)) }
        let reference = naiveBatchNormTraining(
            x: x.map(Double.init), dy: dy.map(Double.init), gamma: gamma.map(Double.init),
            beta: [Double](repeating: 0, count: channels),
            epsilon: 1e-5, outer: outer, channels: channels, inner: inner)
        var mean = [Double](repeating: 0, count: channels)
        var variance = mean
        Float.batchNormStatistics(x, mean: &mean, variance: &variance, outer: outer, channels: channels, inner: inner)
        var genericMean = mean
        var genericVariance = variance
        let xd = x.map(Double.init)
        Double.batchNormStatistics(
            xd, mean: &genericMean, variance: &genericVariance, outer: outer, channels: channels, inner: inner)
        #expect(relativeError(mean, genericMean) < 1e-12 && relativeError(variance, genericVariance) < 1e-12)
        let deviation = variance.map { 1 / ($0 + 1e-5).squareRoot() }
        var dx = [Float](repeating: 0, count: count)
        var dgamma = [Float](repeating: 0, count: channels)
        var dbeta = dgamma
        Float.batchNormBackward(
            x, dy, &dx, rectifiedOutput: nil, mean: mean, inverseDeviation: deviation, gamma: gamma,
            gammaGradient: &dgamma, betaGradient: &dbeta, outer: outer, channels: channels, inner: inner,
            batchStatistics: true)
        #expect(relativeError(dx.map(Double.init), reference.dx) < 1e-4, "dx")
        #expect(relativeError(dgamma.map(Double.init), reference.dgamma) < 1e-5, "dgamma")
        #expect(relativeError(dbeta.map(Double.init), reference.dbeta) < 1e-5, "dbeta")
        // With a fused ReLU mask: the same as masking dy first.
        let mask = (0..<count).map { _ in Float(random.normal()) }
        let masked = zip(dy, mask).map { $1 > 0 ? $0 : 0 }
        var dxMasked = dx
        var dxReference = dx
        var g1 = dgamma
        var g2 = dgamma
        var b1 = dbeta
        var b2 = dbeta
        Float.batchNormBackward(
            x, dy, &dxMasked, rectifiedOutput: mask, mean: mean, inverseDeviation: deviation, gamma: gamma,
            gammaGradient: &g1, betaGradient: &b1, outer: outer, channels: channels, inner: inner, batchStatistics: true
        )
        Float.batchNormBackward(
            x, masked, &dxReference, rectifiedOutput: nil, mean: mean, inverseDeviation: deviation, gamma: gamma,
            gammaGradient: &g2, betaGradient: &b2, outer: outer, channels: channels, inner: inner, batchStatistics: true
        )
        #expect(relativeError(dxMasked.map(Double.init), dxReference.map(Double.init)) < 1e-6)
        #expect(relativeError(g1.map(Double.init), g2.map(Double.init)) < 1e-6)
    }
}
