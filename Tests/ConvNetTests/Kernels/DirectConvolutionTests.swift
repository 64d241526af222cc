import Testing

@testable import ConvNetKernels

/// The direct forward convolution of few-channel stride-1 layers (`directConvolve`) against the
/// reference loops (`naiveConvolution`): to 1e-12 in Double, within the summation bound in
/// Float, with and without bias and ReLU, on kernel sizes 1–7 (square and not), filter counts
/// that do and do not fill a register tile, rows shorter and longer than a tile, and paddings up
/// to the kernel's.
@Suite("Direct forward convolution against the reference loops")
struct DirectConvolutionTests {
    /// A convolution's shape: the direct weight gradient's cases use the same one.
    typealias Case = DirectWeightGradientTests.Case

    static let cases: [Case] = [
        Case(batch: 1, channels: 1, filters: 1, height: 1, width: 1, kernelHeight: 3, kernelWidth: 3, padding: 1),
        Case(batch: 2, channels: 1, filters: 32, height: 28, width: 28, kernelHeight: 3, kernelWidth: 3, padding: 1),
        Case(batch: 2, channels: 3, filters: 32, height: 32, width: 32, kernelHeight: 7, kernelWidth: 7, padding: 3),
        Case(batch: 3, channels: 3, filters: 5, height: 5, width: 7, kernelHeight: 3, kernelWidth: 3, padding: 0),
        Case(batch: 1, channels: 2, filters: 9, height: 13, width: 17, kernelHeight: 5, kernelWidth: 5, padding: 2),
        Case(batch: 2, channels: 4, filters: 17, height: 9, width: 33, kernelHeight: 3, kernelWidth: 3, padding: 1),
        Case(batch: 1, channels: 1, filters: 6, height: 28, width: 28, kernelHeight: 5, kernelWidth: 5, padding: 0),
        Case(batch: 2, channels: 2, filters: 4, height: 6, width: 11, kernelHeight: 1, kernelWidth: 1, padding: 0),
        Case(batch: 1, channels: 3, filters: 2, height: 7, width: 8, kernelHeight: 2, kernelWidth: 4, padding: 1),
        Case(batch: 2, channels: 5, filters: 8, height: 10, width: 5, kernelHeight: 4, kernelWidth: 2, padding: 0),
        Case(batch: 1, channels: 2, filters: 3, height: 12, width: 10, kernelHeight: 7, kernelWidth: 7, padding: 3),
        // By rows (`DirectPlaneLayout`): rows of 30 in two vectors, and rows of one vector whose
        // 14 vectors end inside the last tile.
        Case(batch: 2, channels: 3, filters: 11, height: 5, width: 30, kernelHeight: 7, kernelWidth: 7, padding: 3),
        Case(batch: 1, channels: 2, filters: 8, height: 14, width: 16, kernelHeight: 3, kernelWidth: 3, padding: 1),
        // Stored in place (rows of 32 are the output's rows), with the bias and the ReLU, a
        // partial filter block and a tile past the run's 32 vectors.
        Case(batch: 2, channels: 3, filters: 12, height: 16, width: 32, kernelHeight: 5, kernelWidth: 5, padding: 2),
    ]

    /// (with bias, rectify) for each case: all four combinations over the cases.
    static let arguments: [(Case, Bool, Bool)] = cases.enumerated().map { index, c in
        (c, index % 2 == 0, index / 2 % 2 == 0)
    }

