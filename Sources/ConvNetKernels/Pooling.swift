/// Max and average pooling over [N, C, H, W] windows.
///
/// Requirements of `KernelScalar`, with default implementations below (specialised for
/// Float and Double); pointers are raw row-major buffers, sizes element counts.
public protocol PoolingKernels: BinaryFloatingPoint {
    /// Max over each window of [N, C, H, W] → [N, C, H', W']; `argmax` gets each winner's
    /// offset inside its H×W plane.
    static func maxPoolForward(
        _ input: UnsafePointer<Self>, _ output: UnsafeMutablePointer<Self>,
        argmax: UnsafeMutablePointer<Int32>, _ geometry: WindowGeometry)
    /// Output row `row` of one plane in `maxPoolForward`'s 2×2, stride-2, unpadded case (the
    /// classic nets' pool, `maxPool2x2Forward`): `plane`, `target` and `winners` point at the
    /// plane's input [H, W], output and winners [⌊H/2⌋, ⌊W/2⌋]. The same results and tie/NaN
    /// rules as `maxPoolForwardGeneral`, its reference in the tests; Float takes eight windows at
    /// a time.
    static func maxPool2x2Row(
        _ plane: UnsafePointer<Self>, _ target: UnsafeMutablePointer<Self>, _ winners: UnsafeMutablePointer<Int32>,
        row: Int, _ geometry: WindowGeometry)
    /// Routes each output gradient to its window's winner; inputGradient is overwritten.
    static func maxPoolBackward(
        _ outputGradient: UnsafePointer<Self>, argmax: UnsafePointer<Int32>,
        _ inputGradient: UnsafeMutablePointer<Self>, _ geometry: WindowGeometry)
    /// Mean over each window (padding counts as zeros, divided by kh·kw).
    static func averagePoolForward(
        _ input: UnsafePointer<Self>, _ output: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry)
    /// Spreads each output gradient evenly over its window; inputGradient is overwritten.
    static func averagePoolBackward(
        _ outputGradient: UnsafePointer<Self>, _ inputGradient: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry)
}

extension KernelScalar {
    public static func maxPoolForward(
        _ input: UnsafePointer<Self>, _ output: UnsafeMutablePointer<Self>,
        argmax: UnsafeMutablePointer<Int32>, _ geometry: WindowGeometry
    ) {
        let g = geometry
        if g.kernelHeight == 2, g.kernelWidth == 2, g.strideHeight == 2, g.strideWidth == 2,
            g.paddingHeight == 0, g.paddingWidth == 0, 2 * g.outputHeight <= g.height, 2 * g.outputWidth <= g.width
        {
            maxPool2x2Forward(input, output, argmax: argmax, g)
            return
        }
        maxPoolForwardGeneral(input, output, argmax: argmax, g)
    }

    /// The 2×2, stride-2, unpadded case: every output row of every plane by `maxPool2x2Row`.
    static func maxPool2x2Forward(
        _ input: UnsafePointer<Self>, _ output: UnsafeMutablePointer<Self>,
        argmax: UnsafeMutablePointer<Int32>, _ geometry: WindowGeometry
    ) {
        let g = geometry
        for planeIndex in 0..<(g.batch * g.channels) {
            for y in 0..<g.outputHeight {
                maxPool2x2Row(
                    input + planeIndex * g.height * g.width, output + planeIndex * g.outputPlane,
                    argmax + planeIndex * g.outputPlane, row: y, g)
            }
        }
    }

    /// One window at a time (Double's path).
    public static func maxPool2x2Row(
        _ plane: UnsafePointer<Self>, _ target: UnsafeMutablePointer<Self>, _ winners: UnsafeMutablePointer<Int32>,
        row: Int, _ geometry: WindowGeometry
    ) {
        maxPool2x2Windows(plane, target, winners, row: row, columns: 0..<geometry.outputWidth, geometry)
    }

    /// Output row `row` of one plane at `columns`: `plane`, `target` and `winners` point at
    /// the plane's input, output and winners.
    @inline(__always)
    static func maxPool2x2Windows(
        _ plane: UnsafePointer<Self>, _ target: UnsafeMutablePointer<Self>, _ winners: UnsafeMutablePointer<Int32>,
        row y: Int, columns: Range<Int>, _ g: WindowGeometry
    ) {
        let width = g.width
        let top = plane + 2 * y * width
        for x in columns {
            let offset = 2 * y * width + 2 * x
            let corners = (top[2 * x], top[2 * x + 1], top[width + 2 * x], top[width + 2 * x + 1])
            // The first maximum in row-major order; a NaN wins.
            var best = corners.0
            var bestOffset = offset
            if corners.1 > best || corners.1.isNaN && !best.isNaN {
                best = corners.1
                bestOffset = offset + 1
            }
            if corners.2 > best || corners.2.isNaN && !best.isNaN {
                best = corners.2
                bestOffset = offset + width
            }
            if corners.3 > best || corners.3.isNaN && !best.isNaN {
                best = corners.3
                bestOffset = offset + width + 1
            }
            target[y * g.outputWidth + x] = best
            winners[y * g.outputWidth + x] = Int32(bestOffset)
        }
    }

