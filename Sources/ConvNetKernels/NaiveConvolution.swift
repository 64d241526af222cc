/// The reference convolution: seven plain loops over image, filter, output row and column,
/// channel and kernel row and column, accumulated in Double, with no unfolding.
///
/// input [N, C, H, W], weight [F, C, kh, kw], bias [F] → output [N, F, H', W']. The fast path
/// (`im2col` + `gemm`) is tested against it.
public func naiveConvolution<Scalar: KernelScalar>(
    input: UnsafePointer<Scalar>, weight: UnsafePointer<Scalar>, bias: UnsafePointer<Scalar>?,
    output: UnsafeMutablePointer<Scalar>, filters: Int, geometry g: WindowGeometry
) {
    let outputHeight = g.outputHeight, outputWidth = g.outputWidth
    for n in 0..<g.batch {
        for f in 0..<filters {
            for y in 0..<outputHeight {
                for x in 0..<outputWidth {
                    var sum = bias?[f].doubleValue ?? 0
                    for c in 0..<g.channels {
                        for i in 0..<g.kernelHeight {
                            for j in 0..<g.kernelWidth {
                                let row = y * g.strideHeight - g.paddingHeight + i
                                let column = x * g.strideWidth - g.paddingWidth + j
                                guard row >= 0, row < g.height, column >= 0, column < g.width else { continue }
                                let pixel = input[((n * g.channels + c) * g.height + row) * g.width + column]
                                let tap = weight[((f * g.channels + c) * g.kernelHeight + i) * g.kernelWidth + j]
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
