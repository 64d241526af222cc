import Testing
@testable import ConvNet
import ConvNetKernels

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
        var fast = [Float](repeating: .nan, count: columnsCount), reference = fast
        var fastImage = [Float](repeating: .nan, count: g.inputCount), referenceImage = fastImage
        input.withUnsafeBufferPointer { x in
            fast.withUnsafeMutableBufferPointer { Float.im2col(x.baseAddress!, $0.baseAddress!, g) }
            reference.withUnsafeMutableBufferPointer { Float.im2colReference(x.baseAddress!, $0.baseAddress!, g) }
        }
        columns.withUnsafeBufferPointer { columns in
            fastImage.withUnsafeMutableBufferPointer { Float.col2im(columns.baseAddress!, $0.baseAddress!, g) }
            referenceImage.withUnsafeMutableBufferPointer { Float.col2imReference(columns.baseAddress!, $0.baseAddress!, g) }
        }
        #expect(fast == reference, "im2col \(c)")
        let worst = zip(fastImage, referenceImage).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst < 1e-5, "col2im \(c): \(worst)")
    }
}
