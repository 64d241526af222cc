import Testing

@testable import ConvNetKernels

/// The direct weight gradient of stride-1 convolutions (`convolutionWeightGradient`) against the
/// reference loops (`naiveConvolutionWeightGradient`, accumulated in Double): exact in Double,
/// within the summation bound in Float, on kernel sizes that do and do not fill a tap block,
/// filter counts that do and do not fill a register tile, rows shorter and longer than a vector,
/// and every padding up to the kernel's.
@Suite("Direct weight gradient against the reference loops")
struct DirectWeightGradientTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var batch: Int
        var channels: Int
        var filters: Int
        var height: Int
        var width: Int
        var kernelHeight: Int
        var kernelWidth: Int
        var padding: Int
        var testDescription: String {
            "\(batch)×\(channels)×\(height)×\(width) → \(filters), kernel \(kernelHeight)×\(kernelWidth), "
                + "padding \(padding)"
        }
        var geometry: WindowGeometry {
            WindowGeometry(
                batch: batch, channels: channels, height: height, width: width, kernelHeight: kernelHeight,
                kernelWidth: kernelWidth, strideHeight: 1, strideWidth: 1, paddingHeight: padding,
                paddingWidth: padding)
        }
    }

    static let cases: [Case] = [
        Case(batch: 1, channels: 1, filters: 1, height: 1, width: 1, kernelHeight: 3, kernelWidth: 3, padding: 1),
        Case(batch: 1, channels: 1, filters: 1, height: 3, width: 3, kernelHeight: 3, kernelWidth: 3, padding: 0),
        Case(batch: 2, channels: 3, filters: 5, height: 5, width: 7, kernelHeight: 3, kernelWidth: 3, padding: 1),
        Case(batch: 3, channels: 2, filters: 9, height: 13, width: 17, kernelHeight: 3, kernelWidth: 3, padding: 2),
        Case(batch: 2, channels: 4, filters: 16, height: 28, width: 28, kernelHeight: 3, kernelWidth: 3, padding: 1),
        Case(batch: 1, channels: 5, filters: 8, height: 14, width: 16, kernelHeight: 3, kernelWidth: 3, padding: 1),
        Case(batch: 2, channels: 3, filters: 17, height: 9, width: 33, kernelHeight: 5, kernelWidth: 5, padding: 2),
        Case(batch: 1, channels: 2, filters: 3, height: 12, width: 10, kernelHeight: 7, kernelWidth: 7, padding: 3),
        Case(batch: 2, channels: 2, filters: 4, height: 6, width: 11, kernelHeight: 1, kernelWidth: 1, padding: 0),
        Case(batch: 1, channels: 3, filters: 2, height: 7, width: 8, kernelHeight: 2, kernelWidth: 4, padding: 1),
        Case(batch: 2, channels: 2, filters: 6, height: 10, width: 5, kernelHeight: 4, kernelWidth: 2, padding: 0),
        // By rows (see `layouts`): W1's shape with rows of two whole vectors, and rows of 30 in
        // two vectors (2 zero lanes per row, where flat rows of 36 would waste more).
        Case(batch: 2, channels: 3, filters: 10, height: 32, width: 32, kernelHeight: 7, kernelWidth: 7, padding: 3),
        Case(batch: 1, channels: 2, filters: 9, height: 5, width: 30, kernelHeight: 7, kernelWidth: 7, padding: 3),
        // Planes already in the run's layout (rows of whole vectors, whole register tiles of
        // filters): dY is read where it is, not copied. W1's layer, and rows of one vector.
        Case(batch: 2, channels: 3, filters: 32, height: 32, width: 32, kernelHeight: 7, kernelWidth: 7, padding: 3),
        Case(batch: 3, channels: 2, filters: 8, height: 6, width: 16, kernelHeight: 3, kernelWidth: 3, padding: 1),
    ]

    static func values<Scalar: KernelScalar>(_ count: Int, seed: UInt64, as: Scalar.Type = Scalar.self) -> [Scalar] {
        var generator = GemmTests.SplitMix64(state: seed)
        return (0..<count).map { _ in Scalar(Double.random(in: -1...1, using: &generator)) }
    }

    /// Runs the kernel into dW holding `start`, with exactly `scratchCount` elements of scratch
    /// (filled with NaN, which must not leak into the result) followed by sentinels that must
    /// survive.
    static func direct<Scalar: KernelScalar>(
        _ input: [Scalar], _ outputGradient: [Scalar], start: [Scalar], case c: Case, family: KernelFamily = .current
    ) -> [Scalar] {
        let g = c.geometry
        let scratchCount = DirectWeightGradient.scratchCount(g, filters: c.filters)
        var scratch = [Scalar](repeating: .nan, count: scratchCount + 64)
        for i in scratchCount..<scratch.count { scratch[i] = 12345 }
        var weightGradient = start
        input.withUnsafeBufferPointer { x in
            outputGradient.withUnsafeBufferPointer { dy in
                weightGradient.withUnsafeMutableBufferPointer { dw in
                    scratch.withUnsafeMutableBufferPointer { s in
                        Scalar.convolutionWeightGradient(
                            input: x.baseAddress!, outputGradient: dy.baseAddress!, g, filters: c.filters,
                            addingTo: dw.baseAddress!, scratch: s.baseAddress!, family: family)
                    }
                }
            }
        }
        #expect(scratch[scratchCount...].allSatisfy { $0 == 12345 }, "scratch stays within scratchCount")
        return weightGradient
    }

    static func reference<Scalar: KernelScalar>(_ input: [Scalar], _ outputGradient: [Scalar], case c: Case) -> [Scalar]
    {
        var weightGradient = [Scalar](repeating: .nan, count: c.filters * c.channels * c.kernelHeight * c.kernelWidth)
        input.withUnsafeBufferPointer { x in
            outputGradient.withUnsafeBufferPointer { dy in
                weightGradient.withUnsafeMutableBufferPointer { dw in
                    naiveConvolutionWeightGradient(
                        input: x.baseAddress!, outputGradient: dy.baseAddress!, weightGradient: dw.baseAddress!,
                        filters: c.filters, geometry: c.geometry)
                }
            }
        }
        return weightGradient
    }

    static func operands<Scalar: KernelScalar>(_ c: Case, as: Scalar.Type) -> (input: [Scalar], gradient: [Scalar]) {
        let g = c.geometry
        return (
            values(g.inputCount, seed: 11, as: Scalar.self),
            values(c.batch * c.filters * g.outputPlane, seed: 12, as: Scalar.self)
        )
    }

    @Test("Double: equal to the reference loops to 1e-12, added to what dW held", arguments: cases)
    func double(_ c: Case) {
        let (x, dy) = Self.operands(c, as: Double.self)
        let expected = Self.reference(x, dy, case: c)
        let start = Self.values(expected.count, seed: 13, as: Double.self)
        let result = Self.direct(x, dy, start: start, case: c)
        for index in expected.indices {
            #expect(abs(result[index] - (start[index] + expected[index])) <= 1e-12, "dW[\(index)]")
        }
    }

    /// The recursive-summation bound: a sum of n products computed in float32 (lane partial
    /// sums, a tree over the lanes, one addition per call) is within n·u·Σ|products| of the
    /// exact sum (u = 2⁻²⁴), computed here with |X| and |dY| by the same reference loops. Every
    /// kernel family (the AVX-512 tile and the 256-bit passes, both run on any CPU) gives the
    /// same bits.
    @Test("Float: within the summation bound of the Double reference, every kernel family", arguments: cases)
    func float(_ c: Case) {
        let (x, dy) = Self.operands(c, as: Float.self)
        let zero = [Float](repeating: 0, count: c.filters * c.channels * c.kernelHeight * c.kernelWidth)
        let results = KernelFamily.allCases.map { Self.direct(x, dy, start: zero, case: c, family: $0) }
        #expect(results.allSatisfy { $0.map(\.bitPattern) == results[0].map(\.bitPattern) }, "families differ")
        let result = results[0]
        let exact = Self.reference(x.map(Double.init), dy.map(Double.init), case: c)
        let magnitude = Self.reference(x.map { abs(Double($0)) }, dy.map { abs(Double($0)) }, case: c)
        let terms = Double(c.batch * c.geometry.outputPlane + 8)
        for index in exact.indices {
            let bound = terms * Double(Float.ulpOfOne) / 2 * magnitude[index] + 1e-30
            #expect(abs(Double(result[index]) - exact[index]) <= bound, "dW[\(index)]")
        }
    }

    /// The plane layout takes whichever run has fewer vectors, and every vector's input offset
    /// is the position of its first lane in rows of S.
    @Test("plane layout: by rows where fewer vectors, offsets of the first lanes")
    func layouts() {
        let flat = Self.cases[4].geometry  // 28×28, 3×3: rows of S = 30, ⌈28·30/16⌉ = 53 < 28·2
        #expect(
            DirectPlaneLayout(flat)
                == DirectPlaneLayout(rowLength: 30, segmentVectors: 53, segments: 1, segmentStride: 848))
        let rows = Self.cases[11].geometry  // 32×32, 7×7: 32·2 = 64 < ⌈32·38/16⌉ = 76
        let layout = DirectPlaneLayout(rows)
        #expect(layout == DirectPlaneLayout(rowLength: 32, segmentVectors: 2, segments: 32, segmentStride: 38))
        for k in [0, 1, 2, 3, 63] {
            let (y, x) = (k * 16 / layout.rowLength, k * 16 % layout.rowLength)
            #expect(layout.inputOffset(vector: k) == y * 38 + x)
        }
        for k in [0, 5, 52, 60] { #expect(DirectPlaneLayout(flat).inputOffset(vector: k) == 16 * k) }
    }

    @Test("applies to stride 1, dilation 1, one group only")
    func applicability() {
        let base = Self.cases[2].geometry
        #expect(DirectWeightGradient.applies(to: base, groups: 1))
        #expect(!DirectWeightGradient.applies(to: base, groups: 3))
        var strided = base
        strided.strideWidth = 2
        #expect(!DirectWeightGradient.applies(to: strided, groups: 1))
        var dilated = base
        dilated.dilationHeight = 2
        #expect(!DirectWeightGradient.applies(to: dilated, groups: 1))
    }
}
