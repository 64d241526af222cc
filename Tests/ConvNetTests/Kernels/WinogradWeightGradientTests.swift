import Foundation
import Testing

@testable import ConvNetKernels

/// The Winograd weight gradient (`winogradWeightGradientSums` + `winogradWeightGradientFinish`,
/// F(2×2, 3×3) run backwards) against the reference loops (`naiveConvolutionWeightGradient`):
/// to 1e-12 in Double (the algorithm), within a stated bound in Float (its rounding); on odd
/// and even output sizes, paddings 0–2, channel and filter counts that do and do not fill a
/// vector, a micro-kernel panel or a tile block, and groups of images added into the same sums.
@Suite("Winograd weight gradient against the reference loops")
struct WinogradWeightGradientTests {
    typealias Case = DirectWeightGradientTests.Case

    static let cases: [Case] = [
        Case(batch: 1, channels: 1, filters: 1, height: 1, width: 1, kernelHeight: 3, kernelWidth: 3, padding: 1),
        Case(batch: 1, channels: 1, filters: 1, height: 3, width: 3, kernelHeight: 3, kernelWidth: 3, padding: 0),
        Case(batch: 2, channels: 3, filters: 5, height: 5, width: 7, kernelHeight: 3, kernelWidth: 3, padding: 1),
        Case(batch: 3, channels: 2, filters: 9, height: 13, width: 17, kernelHeight: 3, kernelWidth: 3, padding: 2),
        Case(batch: 2, channels: 17, filters: 24, height: 16, width: 16, kernelHeight: 3, kernelWidth: 3, padding: 1),
        Case(batch: 1, channels: 40, filters: 33, height: 11, width: 9, kernelHeight: 3, kernelWidth: 3, padding: 1),
        Case(batch: 2, channels: 64, filters: 16, height: 12, width: 20, kernelHeight: 3, kernelWidth: 3, padding: 0),
        Case(batch: 1, channels: 32, filters: 8, height: 32, width: 32, kernelHeight: 3, kernelWidth: 3, padding: 1),
    ]

    static func values<Scalar: KernelScalar>(_ count: Int, seed: UInt64, as: Scalar.Type = Scalar.self) -> [Scalar] {
        DirectWeightGradientTests.values(count, seed: seed, as: Scalar.self)
    }

    /// dW = `start` + the kernel's result, the images split into `groups` calls that add into the
    /// same sums; the scratch is exactly `scratchCount` elements (NaN-filled, which must not leak)
    /// followed by sentinels that must survive.
    static func winograd<Scalar: KernelScalar>(
        _ input: [Scalar], _ outputGradient: [Scalar], start: [Scalar], groups: Int = 1, case c: Case
    ) -> [Scalar] {
        let g = c.geometry
        let perGroup = (c.batch + groups - 1) / groups
        var piece = g
        piece.batch = perGroup
        let scratchCount = WinogradWeightGradient.scratchCount(piece, filters: c.filters)
        var scratch = [Scalar](repeating: .nan, count: scratchCount + 64)
        for i in scratchCount..<scratch.count { scratch[i] = 12345 }
        var sums = [Scalar](
            repeating: 0, count: WinogradWeightGradient.sumsCount(channels: c.channels, filters: c.filters))
        var weightGradient = start
        input.withUnsafeBufferPointer { x in
            outputGradient.withUnsafeBufferPointer { dy in
                scratch.withUnsafeMutableBufferPointer { s in
                    sums.withUnsafeMutableBufferPointer { m in
                        var n = 0
                        while n < c.batch {
                            piece.batch = min(perGroup, c.batch - n)
                            Scalar.winogradWeightGradientSums(
                                input: x.baseAddress! + n * g.channels * g.height * g.width,
                                outputGradient: dy.baseAddress! + n * c.filters * g.outputPlane, piece,
                                filters: c.filters, sums: m.baseAddress!, scratch: s.baseAddress!)
                            n += piece.batch
                        }
                    }
                }
            }
        }
        weightGradient.withUnsafeMutableBufferPointer { dw in
            Scalar.winogradWeightGradientFinish(
                sums: sums, filters: c.filters, channels: c.channels, addingTo: dw.baseAddress!)
        }
        #expect(scratch[scratchCount...].allSatisfy { $0 == 12345 }, "scratch stays within scratchCount")
        return weightGradient
    }

