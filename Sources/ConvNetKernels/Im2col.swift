/// The unfolding that turns a convolution into a matrix product, and the channel shuffles around it (`naiveConvolution` is the reference).
///
/// Requirements of `KernelScalar`, with default implementations below (specialised for
/// Float and Double); pointers are raw row-major buffers, sizes element counts.
public protocol ConvolutionLayoutKernels: BinaryFloatingPoint {
    /// Unfolds input [N, C, H, W] into columns [C·kh·kw, N·H'·W'] (zero padding).
    static func im2col(
        _ input: UnsafePointer<Self>, _ columns: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry)
    /// Folds columns [C·kh·kw, N·H'·W'] back into input [N, C, H, W], summing overlaps
    /// (the adjoint of `im2col`). The input buffer is overwritten.
    static func col2im(
        _ columns: UnsafePointer<Self>, _ input: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry)
    /// [F, N·P] + bias[F] → [N, F, P].
    static func scatterChannelsAddingBias(
        _ source: UnsafePointer<Self>, bias: UnsafePointer<Self>?,
        _ destination: UnsafeMutablePointer<Self>, batch: Int, channels: Int, planeSize: Int)
    /// [N, F, P] → [F, N·P].
    static func gatherChannels(
        _ source: UnsafePointer<Self>, _ destination: UnsafeMutablePointer<Self>,
        batch: Int, channels: Int, planeSize: Int)
}

extension KernelScalar {
    /// Columns are [C·kh·kw, N·H'·W']: row r = (c, i, j) holds, for every image n and output
    /// position (y, x), the input pixel at (y·sh − ph + i·dh, x·sw − pw + j·dw) of channel c,
    /// or 0 where that falls in the padding. Rows are split between cores.
    public static func im2col(
        _ input: UnsafePointer<Self>, _ columns: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry
    ) {
        let g = geometry
        let outputHeight = g.outputHeight, outputWidth = g.outputWidth
        let plane = g.height * g.width
        let rowLength = g.batch * outputHeight * outputWidth
        let rows = g.patchSize
        let parts = rows * rowLength >= 1 << 16 ? min(ThreadPool.coreCount, rows) : 1
        ThreadPool.run(parts: parts) { part in
            for row in (part * rows / parts)..<((part + 1) * rows / parts) {
                let j = row % g.kernelWidth
                let i = (row / g.kernelWidth) % g.kernelHeight
                let c = row / (g.kernelWidth * g.kernelHeight)
                var destination = columns + row * rowLength
                for n in 0..<g.batch {
                    let source = input + (n * g.channels + c) * plane
                    for y in 0..<outputHeight {
                        let sourceY = y * g.strideHeight - g.paddingHeight + i * g.dilationHeight
                        if sourceY < 0 || sourceY >= g.height {
                            destination.update(repeating: 0, count: outputWidth)
                            destination += outputWidth
                            continue
                        }
                        let sourceRow = source + sourceY * g.width
                        let offsetX = j * g.dilationWidth - g.paddingWidth
                        for x in 0..<outputWidth {
                            let sourceX = x * g.strideWidth + offsetX
                            destination[x] = sourceX >= 0 && sourceX < g.width ? sourceRow[sourceX] : 0
                        }
                        destination += outputWidth
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`. Work is split over (image, channel) planes so that no two
    /// threads write the same pixel.
    public static func col2im(
        _ columns: UnsafePointer<Self>, _ input: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry
    ) {
        let g = geometry
        let outputHeight = g.outputHeight, outputWidth = g.outputWidth
        let plane = g.height * g.width
        let rowLength = g.batch * outputHeight * outputWidth
        let planes = g.batch * g.channels
        let parts = g.patchSize * rowLength >= 1 << 16 ? min(ThreadPool.coreCount, planes) : 1
        ThreadPool.run(parts: parts) { part in
            for planeIndex in (part * planes / parts)..<((part + 1) * planes / parts) {
                let n = planeIndex / g.channels, c = planeIndex % g.channels
                let destination = input + planeIndex * plane
                destination.update(repeating: 0, count: plane)
                for i in 0..<g.kernelHeight {
                    for j in 0..<g.kernelWidth {
                        let row = (c * g.kernelHeight + i) * g.kernelWidth + j
                        var source = columns + row * rowLength + n * outputHeight * outputWidth
                        for y in 0..<outputHeight {
                            let targetY = y * g.strideHeight - g.paddingHeight + i * g.dilationHeight
                            if targetY < 0 || targetY >= g.height {
                                source += outputWidth
                                continue
                            }
                            let targetRow = destination + targetY * g.width
                            let offsetX = j * g.dilationWidth - g.paddingWidth
                            for x in 0..<outputWidth {
                                let targetX = x * g.strideWidth + offsetX
                                if targetX >= 0 && targetX < g.width { targetRow[targetX] += source[x] }
                            }
                            source += outputWidth
                        }
                    }
                }
            }
        }
    }

    public static func scatterChannelsAddingBias(
        _ source: UnsafePointer<Self>, bias: UnsafePointer<Self>?,
        _ destination: UnsafeMutablePointer<Self>, batch: Int, channels: Int, planeSize: Int
    ) {
        for f in 0..<channels {
            let b = bias?[f] ?? 0
            for n in 0..<batch {
                let from = source + (f * batch + n) * planeSize
                let to = destination + (n * channels + f) * planeSize
                for p in 0..<planeSize { to[p] = from[p] + b }
            }
        }
    }

    public static func gatherChannels(
        _ source: UnsafePointer<Self>, _ destination: UnsafeMutablePointer<Self>,
        batch: Int, channels: Int, planeSize: Int
    ) {
        for f in 0..<channels {
            for n in 0..<batch {
                (destination + (f * batch + n) * planeSize)
                    .update(from: source + (n * channels + f) * planeSize, count: planeSize)
            }
        }
    }
}
