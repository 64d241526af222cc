/// The reference convolution: seven plain loops over image, filter, output row and column,
/// channel and kernel row and column, accumulated in Double, with no unfolding.
///
/// input [N, C, H, W], weight [F, C/groups, kh, kw], bias [F] → output [N, F, H', W']. Filter
/// f of group g = f / (F/groups) sees input channels g·C/groups ..< (g+1)·C/groups; taps are
/// `dilation` apart (PyTorch's `nn.Conv2d(groups:, dilation:)`). The fast path (`im2col` +
/// `gemm`, per group) is tested against it.
public func naiveConvolution<Scalar: KernelScalar>(
    input: UnsafePointer<Scalar>, weight: UnsafePointer<Scalar>, bias: UnsafePointer<Scalar>?,
    output: UnsafeMutablePointer<Scalar>, filters: Int, groups: Int = 1, geometry g: WindowGeometry
) {
    let outputHeight = g.outputHeight
    let outputWidth = g.outputWidth
    let channelsPerGroup = g.channels / groups
    let filtersPerGroup = filters / groups
    for n in 0..<g.batch {
        for f in 0..<filters {
            let firstChannel = (f / filtersPerGroup) * channelsPerGroup
            for y in 0..<outputHeight {
                for x in 0..<outputWidth {
                    var sum = bias?[f].doubleValue ?? 0
                    for c in 0..<channelsPerGroup {
                        for i in 0..<g.kernelHeight {
                            for j in 0..<g.kernelWidth {
                                let row = y * g.strideHeight - g.paddingHeight + i * g.dilationHeight
                                let column = x * g.strideWidth - g.paddingWidth + j * g.dilationWidth
                                guard row >= 0, row < g.height, column >= 0, column < g.width else { continue }
                                let pixel = input[
                                    ((n * g.channels + firstChannel + c) * g.height + row) * g.width + column]
                                let tap = weight[((f * channelsPerGroup + c) * g.kernelHeight + i) * g.kernelWidth + j]
                                sum += pixel.doubleValue * tap.doubleValue
                            }
                        }
                    }
                    output[((n * filters + f) * outputHeight + y) * outputWidth + x] = Scalar(sum)
                }
            }
        }
    }
}

/// The reference weight gradient of `naiveConvolution`: for every tap, the sum over images and
/// output positions of dY · X, accumulated in Double, plain loops.
///
/// input [N, C, H, W], outputGradient [N, F, H', W'] → weightGradient [F, C/groups, kh, kw]
/// (overwritten). `convolutionWeightGradient` and the im2col + GEMM path are tested against it.
public func naiveConvolutionWeightGradient<Scalar: KernelScalar>(
    input: UnsafePointer<Scalar>, outputGradient: UnsafePointer<Scalar>, weightGradient: UnsafeMutablePointer<Scalar>,
    filters: Int, groups: Int = 1, geometry g: WindowGeometry
) {
    let outputHeight = g.outputHeight
    let outputWidth = g.outputWidth
    let channelsPerGroup = g.channels / groups
    let filtersPerGroup = filters / groups
    for f in 0..<filters {
        let firstChannel = (f / filtersPerGroup) * channelsPerGroup
        for c in 0..<channelsPerGroup {
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    var sum = 0.0
                    for n in 0..<g.batch {
                        for y in 0..<outputHeight {
                            let row = y * g.strideHeight - g.paddingHeight + i * g.dilationHeight
                            guard row >= 0, row < g.height else { continue }
                            for x in 0..<outputWidth {
                                let column = x * g.strideWidth - g.paddingWidth + j * g.dilationWidth
                                guard column >= 0, column < g.width else { continue }
                                let pixel = input[
                                    ((n * g.channels + firstChannel + c) * g.height + row) * g.width + column]
                                let gradient = outputGradient[((n * filters + f) * outputHeight + y) * outputWidth + x]
                                sum += pixel.doubleValue * gradient.doubleValue
                            }
                        }
                    }
                    weightGradient[((f * channelsPerGroup + c) * g.kernelHeight + i) * g.kernelWidth + j] = Scalar(sum)
                }
            }
        }
    }
}
