import Testing

@testable import ConvNetKernels

/// Winograd F(4×4, 3×3) against the direct convolution (`naiveConvolution`, accumulated in
/// Double): the algebra exactly in Double, the float32 rounding within its stated bound, on odd
/// sizes and every padding it takes, with bias and fused ReLU, and the input-gradient form.
@Suite("Winograd F(4×4, 3×3) against the direct convolution")
struct WinogradTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var batch: Int
        var channels: Int
        var filters: Int
        var height: Int
        var width: Int
        var padding: Int
        var testDescription: String {
            "\(batch)×\(channels)×\(height)×\(width) → \(filters), padding \(padding)"
        }
        var geometry: WindowGeometry {
            WindowGeometry(
                batch: batch, channels: channels, height: height, width: width, kernelHeight: 3, kernelWidth: 3,
                strideHeight: 1, strideWidth: 1, paddingHeight: padding, paddingWidth: padding)
        }
    }

    static let cases: [Case] = [
        Case(batch: 1, channels: 1, filters: 1, height: 1, width: 1, padding: 1),
        Case(batch: 1, channels: 1, filters: 1, height: 3, width: 3, padding: 0),
        Case(batch: 2, channels: 3, filters: 5, height: 5, width: 7, padding: 1),
        Case(batch: 3, channels: 2, filters: 4, height: 13, width: 9, padding: 2),
        Case(batch: 1, channels: 17, filters: 6, height: 11, width: 6, padding: 0),
        Case(batch: 2, channels: 8, filters: 16, height: 28, width: 28, padding: 1),
        Case(batch: 1, channels: 5, filters: 3, height: 4, width: 19, padding: 1),
        // 45 tiles: a block of 32, then one of 16 with 13 used; 11 filters: a padded panel.
        Case(batch: 3, channels: 9, filters: 11, height: 10, width: 18, padding: 1),
        // So many channels that V fills the L2 budget: products in chunks of 8 filters.
        Case(batch: 1, channels: 1024, filters: 20, height: 6, width: 5, padding: 1),
    ]

    static func values<Scalar: KernelScalar>(_ count: Int, seed: UInt64, as: Scalar.Type = Scalar.self) -> [Scalar] {
        var generator = GemmTests.SplitMix64(state: seed)
        return (0..<count).map { _ in Scalar(Double.random(in: -1...1, using: &generator)) }
    }

    /// Runs `winogradConvolve` with exactly `scratchCount` elements of scratch followed by
    /// sentinels that must survive.
    static func winograd<Scalar: KernelScalar>(
        _ input: [Scalar], _ weight: [Scalar], bias: [Scalar]?, rectify: Bool, case c: Case, flipped: Bool = false,
        finiteInput: Bool = true
    ) -> [Scalar] {
        let g = c.geometry
        let filters = flipped ? c.channels : c.filters
        let channels = flipped ? c.filters : c.channels
        var transformed = [Scalar](
            repeating: .nan, count: Winograd.transformedFilterCount(filters: filters, channels: channels))
        weight.withUnsafeBufferPointer { w in
            transformed.withUnsafeMutableBufferPointer { u in
                Scalar.winogradTransformFilters(
                    w.baseAddress!, filters: c.filters, channels: c.channels, flipped: flipped, scale: nil,
                    into: u.baseAddress!)
            }
        }
        #expect(!transformed.contains { $0.isNaN }, "every transformed filter element is written")
        let geometry = flipped ? Winograd.inputGradientGeometry(g, filters: c.filters)! : g
        let scratchCount = Winograd.scratchCount(geometry, filters: filters)
        var scratch = [Scalar](repeating: 0, count: scratchCount + 64)
        for i in scratchCount..<scratch.count { scratch[i] = 12345 }
        var output = [Scalar](
            repeating: .nan, count: geometry.batch * filters * geometry.outputHeight * geometry.outputWidth)
        input.withUnsafeBufferPointer { x in
            transformed.withUnsafeBufferPointer { u in
                output.withUnsafeMutableBufferPointer { y in
                    scratch.withUnsafeMutableBufferPointer { s in
                        let b = bias?.withUnsafeBufferPointer { $0.baseAddress! }
                        Scalar.winogradConvolve(
                            x.baseAddress!, geometry, filters: filters, transformedFilters: u.baseAddress!,
                            bias: b, rectify: rectify, output: y.baseAddress!, scratch: s.baseAddress!)
                    }
                }
            }
        }
        #expect(scratch[scratchCount...].allSatisfy { $0 == 12345 }, "scratch stays within scratchCount")
        if finiteInput { #expect(!output.contains { $0.isNaN }, "every output element is written") }
        return output
    }

    static func direct<Scalar: KernelScalar>(
        _ input: [Scalar], _ weight: [Scalar], bias: [Scalar]?, case c: Case
    ) -> [Double] {
        let g = c.geometry
        let doubleInput = input.map(\.doubleValue)
        let doubleWeight = weight.map(\.doubleValue)
        let doubleBias = bias?.map(\.doubleValue)
        var output = [Double](repeating: 0, count: c.batch * c.filters * g.outputHeight * g.outputWidth)
        doubleInput.withUnsafeBufferPointer { x in
            doubleWeight.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    let b = doubleBias?.withUnsafeBufferPointer { $0.baseAddress! }
                    naiveConvolution(
                        input: x.baseAddress!, weight: w.baseAddress!, bias: b, output: y.baseAddress!,
                        filters: c.filters, geometry: g)
                }
            }
        }
        return output
    }

    @Test("Double: the same numbers as the direct sum (to 1e-12 of the output's scale)", arguments: cases)
    func doubleEqualsDirect(c: Case) {
        let input: [Double] = Self.values(c.batch * c.channels * c.height * c.width, seed: 1)
        let weight: [Double] = Self.values(c.filters * c.channels * 9, seed: 2)
        let bias: [Double] = Self.values(c.filters, seed: 3)
        let fast = Self.winograd(input, weight, bias: bias, rectify: false, case: c)
        let expected = Self.direct(input, weight, bias: bias, case: c)
        let scale = expected.map(abs).max() ?? 1
        let error = zip(fast, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(error <= 1e-12 * scale, "max |difference| \(error), scale \(scale)")
    }

    /// The float32 bound: 2e-5 of max |y| (measured: at most 7.4e-6 on these cases, with 1024
    /// channels; 6e-6 with 64).
    @Test(
        "Float: within 2e-5 of the output's scale",
        arguments: cases + [Case(batch: 1, channels: 64, filters: 8, height: 16, width: 16, padding: 1)])
    func floatWithinBound(c: Case) {
        let input: [Float] = Self.values(c.batch * c.channels * c.height * c.width, seed: 4)
        let weight: [Float] = Self.values(c.filters * c.channels * 9, seed: 5)
        let fast = Self.winograd(input, weight, bias: nil, rectify: false, case: c)
        let expected = Self.direct(input, weight, bias: nil, case: c)
        let scale = expected.map(abs).max() ?? 1
        let error = zip(fast, expected).map { abs(Double($0) - $1) }.max() ?? 0
        print("Winograd Float \(c.testDescription): max |difference| / max |y| = \(error / scale)")
        #expect(error <= 2e-5 * scale, "max |difference| \(error), scale \(scale)")
    }

    /// Float's fused ReLU (`rectified`, concrete code) is max(0, y) exactly and keeps a
    /// NaN: a NaN input pixel reaches the outputs over it, rectified or not.
    @Test func floatReLUIsMaxWithZeroAndKeepsNaN() {
        let c = Self.cases[5]
        var input: [Float] = Self.values(c.batch * c.channels * c.height * c.width, seed: 16)
        let weight: [Float] = Self.values(c.filters * c.channels * 9, seed: 17)
        let bias: [Float] = Self.values(c.filters, seed: 18)
        let plain = Self.winograd(input, weight, bias: bias, rectify: false, case: c)
        let rectified = Self.winograd(input, weight, bias: bias, rectify: true, case: c)
        #expect(plain.contains { $0 < 0 } && plain.contains { $0 > 0 })
        #expect(zip(plain, rectified).allSatisfy { max(0, $0) == $1 })
        input[5 * c.width + 7] = .nan  // image 0, channel 0, row 5, column 7
        let poisoned = Self.winograd(input, weight, bias: bias, rectify: true, case: c, finiteInput: false)
        let plane = c.geometry.outputPlane
        for k in 0..<c.filters {
            #expect(poisoned[k * plane + 5 * c.width + 7].isNaN, "filter \(k): the NaN is kept")
        }
        #expect(poisoned[(plane * c.filters)...].allSatisfy { !$0.isNaN }, "image 1 is untouched")
    }

    @Test func biasAndReLUAreApplied() {
        let c = Self.cases[2]
        let input: [Double] = Self.values(c.batch * c.channels * c.height * c.width, seed: 6)
        let weight: [Double] = Self.values(c.filters * c.channels * 9, seed: 7)
        let bias: [Double] = Self.values(c.filters, seed: 8)
        let fast = Self.winograd(input, weight, bias: bias, rectify: true, case: c)
        let expected = Self.direct(input, weight, bias: bias, case: c).map { max(0, $0) }
        #expect(zip(fast, expected).allSatisfy { abs($0 - $1) <= 1e-12 })
        #expect(fast.contains(0) && fast.contains { $0 > 0 })
    }

    /// dX = Σ_k Σ_ij dY[k][y + p − i][x + p − j] · W[k][c][i][j], by loops here, against the
    /// Winograd convolution of dY with the flipped, transposed filters (padding 2 − p).
    @Test("input gradient as a Winograd convolution of dY", arguments: cases)
    func inputGradient(c: Case) {
        let g = c.geometry
        let outputGradient: [Double] = Self.values(c.batch * c.filters * g.outputHeight * g.outputWidth, seed: 9)
        let weight: [Double] = Self.values(c.filters * c.channels * 9, seed: 10)
        let fast = Self.winograd(outputGradient, weight, bias: nil, rectify: false, case: c, flipped: true)
        var expected = [Double](repeating: 0, count: c.batch * c.channels * c.height * c.width)
        for n in 0..<c.batch {
            for k in 0..<c.filters {
                for oy in 0..<g.outputHeight {
                    for ox in 0..<g.outputWidth {
                        let dy = outputGradient[((n * c.filters + k) * g.outputHeight + oy) * g.outputWidth + ox]
                        for channel in 0..<c.channels {
                            for i in 0..<3 {
                                for j in 0..<3 {
                                    let y = oy - c.padding + i
                                    let x = ox - c.padding + j
                                    guard y >= 0, y < c.height, x >= 0, x < c.width else { continue }
                                    expected[((n * c.channels + channel) * c.height + y) * c.width + x] +=
                                        dy * weight[((k * c.channels + channel) * 3 + i) * 3 + j]
                                }
                            }
                        }
                    }
                }
            }
        }
        let scale = expected.map(abs).max() ?? 1
        let error = zip(fast, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(fast.count == expected.count)
        #expect(error <= 1e-12 * scale, "max |difference| \(error), scale \(scale)")
    }

    /// The filter chunk keeps a block's V and M within 3/4 of L2, in whole panels, at least one.
    @Test func filterChunkFitsTheCache() {
        let level2 = CPUInfo.current.level2CacheBytes > 0 ? CPUInfo.current.level2CacheBytes : 1 << 20
        for (channels, filters) in [(32, 32), (64, 64), (128, 128), (256, 512), (1024, 20), (3, 5)] {
            let chunk = Winograd.filterChunk(channels: channels, filters: filters)
            #expect(chunk % 8 == 0 && chunk >= 8 && chunk <= Winograd.paddedFilters(filters))
            if chunk > 8 { #expect(36 * (channels + chunk) * Winograd.tileBlock * 4 <= level2 * 3 / 4) }
            if chunk < Winograd.paddedFilters(filters) {
                #expect(36 * (channels + chunk + 8) * Winograd.tileBlock * 4 > level2 * 3 / 4)
            }
        }
        if level2 <= 4 << 20 { #expect(Winograd.filterChunk(channels: 1024, filters: 20) == 8) }
    }

    @Test func appliesOnlyToThreeByThreeStrideOne() {
        let base = Self.cases[2].geometry
        #expect(Winograd.applies(to: base, groups: 1))
        #expect(!Winograd.applies(to: base, groups: 3))
        var strided = base
        strided.strideHeight = 2
        #expect(!Winograd.applies(to: strided, groups: 1))
        var dilated = base
        dilated.dilationWidth = 2
        #expect(!Winograd.applies(to: dilated, groups: 1))
        var five = base
        five.kernelHeight = 5
        five.kernelWidth = 5
        #expect(!Winograd.applies(to: five, groups: 1))
        var wide = base
        wide.paddingHeight = 3
        wide.paddingWidth = 3
        #expect(Winograd.inputGradientGeometry(wide, filters: 4) == nil)
    }
}