    @Test("Double: equal to the reference loops to 1e-12, added to what dW held", arguments: cases)
    func double(_ c: Case) {
        let (x, dy) = DirectWeightGradientTests.operands(c, as: Double.self)
        let expected = DirectWeightGradientTests.reference(x, dy, case: c)
        let start = Self.values(expected.count, seed: 13, as: Double.self)
        let result = Self.winograd(x, dy, start: start, case: c)
        for index in expected.indices {
            #expect(abs(result[index] - (start[index] + expected[index])) <= 1e-12, "dW[\(index)]")
        }
    }

    @Test("Double: images in groups add into the same sums", arguments: [cases[3], cases[4]])
    func groups(_ c: Case) {
        let (x, dy) = DirectWeightGradientTests.operands(c, as: Double.self)
        let zero = [Double](repeating: 0, count: c.filters * c.channels * 9)
        let whole = Self.winograd(x, dy, start: zero, case: c)
        let split = Self.winograd(x, dy, start: zero, groups: c.batch, case: c)
        let expected = DirectWeightGradientTests.reference(x, dy, case: c)
        for index in expected.indices {
            #expect(abs(split[index] - expected[index]) <= 1e-12, "dW[\(index)]")
            #expect(abs(split[index] - whole[index]) <= 1e-12, "dW[\(index)]")
        }
    }

    /// Float: each entry of M sums T products (T: the tiles) of transformed values, a signed
    /// sum of at most 4 dY values (weights at most 1) times a signed sum of at most 4 input
    /// values, and each entry of dW adds at most 9 entries of M. Bound, per entry: (T + 9)·u·16
    /// times the largest |dY|·|X| sum over the 9 taps of its filter and channel (u = 2⁻²⁴); the
    /// transforms pair values of neighbouring positions, whose magnitude sums are of that size.
    @Test("Float: within the summation bound of the Double reference", arguments: cases)
    func float(_ c: Case) {
        let (x, dy) = DirectWeightGradientTests.operands(c, as: Float.self)
        let zero = [Float](repeating: 0, count: c.filters * c.channels * 9)
        let result = Self.winograd(x, dy, start: zero, case: c)
        let exact = DirectWeightGradientTests.reference(x.map(Double.init), dy.map(Double.init), case: c)
        let magnitude = DirectWeightGradientTests.reference(
            x.map { abs(Double($0)) }, dy.map { abs(Double($0)) }, case: c)
        let (high, wide) = WinogradWeightGradient.tiles(c.geometry)
        let terms = Double(c.batch * high * wide + 9)
        var worst = 0.0
        for pair in 0..<(c.filters * c.channels) {
            let largest = magnitude[(pair * 9)..<(pair * 9 + 9)].max() ?? 0
            for index in (pair * 9)..<(pair * 9 + 9) {
                let error = abs(Double(result[index]) - exact[index])
                let bound = terms * Double(Float.ulpOfOne) / 2 * 16 * largest + 1e-30
                worst = max(worst, error / (Double(Float.ulpOfOne) / 2 * terms * largest + 1e-30))
                #expect(error <= bound, "dW[\(index)]: \(error) > \(bound)")
            }
        }
        print("Winograd dW Float \(c.testDescription): largest error / (terms·u·magnitude) = \(worst)")
    }

    @Test("applies to 3×3, stride 1, dilation 1, one group only")
    func applicability() {
        let base = Self.cases[2].geometry
        #expect(WinogradWeightGradient.applies(to: base, groups: 1))
        #expect(!WinogradWeightGradient.applies(to: base, groups: 3))
        var strided = base
        strided.strideWidth = 2
        #expect(!WinogradWeightGradient.applies(to: strided, groups: 1))
        let five = DirectWeightGradientTests.cases[6].geometry
        #expect(!WinogradWeightGradient.applies(to: five, groups: 1))
    }
}
