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

    /// The 2×2, stride-2, unpadded case (the classic nets' pool): same results and tie/NaN
    /// rules as `maxPoolForwardGeneral`, its reference in the tests.
    @inline(__always)
    static func maxPool2x2Forward(
        _ input: UnsafePointer<Self>, _ output: UnsafeMutablePointer<Self>,
        argmax: UnsafeMutablePointer<Int32>, _ g: WindowGeometry
    ) {
        let outputHeight = g.outputHeight
        let outputWidth = g.outputWidth
        let width = g.width
        let plane = g.height * width
        let outputPlane = outputHeight * outputWidth
        for planeIndex in 0..<(g.batch * g.channels) {
            let source = input + planeIndex * plane
            let target = output + planeIndex * outputPlane
            let winners = argmax + planeIndex * outputPlane
            for y in 0..<outputHeight {
                let top = source + 2 * y * width
                for x in 0..<outputWidth {
                    let offset = 2 * y * width + 2 * x
                    let window = (top[2 * x], top[2 * x + 1], top[width + 2 * x], top[width + 2 * x + 1])
                    if !(window.0 + window.1 + window.2 + window.3).isNaN {
                        // No NaN (the common case): first maximum in row-major order, as
                        // branch-free selects.
                        var best = window.0
                        var bestOffset = offset
                        if window.1 > best {
                            best = window.1
                            bestOffset = offset + 1
                        }
                        if window.2 > best {
                            best = window.2
                            bestOffset = offset + width
                        }
                        if window.3 > best {
                            best = window.3
                            bestOffset = offset + width + 1
                        }
                        target[y * outputWidth + x] = best
                        winners[y * outputWidth + x] = Int32(bestOffset)
                        continue
                    }
                    var best = top[2 * x]
                    var bestOffset = offset
                    let candidates = (top[2 * x + 1], top[width + 2 * x], top[width + 2 * x + 1])
                    if candidates.0 > best || candidates.0.isNaN && !best.isNaN {
                        best = candidates.0
                        bestOffset = offset + 1
                    }
                    if candidates.1 > best || candidates.1.isNaN && !best.isNaN {
                        best = candidates.1
                        bestOffset = offset + width
                    }
                    if candidates.2 > best || candidates.2.isNaN && !best.isNaN {
                        best = candidates.2
                        bestOffset = offset + width + 1
                    }
                    target[y * outputWidth + x] = best
                    winners[y * outputWidth + x] = Int32(bestOffset)
                }
            }
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
