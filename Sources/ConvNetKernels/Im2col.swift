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

/// The output columns x of a kernel tap whose input column is x·stride + offset that fall
/// inside the input (0 ≤ x·stride + offset < width): first..<end, clamped to 0..<outputWidth.
@inline(__always)
func validColumns(offset: Int, stride: Int, width: Int, outputWidth: Int) -> (first: Int, end: Int) {
    let first = offset >= 0 ? 0 : min(outputWidth, (-offset + stride - 1) / stride)
    let reach = width - 1 - offset
    let end = reach < 0 ? 0 : min(outputWidth, reach / stride + 1)
    return (first, max(first, end))
}

extension KernelScalar {
    /// Columns are [C·kh·kw, N·H'·W']: row r = (c, i, j) holds, for every image n and output
    /// position (y, x), the input pixel at (y·sh − ph + i·dh, x·sw − pw + j·dw) of channel c,
    /// or 0 where that falls in the padding. Rows are split between cores. The columns that fall
    /// inside the input are found once per kernel tap, so each output row is a select between
    /// a pixel and 0 that the compiler vectorises (masked loads; a copy loop would become a
    /// memmove call per row, slower for rows of tens of elements). `im2colReference` is its
    /// naive twin.
    public static func im2col(
        _ input: UnsafePointer<Self>, _ columns: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry
    ) {
        let g = geometry
        let rows = g.patchSize
        let rowLength = g.batch * g.outputHeight * g.outputWidth
        let parts = rows * rowLength >= 1 << 16 ? min(ThreadPool.coreCount, rows) : 1
        ThreadPool.run(parts: parts, Im2colRows(input: input, columns: columns, g: g, parts: parts))
    }
}

/// `im2col`'s parts: part p unfolds its range of rows of `columns` (one row per channel and
/// kernel tap).
private struct Im2colRows<Scalar: KernelScalar>: ParallelWork {
    /// The input [N, C, H, W], the columns [C·kh·kw, N·H'·W'] (written) and their geometry.
    let input: UnsafePointer<Scalar>
    let columns: UnsafeMutablePointer<Scalar>
    let g: WindowGeometry
    /// The number of parts.
    let parts: Int

    func run(part: Int) {
        let outputHeight = g.outputHeight
        let outputWidth = g.outputWidth
        let (height, width, strideHeight, strideWidth) = (g.height, g.width, g.strideHeight, g.strideWidth)
        let plane = height * width
        let rowLength = g.batch * outputHeight * outputWidth
        let rows = g.patchSize
        for row in (part * rows / parts)..<((part + 1) * rows / parts) {
            let j = row % g.kernelWidth
            let i = (row / g.kernelWidth) % g.kernelHeight
            let c = row / (g.kernelWidth * g.kernelHeight)
            let offsetX = j * g.dilationWidth - g.paddingWidth
            let offsetY = i * g.dilationHeight - g.paddingHeight
            let (first, end) = validColumns(
                offset: offsetX, stride: strideWidth, width: width, outputWidth: outputWidth)
            var destination = columns + row * rowLength
            for n in 0..<g.batch {
                let source = input + (n * g.channels + c) * plane
                for y in 0..<outputHeight {
                    let sourceY = y * strideHeight + offsetY
                    if sourceY < 0 || sourceY >= height {
                        destination.update(repeating: 0, count: outputWidth)
                        destination += outputWidth
                        continue
                    }
                    let sourceRow = source + sourceY * width
                    for x in 0..<outputWidth {
                        let sourceX = x * strideWidth + offsetX
                        destination[x] = x >= first && x < end ? sourceRow[sourceX] : 0
                    }
                    destination += outputWidth
                }
            }
        }
    }
}

extension KernelScalar {
    /// The adjoint of `im2col`. Work is split over (image, channel) planes so that no two
    /// threads write the same pixel; as in `im2col`, only the columns inside the input are
    /// visited. `col2imReference` is its naive twin.
    public static func col2im(
        _ columns: UnsafePointer<Self>, _ input: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry
    ) {
        let g = geometry
        let rowLength = g.batch * g.outputHeight * g.outputWidth
        let planes = g.batch * g.channels
        let parts = g.patchSize * rowLength >= 1 << 16 ? min(ThreadPool.coreCount, planes) : 1
        ThreadPool.run(parts: parts, Col2imPlanes(columns: columns, input: input, g: g, parts: parts))
    }
}