    /// Any window, stride and padding: the reference for the fast paths.
    public static func maxPoolForwardGeneral(
        _ input: UnsafePointer<Self>, _ output: UnsafeMutablePointer<Self>,
        argmax: UnsafeMutablePointer<Int32>, _ geometry: WindowGeometry
    ) {
        let g = geometry
        let outputHeight = g.outputHeight
        let outputWidth = g.outputWidth
        let plane = g.height * g.width
        let outputPlane = outputHeight * outputWidth
        for planeIndex in 0..<(g.batch * g.channels) {
            let source = input + planeIndex * plane
            let target = output + planeIndex * outputPlane
            let winners = argmax + planeIndex * outputPlane
            for y in 0..<outputHeight {
                let top = y * g.strideHeight - g.paddingHeight
                for x in 0..<outputWidth {
                    let left = x * g.strideWidth - g.paddingWidth
                    var best = -Self.infinity
                    var bestOffset = -1
                    for i in max(top, 0)..<min(top + g.kernelHeight, g.height) {
                        for j in max(left, 0)..<min(left + g.kernelWidth, g.width) {
                            let value = source[i * g.width + j]
                            // `>` keeps the first maximum in row-major order, as PyTorch does;
                            // NaN wins so that it propagates.
                            if value > best || bestOffset < 0 || value.isNaN && !best.isNaN {
                                best = value
                                bestOffset = i * g.width + j
                            }
                        }
                    }
                    target[y * outputWidth + x] = best
                    winners[y * outputWidth + x] = Int32(bestOffset)
                }
            }
        }
    }

    public static func maxPoolBackward(
        _ outputGradient: UnsafePointer<Self>, argmax: UnsafePointer<Int32>,
        _ inputGradient: UnsafeMutablePointer<Self>, _ geometry: WindowGeometry
    ) {
        let g = geometry
        let plane = g.height * g.width
        let outputPlane = g.outputPlane
        inputGradient.update(repeating: 0, count: g.inputCount)
        for planeIndex in 0..<(g.batch * g.channels) {
            let target = inputGradient + planeIndex * plane
            let source = outputGradient + planeIndex * outputPlane
            let winners = argmax + planeIndex * outputPlane
            for o in 0..<outputPlane where winners[o] >= 0 {
                target[Int(winners[o])] += source[o]
            }
        }
    }

    public static func averagePoolForward(
        _ input: UnsafePointer<Self>, _ output: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry
    ) {
        let g = geometry
        let outputHeight = g.outputHeight
        let outputWidth = g.outputWidth
        let plane = g.height * g.width
        let outputPlane = outputHeight * outputWidth
        for planeIndex in 0..<(g.batch * g.channels) {
            let source = input + planeIndex * plane
            let target = output + planeIndex * outputPlane
            for y in 0..<outputHeight {
                let top = y * g.strideHeight - g.paddingHeight
                for x in 0..<outputWidth {
                    let left = x * g.strideWidth - g.paddingWidth
                    let divisor = Self(averagePoolDivisor(top: top, left: left, g))
                    var sum: Self = 0
                    for i in max(top, 0)..<min(top + g.kernelHeight, g.height) {
                        for j in max(left, 0)..<min(left + g.kernelWidth, g.width) {
                            sum += source[i * g.width + j]
                        }
                    }
                    target[y * outputWidth + x] = sum / divisor
                }
            }
        }
    }

    public static func averagePoolBackward(
        _ outputGradient: UnsafePointer<Self>, _ inputGradient: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry
    ) {
        let g = geometry
        let outputHeight = g.outputHeight
        let outputWidth = g.outputWidth
        let plane = g.height * g.width
        let outputPlane = outputHeight * outputWidth
        inputGradient.update(repeating: 0, count: g.inputCount)
        for planeIndex in 0..<(g.batch * g.channels) {
            let target = inputGradient + planeIndex * plane
            let source = outputGradient + planeIndex * outputPlane
            for y in 0..<outputHeight {
                let top = y * g.strideHeight - g.paddingHeight
                for x in 0..<outputWidth {
                    let left = x * g.strideWidth - g.paddingWidth
                    let share = source[y * outputWidth + x] / Self(averagePoolDivisor(top: top, left: left, g))
                    for i in max(top, 0)..<min(top + g.kernelHeight, g.height) {
                        for j in max(left, 0)..<min(left + g.kernelWidth, g.width) {
                            target[i * g.width + j] += share
                        }
                    }
                }
            }
        }
    }

