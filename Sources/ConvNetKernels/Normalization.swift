/// Batch normalisation over x viewed as [outer, C, inner]: [N, C, H, W] has outer = N,
/// inner = H·W (BatchNorm2d); [N, C] has inner = 1 (BatchNorm1d). Statistics are per channel
/// c over its M = outer·inner values, accumulated in Double. Channels are split between cores.
///
/// Requirements of `KernelScalar`, with default implementations below; `naiveBatchNorm…`
/// (below too) is the reference they are tested against.
public protocol NormalizationKernels: BinaryFloatingPoint {
    /// mean[c] = Σ x / M and variance[c] = Σ (x − mean)² / M (biased, two passes).
    static func batchNormStatistics(
        _ x: UnsafePointer<Self>, mean: UnsafeMutablePointer<Double>, variance: UnsafeMutablePointer<Double>,
        outer: Int, channels: Int, inner: Int)
    /// y = x·scale[c] + shift[c], then max(y, 0) with `rectify` (a fused ReLU).
    static func channelAffine(
        _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, scale: UnsafePointer<Self>,
        shift: UnsafePointer<Self>, outer: Int, channels: Int, inner: Int, rectify: Bool)
    /// Backward of y = γ·x̂ + β with x̂ = (x − mean[c])·inverseDeviation[c]: dγ[c] = Σ dy·x̂,
    /// dβ[c] = Σ dy (both overwritten). With `dx`: when `batchStatistics` (training: mean and
    /// deviation came from this batch) dx = γ·inverseDeviation·(dy − dβ/M − x̂·dγ/M); otherwise
    /// (running statistics, constants) dx = γ·inverseDeviation·dy. With `rectifiedOutput`
    /// (a fused ReLU), dy is first zeroed where that output is not > 0.
    static func batchNormBackward(
        _ x: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>?,
        rectifiedOutput: UnsafePointer<Self>?, mean: UnsafePointer<Double>, inverseDeviation: UnsafePointer<Double>,
        gamma: UnsafePointer<Self>, gammaGradient: UnsafeMutablePointer<Self>, betaGradient: UnsafeMutablePointer<Self>,
        outer: Int, channels: Int, inner: Int, batchStatistics: Bool)
}

extension KernelScalar {
    /// Runs `body` over the channels 0..<channels, split between cores when the tensor (`count`
    /// elements) is large.
    @inline(__always)
    static func overChannels<Body: ParallelRangeWork>(count: Int, channels: Int, _ body: Body) {
        let parts = count >= 1 << 15 ? min(ThreadPool.coreCount, channels) : 1
        ThreadPool.run(parts: parts, ChannelSplit(body: body, channels: channels, parts: parts))
    }

    public static func batchNormStatistics(
        _ x: UnsafePointer<Self>, mean: UnsafeMutablePointer<Double>, variance: UnsafeMutablePointer<Double>,
        outer: Int, channels: Int, inner: Int
    ) {
        let count = Double(outer * inner)
        overChannels(
            count: outer * channels * inner, channels: channels,
            BatchNormStatistics(
                x: x, mean: mean, variance: variance, outer: outer, channels: channels, inner: inner, count: count))
    }
}

/// `overChannels`'s parts: part p runs `body` over its range of channels.
private struct ChannelSplit<Body: ParallelRangeWork>: ParallelWork {
    let body: Body
    /// The number of channels and of parts.
    let channels: Int
    let parts: Int

    func run(part: Int) {
        body.run((part * channels / parts)..<((part + 1) * channels / parts))
    }
}

/// `batchNormStatistics` over a range of channels (the fields are its arguments; count = M).
private struct BatchNormStatistics<Scalar: KernelScalar>: ParallelRangeWork {
    let x: UnsafePointer<Scalar>
    let mean: UnsafeMutablePointer<Double>
    let variance: UnsafeMutablePointer<Double>
    let outer: Int
    let channels: Int
    let inner: Int
    let count: Double

    func run(_ range: Range<Int>) {
        for c in range {
            var sum = 0.0
            for n in 0..<outer {
                let row = x + (n * channels + c) * inner
                for i in 0..<inner { sum += row[i].doubleValue }
            }
            let average = sum / count
            var squares = 0.0
            for n in 0..<outer {
                let row = x + (n * channels + c) * inner
                for i in 0..<inner {
                    let d = row[i].doubleValue - average
                    squares += d * d
                }
            }
            mean[c] = average
            variance[c] = squares / count
        }
    }
}