/// `col2im`'s parts: part p folds the columns back into its range of (image, channel) planes.
private struct Col2imPlanes<Scalar: KernelScalar>: ParallelWork {
    /// The columns [C·kh·kw, N·H'·W'], the input [N, C, H, W] (overwritten) and their geometry.
    let columns: UnsafePointer<Scalar>
    let input: UnsafeMutablePointer<Scalar>
    let g: WindowGeometry
    /// The number of parts.
    let parts: Int

    func run(part: Int) {
        let outputHeight = g.outputHeight
        let outputWidth = g.outputWidth
        let (height, width, strideHeight, strideWidth) = (g.height, g.width, g.strideHeight, g.strideWidth)
        let plane = height * width
        let rowLength = g.batch * outputHeight * outputWidth
        let planes = g.batch * g.channels
        for planeIndex in (part * planes / parts)..<((part + 1) * planes / parts) {
            let n = planeIndex / g.channels
            let c = planeIndex % g.channels
            let destination = input + planeIndex * plane
            destination.update(repeating: 0, count: plane)
            for i in 0..<g.kernelHeight {
                let offsetY = i * g.dilationHeight - g.paddingHeight
                for j in 0..<g.kernelWidth {
                    let offsetX = j * g.dilationWidth - g.paddingWidth
                    let (first, end) = validColumns(
                        offset: offsetX, stride: strideWidth, width: width, outputWidth: outputWidth)
                    let row = (c * g.kernelHeight + i) * g.kernelWidth + j
                    var source = columns + row * rowLength + n * outputHeight * outputWidth
                    for y in 0..<outputHeight {
                        let targetY = y * strideHeight + offsetY
                        if targetY >= 0 && targetY < height {
                            let targetRow = destination + targetY * width
                            if strideWidth == 1 {
                                let shifted = targetRow + (first + offsetX)
                                let part = source + first
                                for x in 0..<(end - first) { shifted[x] += part[x] }
                            } else {
                                for x in first..<end { targetRow[x * strideWidth + offsetX] += source[x] }
                            }
                        }
                        source += outputWidth
                    }
                }
            }
        }
    }
}

extension KernelScalar {
    /// The naive twin of `im2col`: every element on its own, with its bounds test.
    public static func im2colReference(
        _ input: UnsafePointer<Self>, _ columns: UnsafeMutablePointer<Self>, _ g: WindowGeometry
    ) {
        let (outputHeight, outputWidth) = (g.outputHeight, g.outputWidth)
        var destination = columns
        for c in 0..<g.channels {
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    for n in 0..<g.batch {
                        for y in 0..<outputHeight {
                            for x in 0..<outputWidth {
                                let sourceY = y * g.strideHeight - g.paddingHeight + i * g.dilationHeight
                                let sourceX = x * g.strideWidth - g.paddingWidth + j * g.dilationWidth
                                let inside = sourceY >= 0 && sourceY < g.height && sourceX >= 0 && sourceX < g.width
                                destination.pointee =
                                    inside
                                    ? input[((n * g.channels + c) * g.height + sourceY) * g.width + sourceX] : 0
                                destination += 1
                            }
                        }
                    }
                }
            }
        }
    }

    /// The naive twin of `col2im`: every column element added to its pixel, one at a time.
    public static func col2imReference(
        _ columns: UnsafePointer<Self>, _ input: UnsafeMutablePointer<Self>, _ g: WindowGeometry
    ) {
        let (outputHeight, outputWidth) = (g.outputHeight, g.outputWidth)
        input.update(repeating: 0, count: g.inputCount)
        var source = columns
        for c in 0..<g.channels {
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    for n in 0..<g.batch {
                        for y in 0..<outputHeight {
                            for x in 0..<outputWidth {
                                let targetY = y * g.strideHeight - g.paddingHeight + i * g.dilationHeight
                                let targetX = x * g.strideWidth - g.paddingWidth + j * g.dilationWidth
                                if targetY >= 0 && targetY < g.height && targetX >= 0 && targetX < g.width {
                                    input[((n * g.channels + c) * g.height + targetY) * g.width + targetX] +=
                                        source.pointee
                                }
                                source += 1
                            }
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