    /// The divisor of the window at (top, left) (PyTorch's `count_include_pad=True`): the
    /// window's cells inside the padded input, padding included. It is kh·kw for every window
    /// but the last ones in `ceilMode`, which can reach past the padding.
    @inline(__always)
    static func averagePoolDivisor(top: Int, left: Int, _ g: WindowGeometry) -> Int {
        (min(top + g.kernelHeight, g.height + g.paddingHeight) - top)
            * (min(left + g.kernelWidth, g.width + g.paddingWidth) - left)
    }
}

extension Float {
    /// Rows of 8 or more outputs go 8 windows at a time (`maxPool2x2Octet`), the last octet
    /// overlapping the one before it; narrower rows go one window at a time.
    public static func maxPool2x2Row(
        _ plane: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, _ winners: UnsafeMutablePointer<Int32>,
        row y: Int, _ geometry: WindowGeometry
    ) {
        let g = geometry
        let outputWidth = g.outputWidth
        let width = g.width
        guard outputWidth >= 8 else {
            maxPool2x2Windows(plane, target, winners, row: y, columns: 0..<outputWidth, g)
            return
        }
        let row = y * outputWidth
        var x = 0
        while x < outputWidth {
            // 2·(first + 8) ≤ 2·outputWidth ≤ width: the octet's 16 columns are in the row.
            let first = min(x, outputWidth - 8)
            maxPool2x2Octet(
                plane + 2 * y * width + 2 * first, width: width, firstOffset: 2 * y * width + 2 * first,
                target + row + first, winners + row + first)
            x = first + 8
        }
    }

    /// Eight adjacent 2×2 windows whose first top-left corner is `top` (a row of 16 inputs, the
    /// next row `width` later): their maxima to `target[0..<8]` and the winners' plane offsets
    /// (`firstOffset` is the first window's top-left corner) to `winners[0..<8]`. The corners
    /// come in row-major order, each replacing the best so far by `poolReplaces` (the first
    /// maximum; a NaN wins).
    @inline(__always)
    static func maxPool2x2Octet(
        _ top: UnsafePointer<Float>, width: Int, firstOffset: Int, _ target: UnsafeMutablePointer<Float>,
        _ winners: UnsafeMutablePointer<Int32>
    ) {
        let (topLeft, topRight) = evenAndOddLanes(top)
        let (bottomLeft, bottomRight) = evenAndOddLanes(top + width)
        var best = topLeft
        // The winner's offset from its window's top-left corner.
        var corner = SIMD8<Int32>()
        let rightWins = poolReplaces(best, with: topRight)
        best.replace(with: topRight, where: rightWins)
        corner.replace(with: 1, where: rightWins)
        let bottomLeftWins = poolReplaces(best, with: bottomLeft)
        best.replace(with: bottomLeft, where: bottomLeftWins)
        corner.replace(with: Int32(width), where: bottomLeftWins)
        let bottomRightWins = poolReplaces(best, with: bottomRight)
        best.replace(with: bottomRight, where: bottomRightWins)
        corner.replace(with: Int32(width + 1), where: bottomRightWins)
        UnsafeMutableRawPointer(target).storeBytes(of: best, as: SIMD8<Float>.self)
        let offsets = corner &+ SIMD8(repeating: Int32(firstOffset)) &+ SIMD8(0, 2, 4, 6, 8, 10, 12, 14)
        UnsafeMutableRawPointer(winners).storeBytes(of: offsets, as: SIMD8<Int32>.self)
    }

    /// Inputs 0, 2, …, 14 and 1, 3, …, 15 from `pointer`: the left and right corners of eight
    /// adjacent 2-wide windows.
    @inline(__always)
    static func evenAndOddLanes(_ pointer: UnsafePointer<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
        let low = UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
        let high = UnsafeRawPointer(pointer + 8).loadUnaligned(as: SIMD8<Float>.self)
        return (
            SIMD8(low[0], low[2], low[4], low[6], high[0], high[2], high[4], high[6]),
            SIMD8(low[1], low[3], low[5], low[7], high[1], high[3], high[5], high[7])
        )
    }
}