    /// The kernel's output, with exactly `scratchCount` elements of scratch (filled with NaN,
    /// which must not leak into the result) followed by sentinels that must survive, and an
    /// output buffer filled with NaN (every element must be written).
    static func direct<Scalar: KernelScalar>(
        _ input: [Scalar], weight: [Scalar], bias: [Scalar]?, rectify: Bool, pool: Bool = false, case c: Case,
        family: KernelFamily = .current
    ) -> [Scalar] {
        let g = c.geometry
        // Wᵀ [patch, F], as Conv2D hands it over.
        var transposed = [Scalar](repeating: 0, count: c.patch * c.filters)
        for f in 0..<c.filters {
            for r in 0..<c.patch { transposed[r * c.filters + f] = weight[f * c.patch + r] }
        }
        var packed = [Scalar](
            repeating: .nan, count: DirectConvolution.packedWeightCount(filters: c.filters, patch: c.patch))
        transposed.withUnsafeBufferPointer { t in
            packed.withUnsafeMutableBufferPointer { p in
                Scalar.directConvolutionPackWeights(
                    t.baseAddress!, filters: c.filters, patch: c.patch, into: p.baseAddress!)
            }
        }
        let scratchCount = DirectConvolution.scratchCount(g, filters: c.filters)
        var scratch = [Scalar](repeating: .nan, count: scratchCount + 64)
        for i in scratchCount..<scratch.count { scratch[i] = 12345 }
        let plane = pool ? g.outputHeight / 2 * (g.outputWidth / 2) : g.outputPlane
        var output = [Scalar](repeating: .nan, count: c.batch * c.filters * plane)
        let biasValues = bias ?? []
        input.withUnsafeBufferPointer { x in
            packed.withUnsafeBufferPointer { p in
                biasValues.withUnsafeBufferPointer { b in
                    output.withUnsafeMutableBufferPointer { y in
                        scratch.withUnsafeMutableBufferPointer { s in
                            Scalar.directConvolve(
                                x.baseAddress!, g, filters: c.filters, packedWeights: p.baseAddress!,
                                bias: bias == nil ? nil : b.baseAddress, rectify: rectify, pool: pool,
                                output: y.baseAddress!,
                                scratch: s.baseAddress!, family: family)
                        }
                    }
                }
            }
        }
        #expect(scratch[scratchCount...].allSatisfy { $0 == 12345 }, "scratch stays within scratchCount")
        return output
    }