extension KernelScalar {
    public static func channelAffine(
        _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, scale: UnsafePointer<Self>,
        shift: UnsafePointer<Self>, outer: Int, channels: Int, inner: Int, rectify: Bool
    ) {
        overChannels(
            count: outer * channels * inner, channels: channels,
            ChannelAffine(
                x: x, y: y, scale: scale, shift: shift, outer: outer, channels: channels, inner: inner, rectify: rectify
            ))
    }
}

/// `channelAffine` over a range of channels (the fields are its arguments).
private struct ChannelAffine<Scalar: KernelScalar>: ParallelRangeWork {
    let x: UnsafePointer<Scalar>
    let y: UnsafeMutablePointer<Scalar>
    let scale: UnsafePointer<Scalar>
    let shift: UnsafePointer<Scalar>
    let outer: Int
    let channels: Int
    let inner: Int
    let rectify: Bool

    func run(_ range: Range<Int>) {
        for c in range {
            let a = scale[c]
            let b = shift[c]
            for n in 0..<outer {
                let offset = (n * channels + c) * inner
                let source = x + offset
                let target = y + offset
                if rectify {
                    for i in 0..<inner {
                        let value = source[i] * a + b
                        target[i] = value > 0 ? value : 0
                    }
                } else {
                    for i in 0..<inner { target[i] = source[i] * a + b }
                }
            }
        }
    }
}

extension KernelScalar {
    public static func batchNormBackward(
        _ x: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>?,
        rectifiedOutput: UnsafePointer<Self>?, mean: UnsafePointer<Double>, inverseDeviation: UnsafePointer<Double>,
        gamma: UnsafePointer<Self>, gammaGradient: UnsafeMutablePointer<Self>, betaGradient: UnsafeMutablePointer<Self>,
        outer: Int, channels: Int, inner: Int, batchStatistics: Bool
    ) {
        let count = Double(outer * inner)
        overChannels(
            count: outer * channels * inner, channels: channels,
            BatchNormBackward(
                x: x, dy: dy, dx: dx, rectifiedOutput: rectifiedOutput, mean: mean, inverseDeviation: inverseDeviation,
                gamma: gamma, gammaGradient: gammaGradient, betaGradient: betaGradient, outer: outer,
                channels: channels, inner: inner, batchStatistics: batchStatistics, count: count))
    }
}

/// `batchNormBackward` over a range of channels (the fields are its arguments; count = M).
private struct BatchNormBackward<Scalar: KernelScalar>: ParallelRangeWork {
    let x: UnsafePointer<Scalar>
    let dy: UnsafePointer<Scalar>
    let dx: UnsafeMutablePointer<Scalar>?
    let rectifiedOutput: UnsafePointer<Scalar>?
    let mean: UnsafePointer<Double>
    let inverseDeviation: UnsafePointer<Double>
    let gamma: UnsafePointer<Scalar>
    let gammaGradient: UnsafeMutablePointer<Scalar>
    let betaGradient: UnsafeMutablePointer<Scalar>
    let outer: Int
    let channels: Int
    let inner: Int
    let batchStatistics: Bool
    let count: Double

    func run(_ range: Range<Int>) {
        for c in range {
            let average = mean[c]
            let deviation = inverseDeviation[c]
            var sumGradient = 0.0
            var sumProduct = 0.0
            for n in 0..<outer {
                let offset = (n * channels + c) * inner
                let source = x + offset
                let gradient = dy + offset
                if let rectifiedOutput {
                    let output = rectifiedOutput + offset
                    for i in 0..<inner where output[i] > 0 {
                        let g = gradient[i].doubleValue
                        sumGradient += g
                        sumProduct += g * (source[i].doubleValue - average)
                    }
                } else {
                    for i in 0..<inner {
                        let g = gradient[i].doubleValue
                        sumGradient += g
                        sumProduct += g * (source[i].doubleValue - average)
                    }
                }
            }
            sumProduct *= deviation  // Σ dy·x̂
            gammaGradient[c] = Scalar(sumProduct)
            betaGradient[c] = Scalar(sumGradient)
            guard let dx else { continue }
            let factor = gamma[c].doubleValue * deviation
            // dx = factor·(dy − dβ/M − x̂·dγ/M) = a·dy + b·(x − mean) + d.
            let a = Scalar(factor)
            let b = batchStatistics ? Scalar(-factor * sumProduct * deviation / count) : 0
            let d = batchStatistics ? Scalar(-factor * sumGradient / count) : 0
            let center = Scalar(average)
            for n in 0..<outer {
                let offset = (n * channels + c) * inner
                let source = x + offset
                let gradient = dy + offset
                let target = dx + offset
                if let rectifiedOutput {
                    let output = rectifiedOutput + offset
                    for i in 0..<inner {
                        let g: Scalar = output[i] > 0 ? gradient[i] : 0
                        target[i] = a * g + b * (source[i] - center) + d
                    }
                } else {
                    for i in 0..<inner { target[i] = a * gradient[i] + b * (source[i] - center) + d }
                }
            }
        }
    }
}