    static func reference<Scalar: KernelScalar>(_ input: [Scalar], weight: [Scalar], bias: [Scalar]?, case c: Case)
        -> [Scalar]
    {
        var output = [Scalar](repeating: .nan, count: c.batch * c.filters * c.geometry.outputPlane)
        let biasValues = bias ?? []
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                biasValues.withUnsafeBufferPointer { b in
                    output.withUnsafeMutableBufferPointer { y in
                        naiveConvolution(
                            input: x.baseAddress!, weight: w.baseAddress!, bias: bias == nil ? nil : b.baseAddress,
                            output: y.baseAddress!, filters: c.filters, geometry: c.geometry)
                    }
                }
            }
        }
        return output
    }

    static func operands<Scalar: KernelScalar>(_ c: Case, as: Scalar.Type) -> (
        input: [Scalar], weight: [Scalar], bias: [Scalar]
    ) {
        (
            DirectWeightGradientTests.values(c.geometry.inputCount, seed: 21, as: Scalar.self),
            DirectWeightGradientTests.values(c.filters * c.patch, seed: 22, as: Scalar.self),
            DirectWeightGradientTests.values(c.filters, seed: 23, as: Scalar.self)
        )
    }

    /// Pooled (the 2×2 max pool a convolution takes over in inference): the pool of the
    /// reference's biased, rectified output, every element written.
    @Test(
        "Double, pooled: the 2×2 max pool of the rectified output",
        arguments: cases.filter { $0.geometry.outputHeight >= 2 && $0.geometry.outputWidth >= 2 })
    func pooled(_ c: Case) {
        let (x, w, b) = Self.operands(c, as: Double.self)
        let full = Self.reference(x, weight: w, bias: b, case: c).map { max($0, 0) }
        let g = c.geometry
        var expected: [Double] = []
        for plane in 0..<(c.batch * c.filters) {
            for y in 0..<(g.outputHeight / 2) {
                for column in 0..<(g.outputWidth / 2) {
                    let corner = plane * g.outputPlane + 2 * y * g.outputWidth + 2 * column
                    expected.append(
                        max(
                            full[corner], full[corner + 1], full[corner + g.outputWidth],
                            full[corner + g.outputWidth + 1]))
                }
            }
        }
        let result = Self.direct(x, weight: w, bias: b, rectify: true, pool: true, case: c)
        #expect(result.count == expected.count)
        for index in expected.indices {
            #expect(abs(result[index] - expected[index]) <= 1e-12, "y[\(index)]")
        }
    }

    /// Float, pooled: every kernel family (the AVX-512 tiles with the scalar pool, the 256-bit
    /// pooled tiles of `DirectConvolutionPooled.swift`; both run on any CPU) gives the same bits,
    /// equal to the 2×2 pool (first maximum in row-major order) of the unpooled Float forward's
    /// biased, rectified output. One input is a NaN and one +∞, so that some windows hold a
    /// NaN (it wins) and some an infinity (or a NaN, where ∞ meets −∞).
    @Test(
        "Float, pooled: every family the same bits, the pool of the unpooled output",
        arguments: cases.filter { $0.geometry.outputHeight >= 2 && $0.geometry.outputWidth >= 2 })
    func floatPooled(_ c: Case) {
        var (x, w, b) = Self.operands(c, as: Float.self)
        x[x.count / 3] = .nan
        x[2 * x.count / 3] = .infinity
        let results = KernelFamily.allCases.map {
            Self.direct(x, weight: w, bias: b, rectify: true, pool: true, case: c, family: $0)
        }
        #expect(results.allSatisfy { $0.map(\.bitPattern) == results[0].map(\.bitPattern) }, "families differ")
        let full = Self.direct(x, weight: w, bias: b, rectify: true, case: c)
        let g = c.geometry
        var index = 0
        for plane in 0..<(c.batch * c.filters) {
            for y in 0..<(g.outputHeight / 2) {
                for column in 0..<(g.outputWidth / 2) {
                    let corner = plane * g.outputPlane + 2 * y * g.outputWidth + 2 * column
                    var best = full[corner]
                    for value in [full[corner + 1], full[corner + g.outputWidth], full[corner + g.outputWidth + 1]]
                    where value > best || value.isNaN && !best.isNaN {
                        best = value
                    }
                    let result = results[0][index]
                    #expect(result == best || result.isNaN && best.isNaN, "z[\(index)]: \(result) vs \(best)")
                    index += 1
                }
            }
        }
        #expect(results[0].contains { $0.isNaN }, "the NaN reaches the output")
    }

    @Test("Double: equal to the reference loops to 1e-12", arguments: arguments)
    func double(_ c: Case, withBias: Bool, rectify: Bool) {
        let (x, w, b) = Self.operands(c, as: Double.self)
        let bias = withBias ? b : nil
        var expected = Self.reference(x, weight: w, bias: bias, case: c)
        if rectify { expected = expected.map { max($0, 0) } }
        let result = Self.direct(x, weight: w, bias: bias, rectify: rectify, case: c)
        #expect(result.count == expected.count)
        for index in expected.indices {
            #expect(
                abs(result[index] - expected[index]) <= 1e-12, "y[\(index)]: \(result[index]) vs \(expected[index])")
        }
    }

    /// The recursive-summation bound: each output is a sum of C·kh·kw products and the bias
    /// computed one after another in float32, so it is within n·u·(Σ|w·x| + |b|) of the exact
    /// sum (n = C·kh·kw + 1, u = 2⁻²⁴); the ReLU does not widen it. Every kernel family (the
    /// AVX-512 tile and the 256-bit passes, both run on any CPU) gives the same bits.
    @Test("Float: within the summation bound of the Double reference, every kernel family", arguments: arguments)
    func float(_ c: Case, withBias: Bool, rectify: Bool) {
        let (x, w, b) = Self.operands(c, as: Float.self)
        let bias = withBias ? b : nil
        let results = KernelFamily.allCases.map {
            Self.direct(x, weight: w, bias: bias, rectify: rectify, case: c, family: $0)
        }
        #expect(results.allSatisfy { $0.map(\.bitPattern) == results[0].map(\.bitPattern) }, "families differ")
        let result = results[0]
        var exact = Self.reference(
            x.map(Double.init), weight: w.map(Double.init), bias: bias?.map(Double.init), case: c)
        if rectify { exact = exact.map { max($0, 0) } }
        let magnitude = Self.reference(
            x.map { abs(Double($0)) }, weight: w.map { abs(Double($0)) }, bias: bias?.map { abs(Double($0)) }, case: c)
        let terms = Double(c.patch + 1)
        for index in exact.indices {
            let bound = terms * Double(Float.ulpOfOne) / 2 * magnitude[index] + 1e-30
            #expect(abs(Double(result[index]) - exact[index]) <= bound, "y[\(index)]")
        }
    }
}

extension DirectWeightGradientTests.Case {
    /// C·kh·kw: the weights per filter.
    var patch: Int { channels * kernelHeight * kernelWidth }
}