/// The reference batch normalisation in training mode, straight from the formulas in Double,
/// one element at a time: x̂ = (x − μ) / √(σ² + ε) with the batch's mean μ and biased variance
/// σ², y = γ·x̂ + β. Returns y, and for an upstream dy the gradients (dx, dγ, dβ) by the
/// textbook expressions. x is [outer, C, inner].
public func naiveBatchNormTraining(
    x: [Double], dy: [Double], gamma: [Double], beta: [Double], epsilon: Double,
    outer: Int, channels: Int, inner: Int
) -> (y: [Double], dx: [Double], dgamma: [Double], dbeta: [Double]) {
    let count = Double(outer * inner)
    var y = [Double](repeating: 0, count: x.count)
    var dx = y
    var dgamma = [Double](repeating: 0, count: channels)
    var dbeta = dgamma
    func index(_ n: Int, _ c: Int, _ i: Int) -> Int { (n * channels + c) * inner + i }
    for c in 0..<channels {
        var mean = 0.0
        for n in 0..<outer { for i in 0..<inner { mean += x[index(n, c, i)] } }
        mean /= count
        var variance = 0.0
        for n in 0..<outer {
            for i in 0..<inner { variance += (x[index(n, c, i)] - mean) * (x[index(n, c, i)] - mean) }
        }
        variance /= count
        let deviation = (variance + epsilon).squareRoot()
        var sumDy = 0.0
        var sumDyXhat = 0.0
        for n in 0..<outer {
            for i in 0..<inner {
                let k = index(n, c, i)
                let xhat = (x[k] - mean) / deviation
                y[k] = gamma[c] * xhat + beta[c]
                sumDy += dy[k]
                sumDyXhat += dy[k] * xhat
            }
        }
        dgamma[c] = sumDyXhat
        dbeta[c] = sumDy
        for n in 0..<outer {
            for i in 0..<inner {
                let k = index(n, c, i)
                let xhat = (x[k] - mean) / deviation
                dx[k] = gamma[c] / deviation * (dy[k] - sumDy / count - xhat * sumDyXhat / count)
            }
        }
    }
    return (y, dx, dgamma, dbeta)
}

extension Float {
    /// Σ x and Σ (x − center)², or with `second` Σ g and Σ g·(x − center) where g = `second`
    /// masked by `mask` > 0: over `count` contiguous values, sixteen at a time into Double
    /// lanes (the reductions of BatchNorm's statistics and backward; a scalar Double sum would
    /// be one dependent add per element).
    @inline(__always)
    static func channelSums(
        _ x: UnsafePointer<Float>, _ second: UnsafePointer<Float>?, mask: UnsafePointer<Float>?, count: Int,
        center: Double
    ) -> (Double, Double) {
        let raw = UnsafeRawPointer(x)
        let c = SIMD8<Double>(repeating: center)
        var a0 = SIMD8<Double>()
        var a1 = SIMD8<Double>()
        var b0 = SIMD8<Double>()
        var b1 = SIMD8<Double>()
        var i = 0
        while i + 16 <= count {
            let xs = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
            let x0 = SIMD8<Double>(xs.lowHalf) - c
            let x1 = SIMD8<Double>(xs.highHalf) - c
            if let second {
                var gs = UnsafeRawPointer(second).loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                if let mask {
                    let ms = UnsafeRawPointer(mask).loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                    gs.replace(with: 0, where: .!(ms .> 0))
                }
                let g0 = SIMD8<Double>(gs.lowHalf)
                let g1 = SIMD8<Double>(gs.highHalf)
                a0 += g0
                a1 += g1
                b0 += g0 * x0
                b1 += g1 * x1
            } else {
                a0 += x0
                a1 += x1
                b0 += x0 * x0
                b1 += x1 * x1
            }
            i += 16
        }
        var first = (a0 + a1).sum()
        var product = (b0 + b1).sum()
        while i < count {
            let d = Double(x[i]) - center
            if let second {
                let g = mask.map { $0[i] > 0 ? Double(second[i]) : 0 } ?? Double(second[i])
                first += g
                product += g * d
            } else {
                first += d
                product += d * d
            }
            i += 1
        }
        return (first, product)
    }

    /// `batchNormStatistics` with vectorised reductions (Float's fast path; the generic default
    /// above is its twin). The mean is accumulated around the channel's first value, so that
    /// the sum stays small whatever the data's offset.
    public static func batchNormStatistics(
        _ x: UnsafePointer<Float>, mean: UnsafeMutablePointer<Double>, variance: UnsafeMutablePointer<Double>,
        outer: Int, channels: Int, inner: Int
    ) {
        let count = Double(outer * inner)
        overChannels(
            count: outer * channels * inner, channels: channels,
            FloatBatchNormStatistics(
                x: x, mean: mean, variance: variance, outer: outer, channels: channels, inner: inner, count: count))
    }
}

/// `Float.batchNormStatistics` over a range of channels (the fields are its arguments; count = M).
private struct FloatBatchNormStatistics: ParallelRangeWork {
    let x: UnsafePointer<Float>
    let mean: UnsafeMutablePointer<Double>
    let variance: UnsafeMutablePointer<Double>
    let outer: Int
    let channels: Int
    let inner: Int
    let count: Double

    func run(_ range: Range<Int>) {
        for c in range {
            let pivot = Double(x[c * inner])
            var sum = 0.0
            for n in 0..<outer {
                sum += Float.channelSums(x + (n * channels + c) * inner, nil, mask: nil, count: inner, center: pivot).0
            }
            let average = pivot + sum / count
            var squares = 0.0
            for n in 0..<outer {
                squares +=
                    Float.channelSums(x + (n * channels + c) * inner, nil, mask: nil, count: inner, center: average).1
            }
            mean[c] = average
            variance[c] = squares / count
        }
    }
}

extension Float {
    /// `batchNormBackward` with vectorised reductions (Float's fast path; the generic default
    /// above is its twin).
    public static func batchNormBackward(
        _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>?,
        rectifiedOutput: UnsafePointer<Float>?, mean: UnsafePointer<Double>, inverseDeviation: UnsafePointer<Double>,
        gamma: UnsafePointer<Float>, gammaGradient: UnsafeMutablePointer<Float>,
        betaGradient: UnsafeMutablePointer<Float>,
        outer: Int, channels: Int, inner: Int, batchStatistics: Bool
    ) {
        let count = Double(outer * inner)
        overChannels(
            count: outer * channels * inner, channels: channels,
            FloatBatchNormBackward(
                x: x, dy: dy, dx: dx, rectifiedOutput: rectifiedOutput, mean: mean, inverseDeviation: inverseDeviation,
                gamma: gamma, gammaGradient: gammaGradient, betaGradient: betaGradient, outer: outer,
                channels: channels, inner: inner, batchStatistics: batchStatistics, count: count))
    }
}

/// `Float.batchNormBackward` over a range of channels (the fields are its arguments; count = M).
private struct FloatBatchNormBackward: ParallelRangeWork {
    let x: UnsafePointer<Float>
    let dy: UnsafePointer<Float>
    let dx: UnsafeMutablePointer<Float>?
    let rectifiedOutput: UnsafePointer<Float>?
    let mean: UnsafePointer<Double>
    let inverseDeviation: UnsafePointer<Double>
    let gamma: UnsafePointer<Float>
    let gammaGradient: UnsafeMutablePointer<Float>
    let betaGradient: UnsafeMutablePointer<Float>
    let outer: Int
    let channels: Int
    let inner: Int
    let batchStatistics: Bool
    let count: Double

    func run(_ range: Range<Int>) {
        for c in range {
            let average = mean[c]
            let deviation = inverseDeviation[c]
            var sumGradient = 0.0
            var sumProduct = 0.0
            for n in 0..<outer {
                let offset = (n * channels + c) * inner
                let (g, p) = Float.channelSums(
                    x + offset, dy + offset, mask: rectifiedOutput.map { $0 + offset }, count: inner, center: average)
                sumGradient += g
                sumProduct += p
            }
            sumProduct *= deviation
            gammaGradient[c] = Float(sumProduct)
            betaGradient[c] = Float(sumGradient)
            guard let dx else { continue }
            let factor = gamma[c].doubleValue * deviation
            let a = Float(factor)
            let b = batchStatistics ? Float(-factor * sumProduct * deviation / count) : 0
            let d = batchStatistics ? Float(-factor * sumGradient / count) : 0
            let center = Float(average)
            for n in 0..<outer {
                let offset = (n * channels + c) * inner
                let source = x + offset
                let gradient = dy + offset
                let target = dx + offset
                if let rectifiedOutput {
                    let output = rectifiedOutput + offset
                    for i in 0..<inner {
                        let g: Float = output[i] > 0 ? gradient[i] : 0
                        target[i] = a * g + b * (source[i] - center) + d
                    }
                } else {
                    for i in 0..<inner { target[i] = a * gradient[i] + b * (source[i] - center) + d }
                }
            }
        }
    }
}
